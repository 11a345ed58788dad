// Which counter rows cover a date range: the campaign's rows for no range,
// month rows for the whole months inside it, day rows for the partial months
// at its ends (see CounterSpan in ../responses/complete.ts).

const lastDayOf = (month: string) => {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return `${month}-${String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, '0')}`;
};

const nextMonth = (month: string, by: 1 | -1) => {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const d = new Date(Date.UTC(y, m - 1 + by, 1));
  return d.toISOString().slice(0, 7);
};

type Days = string | { $gte?: string; $lte?: string };
type SpanFilter = { day: Days; span?: 'month' };

/** The counter filter for days from `from` to `to` (YYYY-MM-DD, both included; either open). */
export function countersCovering(from?: string, to?: string): SpanFilter | { $or: SpanFilter[] } {
  if (!from && !to) return { day: '' };
  const fromMonth = from?.slice(0, 7);
  const toMonth = to?.slice(0, 7);
  if (from && to && fromMonth === toMonth && !(from.endsWith('-01') && to === lastDayOf(toMonth!))) return { day: { $gte: from, $lte: to } };
  const parts: SpanFilter[] = [];
  // Whole months: from the first one that starts at or after `from` to the last one that ends at or before `to`.
  const firstWhole = !from || from.endsWith('-01') ? fromMonth : nextMonth(fromMonth!, 1);
  const lastWhole = !to || to === lastDayOf(toMonth!) ? toMonth : nextMonth(toMonth!, -1);
  if (!firstWhole || !lastWhole || firstWhole <= lastWhole) {
    parts.push({ span: 'month', day: { ...(firstWhole ? { $gte: firstWhole } : {}), ...(lastWhole ? { $lte: lastWhole } : {}) } });
  }
  // Day rows (a full date sorts after its month's "YYYY-MM" row, so these bounds take days only).
  if (from && firstWhole !== fromMonth) parts.push({ day: { $gte: from, $lte: lastDayOf(fromMonth!) } });
  if (to && lastWhole !== toMonth) parts.push({ day: { $gte: `${toMonth}-01`, $lte: to } });
  return parts.length === 1 ? parts[0]! : { $or: parts };
}
