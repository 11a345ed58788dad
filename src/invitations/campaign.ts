// A campaign is data: units, fields, flows, quotas, deadlines, reminders and
// scoring rules. Next year's plan or another province is a new file, not code.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

const code = z.string().regex(/^[A-Za-z0-9_-]{2,32}$/, 'codes are 2-32 characters of A-Z a-z 0-9 _ -');
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'dates are YYYY-MM-DD');
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'times are HH:MM');
const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'an IANA time zone such as Asia/Ho_Chi_Minh');
/** "<unit>:<field>"; no "." or "$" (they cannot be MongoDB keys). */
/** A ZNS template approved for the OA, and what fills each of its parameters. */
const znsTemplate = z.strictObject({
  templateId: z.string().regex(/^\d{1,20}$/, 'the numeric id Zalo gave the approved template'),
  params: z.record(z.string().regex(/^[A-Za-z0-9_]{1,40}$/), z.enum(['code', 'unitName', 'caseCode', 'link', 'organization', 'expiresAt'])),
});

const unitFieldKey = z.string().regex(/^[A-Za-z0-9_-]{2,32}:[A-Za-z0-9_-]{2,32}$/, 'keys are "<unit code>:<field code>"');

export const campaignSchema = z
  .strictObject({
    id: code,
    name: z.string().min(1),
    /** Who runs it, as printed on slips ("Công an tỉnh Sóc Trăng"). */
    organization: z.string().min(1).max(120).default('Công an tỉnh'),
    period: z.strictObject({ from: date, to: date }),
    timezone: timezone.default('Asia/Ho_Chi_Minh'),
    fields: z.array(z.strictObject({ code, name: z.string().min(1) })).min(1),
    units: z.array(z.strictObject({ code, name: z.string().min(1), parent: code.optional(), fields: z.array(code).min(1) })).min(1),
    agencies: z.array(z.strictObject({ code, name: z.string().min(1) })).default([]),
    flows: z.strictObject({ citizen: z.string(), agency: z.string().optional(), audit: z.string().optional() }),
    /** Target ballots per unit and field; `default` applies where no row is given. */
    quotas: z.strictObject({ default: z.number().int().min(0), byUnitField: z.record(unitFieldKey, z.number().int().min(0).max(1_000_000)).default({}) }),
    deadlines: z.array(z.strictObject({ code, date, label: z.string() })).default([]),
    invitationLifetimeDays: z.number().positive().max(365, 'at most 365 days').default(14),
    sessionTtlDays: z.number().positive().max(90, 'at most 90 days').default(7),
    /** Minutes after opening an unfinished survey. */
    reminderDelaysMinutes: z
      .array(
        z
          .number()
          .int()
          .positive()
          .max(30 * 1440, 'at most 30 days'),
      )
      .max(5)
      .default([120, 1440]),
    quietHours: z.strictObject({ from: hhmm, to: hhmm }).default({ from: '21:00', to: '07:00' }),
    /** ZNS templates (to a phone the officer entered): the invitation of a survey never opened, a reminder, post-audit verification. */
    zns: z.strictObject({ invitation: znsTemplate.optional(), reminder: znsTemplate.optional(), verification: znsTemplate.optional() }).default({}),
    scoring: z
      .strictObject({
        rule: z.enum(['proportional', 'banded']).default('proportional'),
        maxPoints: z.number().positive().default(1),
        bands: z.array(z.strictObject({ minRate: z.number().min(0).max(100), points: z.number().min(0) })).default([]),
      })
      .default({ rule: 'proportional', maxPoints: 1, bands: [] }),
  })
  .superRefine((c, ctx) => {
    const fields = new Set(c.fields.map((f) => f.code));
    c.units.forEach((u, i) => {
      u.fields.forEach((f, j) => {
        if (!fields.has(f)) ctx.addIssue({ code: 'custom', path: ['units', i, 'fields', j], message: `unknown field "${f}"` });
      });
    });
  });

export type Campaign = z.output<typeof campaignSchema>;

export class CampaignFileError extends Error {
  override name = 'CampaignFileError';
}

export function loadCampaignFiles(dir: string): Campaign[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => {
      const parsed = campaignSchema.safeParse(parse(readFileSync(join(dir, f), 'utf8')));
      if (!parsed.success) {
        throw new CampaignFileError(`${join(dir, f)}:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(top)'}: ${i.message}`).join('\n')}`);
      }
      return parsed.data;
    });
}

export const unitOf = (c: Campaign, unit: string) => c.units.find((u) => u.code === unit);

/** Whether the campaign's period ended before `now` (in its time zone): it may still run, e.g. for training. */
export function periodOver(c: Campaign, now: number): boolean {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: c.timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  return c.period.to < today;
}
