// A campaign is data: units, fields, flows, quotas, deadlines, reminders and
// scoring rules. Next year's plan or another province is a new file, not code.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { dayIn } from '../days.js';

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
    fields: z
      .array(
        z.strictObject({
          code,
          name: z.string().min(1),
          /** The field's procedures as a coded list, offered on /officer (free text stays possible). */
          procedures: z.array(z.strictObject({ code, name: z.string().min(1).max(300) })).default([]),
        }),
      )
      .min(1),
    /**
     * Units form a tree through `parent` (any depth): province departments and
     * districts under the province police, communes under districts (2024), or
     * communes directly under the province (2025). A unit with no field only groups others.
     */
    units: z
      .array(
        z.strictObject({
          code,
          name: z.string().min(1),
          parent: code.optional(),
          fields: z.array(code).default([]),
          /** Share (0-1) of this unit's target per field passed on to its sub-units handling that field ("theo tỷ lệ quy định"). */
          passDown: z.number().min(0).max(1).optional(),
          /** This unit's weight when its parent's share is split among siblings. */
          weight: z.number().positive().default(1),
        }),
      )
      .min(1),
    /** Agencies giving their opinion (Phụ lục 01b), each assessing one police unit. */
    agencies: z
      .array(z.strictObject({ code, name: z.string().min(1), level: z.enum(['province', 'district', 'commune']).default('province'), assesses: code }))
      .default([]),
    /** The period the agencies' opinion covers (2024: 15/9/2023 to 14/9/2024). */
    opinionPeriod: z.strictObject({ from: date, to: date }).optional(),
    /** Days after the last deadline that respondents' contacts are kept (for post-audit), then purged. */
    contactRetentionDays: z.number().int().min(0).max(365).default(30),
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
    /**
     * Points for the reform ranking (Mẫu 01 table G). Each criterion scores one
     * rate: the index (mean of the elements), the pooled rate, or the overall
     * question's; `rule` and `maxPoints` default to the scoring's own.
     */
    scoring: z
      .strictObject({
        rule: z.enum(['proportional', 'banded']).default('proportional'),
        maxPoints: z.number().positive().default(1),
        bands: z.array(z.strictObject({ minRate: z.number().min(0).max(100), points: z.number().min(0) })).default([]),
        criteria: z
          .array(
            z.strictObject({
              code,
              name: z.string().min(1),
              source: z.enum(['index', 'pooled', 'overall']),
              rule: z.enum(['proportional', 'banded']).optional(),
              maxPoints: z.number().positive().optional(),
            }),
          )
          .default([{ code: 'hl-index', name: 'Chỉ số hài lòng về giải quyết thủ tục hành chính', source: 'index' }]),
      })
      .default({
        rule: 'proportional',
        maxPoints: 1,
        bands: [],
        criteria: [{ code: 'hl-index', name: 'Chỉ số hài lòng về giải quyết thủ tục hành chính', source: 'index' }],
      }),
    /** Where PV01 gets alerts and the daily digest: a chat of one of the channels (a Telegram chat id, a Zalo user id). */
    pv01Chat: z.strictObject({ channel: z.string().min(1), chat: z.string().min(1).max(64) }).optional(),
    /** Report column titles and order per table (reports/columns.ts has the defaults: the plan's templates are not public). */
    reportColumns: z.record(z.string(), z.array(z.strictObject({ key: z.string(), title: z.string().min(1) })).min(1)).default({}),
  })
  .superRefine((c, ctx) => {
    const fields = new Set(c.fields.map((f) => f.code));
    const units = new Map<string, number>();
    c.units.forEach((u, i) => {
      if (units.has(u.code)) ctx.addIssue({ code: 'custom', path: ['units', i, 'code'], message: `duplicate unit "${u.code}"` });
      units.set(u.code, i);
      u.fields.forEach((f, j) => {
        if (!fields.has(f)) ctx.addIssue({ code: 'custom', path: ['units', i, 'fields', j], message: `unknown field "${f}"` });
      });
    });
    c.units.forEach((u, i) => {
      if (u.parent && !units.has(u.parent)) ctx.addIssue({ code: 'custom', path: ['units', i, 'parent'], message: `unknown parent unit "${u.parent}"` });
      // Walking up must reach a root: a unit that is its own ancestor would never be in anyone's scope.
      const seen = new Set([u.code]);
      for (let p = u.parent; p && units.has(p); p = c.units[units.get(p)!]!.parent) {
        if (seen.has(p)) {
          ctx.addIssue({ code: 'custom', path: ['units', i, 'parent'], message: `units ${[...seen].join(' > ')} form a loop` });
          break;
        }
        seen.add(p);
      }
    });
    const agencies = new Set<string>();
    c.agencies.forEach((a, i) => {
      if (agencies.has(a.code)) ctx.addIssue({ code: 'custom', path: ['agencies', i, 'code'], message: `duplicate agency "${a.code}"` });
      agencies.add(a.code);
      if (!units.has(a.assesses)) ctx.addIssue({ code: 'custom', path: ['agencies', i, 'assesses'], message: `unknown unit "${a.assesses}"` });
    });
    for (const key of Object.keys(c.quotas.byUnitField)) {
      const [unit, field] = key.split(':') as [string, string];
      const u = c.units[units.get(unit) ?? -1];
      if (!u?.fields.includes(field))
        ctx.addIssue({ code: 'custom', path: ['quotas', 'byUnitField', key], message: `unit ${unit} does not handle field ${field}` });
    }
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

/** `unit` and every unit under it, at any depth. */
export function unitAndBelow(c: Campaign, unit: string): Set<string> {
  const scope = new Set([unit]);
  // Parents may be listed after their children: repeat until no unit joins.
  for (let grew = true; grew; ) {
    grew = false;
    for (const u of c.units) {
      if (u.parent && scope.has(u.parent) && !scope.has(u.code)) {
        scope.add(u.code);
        grew = true;
      }
    }
  }
  return scope;
}

export interface Allocation {
  unit: string;
  field: string;
  /** The target before any share is passed down (explicit, the default, or the share received from the parent). */
  quota: number;
  /** Received from the parent's share. */
  received: number;
  /** Passed on to sub-units. */
  passedDown: number;
  /** What the unit itself collects: quota - passedDown. */
  target: number;
}

/**
 * Target ballots per unit and field. A unit's quota is its explicit
 * `byUnitField` row, else its share of the parent's `passDown`, else the
 * default. A parent's share is split among the sub-units handling the field by
 * weight, largest remainder first, so the shares add up exactly.
 */
export function allocateQuotas(c: Campaign): Allocation[] {
  const children = new Map<string, Campaign['units']>();
  for (const u of c.units) if (u.parent) children.set(u.parent, [...(children.get(u.parent) ?? []), u]);
  const received = new Map<string, number>();
  const rows: Allocation[] = [];
  const visit = (u: Campaign['units'][number]) => {
    for (const field of u.fields) {
      const key = `${u.code}:${field}`;
      const explicit = c.quotas.byUnitField[key];
      const got = received.get(key);
      const quota = explicit ?? got ?? c.quotas.default;
      const takers = (children.get(u.code) ?? []).filter((k) => k.fields.includes(field) && c.quotas.byUnitField[`${k.code}:${field}`] === undefined);
      const pool = u.passDown && takers.length ? Math.round(quota * u.passDown) : 0;
      for (const [k, n] of splitByWeight(pool, takers)) received.set(`${k.code}:${field}`, n);
      rows.push({ unit: u.code, field, quota, received: explicit === undefined ? (got ?? 0) : 0, passedDown: pool, target: quota - pool });
    }
    for (const k of children.get(u.code) ?? []) visit(k);
  };
  for (const u of c.units) if (!u.parent) visit(u);
  return rows;
}

function splitByWeight<T extends { weight: number }>(total: number, takers: T[]): Array<[T, number]> {
  if (!takers.length) return [];
  const sum = takers.reduce((a, k) => a + k.weight, 0);
  const exact = takers.map((k) => (total * k.weight) / sum);
  const shares = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - shares[i]!, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let left = total - shares.reduce((a, b) => a + b, 0), j = 0; left > 0; left--, j++) shares[order[j]![1]]! += 1;
  return takers.map((k, i) => [k, shares[i]!]);
}

/** Whether the campaign's period ended before `now` (in its time zone): it may still run, e.g. for training. */
export function periodOver(c: Campaign, now: number): boolean {
  const today = dayIn(c.timezone, now);
  return c.period.to < today;
}
