// When reminders go out: after the campaign's delays, moved out of quiet hours
// (local time of the campaign) to the next morning. Pure: the clock is an argument.

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes east of UTC of `tz` at instant `at` (Asia/Ho_Chi_Minh: +420). */
export function utcOffsetMinutes(tz: string, at: number): number {
  let format = formatters.get(tz);
  if (!format) {
    // Building a formatter is costly; one per time zone is kept.
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, format);
  }
  const parts = format.formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(at / 1000) * 1000) / 60_000);
}

const toMinutes = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
};

/** `at`, or the end of the quiet period when `at` falls inside it (quiet hours may span midnight). */
export function outsideQuietHours(at: number, tz: string, quiet: { from: string; to: string }): number {
  const offset = utcOffsetMinutes(tz, at);
  const local = at + offset * 60_000;
  const minuteOfDay = Math.floor((local % 86_400_000) / 60_000);
  const from = toMinutes(quiet.from);
  const to = toMinutes(quiet.to);
  const quietNow = from <= to ? minuteOfDay >= from && minuteOfDay < to : minuteOfDay >= from || minuteOfDay < to;
  if (!quietNow) return at;
  const dayStart = local - (local % 86_400_000);
  // The end of this quiet period: today at `to` if we are past midnight, else tomorrow at `to`.
  const endLocal = dayStart + to * 60_000 + (from > to && minuteOfDay >= from ? 86_400_000 : 0);
  return endLocal - offset * 60_000;
}

/** The instants of the reminders of a survey opened at `openedAt`. */
export function reminderTimes(openedAt: number, delaysMinutes: number[], tz: string, quiet: { from: string; to: string }): number[] {
  return delaysMinutes.map((d) => outsideQuietHours(openedAt + d * 60_000, tz, quiet));
}
