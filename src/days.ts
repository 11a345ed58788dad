// Calendar days as people in the campaign's time zone count them.
import { z } from 'zod';

/** Formatters are costly to build: one per time zone. */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The day of `at` in `timezone`, YYYY-MM-DD. */
export function dayIn(timezone: string, at: number): string {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timezone, f);
  }
  return f.format(at);
}

/** dd/mm/yyyy, as dates are written for people. */
export const dmy = (isoDate: string) => isoDate.split('-').reverse().join('/');

/** A calendar day written YYYY-MM-DD, as requests carry it ("2024-02-30" is refused). */
export const calendarDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD')
  .refine((d) => {
    const t = Date.parse(`${d}T00:00:00Z`);
    return !Number.isNaN(t) && new Date(t).toISOString().startsWith(d);
  }, 'not a calendar date');
