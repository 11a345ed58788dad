// How many case invitations were created and opened, and how many ballots were
// invalidated by post-audit, kept as counts (per unit, field and day, rolled up
// by month and campaign) so that Mẫu 01's table A reads a bounded number of
// rows however many invitations there are. An invitation counts on the day it
// was created; an invalidated ballot on the day it was completed (as the
// ballots' own counters do).
// The processes add to them one batch at a time (see MergedBatches and
// write-turns.ts); a crash between the invitation's write and its count is
// repaired by `counters:check --fix` (checkInvitationCounts). An invitation's
// event is claimed as "<id>:<event>", a post-audit verdict as
// "<ballot>:verdict@<time>": the fix, which counts from the invitations and
// ballots themselves, takes over the recent ones it counted, and a batch still
// waiting with one of them leaves it out (else it was counted twice).
import { readSplit, repairSplit, type SplitRows, writeSplit } from '../campaign-rows.js';
import { dayIn } from '../days.js';
import type { Models } from '../db.js';
import { MergedBatches } from '../merged-batches.js';
import { inTurn, takenOver, takeOver } from '../write-turns.js';

export type CountEvent = 'created' | 'opened' | 'invalidated';
export type InvitationEvent = Exclude<CountEvent, 'invalidated'>;

/** Where something is counted. */
interface CountedPlace {
  campaign: string;
  unit: string;
  field?: string | null;
}

/** What an invitation's count rows are made of. */
export interface CountedInvitation extends CountedPlace {
  createdAt: Date;
}

/** The rows of a place on a day: that day, its month, the campaign. */
function countRowsOn(p: CountedPlace, day: string) {
  const field = p.field ?? '';
  return (
    [
      ['day', day],
      ['month', day.slice(0, 7)],
      ['all', ''],
    ] as const
  ).map(([span, d]) => ({ _id: [p.campaign, p.unit, field, d].join('|'), campaign: p.campaign, unit: p.unit, field, day: d, span }));
}

/** The rows an invitation adds to: its creation day, that month, the campaign. */
export const invitationCountRows = (inv: CountedInvitation, timezone: string) => countRowsOn(inv, dayIn(timezone, inv.createdAt.getTime()));

type Row = ReturnType<typeof countRowsOn>[number];
type Tally = { row: Row } & Record<CountEvent, number>;
/** A batch: the additions per row, and the invitation events in them (`<id>:<event>`), which the fix may take over. */
interface CountBatch {
  tallies: Map<string, Tally>;
  claims: Array<{ id: string; rows: Row[]; event: CountEvent; by: 1 | -1 }>;
}

/** An event counted by the fix this long after it may still have its own addition waiting: far longer than a batch waits for its turn (2 min). */
const TAKE_OVER_RECENT_MS = 15 * 60_000;

/** The invitation counts: the campaign's rows (span 'all') in a collection of their own (see InvitationCountTotal). */
export const countCollections = (models: Models): SplitRows => ({ spans: models.InvitationCount, totals: models.InvitationCountTotal });

const writers = new WeakMap<Models, MergedBatches<CountBatch>>();

/** Adds one invitation's event to its rows; concurrent calls in this process are merged into one batch. */
export const countInvitation = (models: Models, inv: CountedInvitation & { _id: unknown }, event: InvitationEvent, timezone: string) =>
  addToCounts(models, invitationCountRows(inv, timezone), event, 1, `${String(inv._id)}:${event}`);

/** How a verdict on a ballot (its time: `verdictAt`) is named to the fix. */
const verdictClaim = (ballot: unknown, at: Date) => `${String(ballot)}:verdict@${at.getTime()}`;

/** Counts a ballot invalidated by post-audit (`by` -1: put back), on its completion day; `verdict`: the ballot and `verdictAt`. */
export const countInvalidated = (models: Models, ballot: CountedPlace & { day: string }, by: 1 | -1, verdict: { id: unknown; at: Date }) =>
  addToCounts(models, countRowsOn(ballot, ballot.day), 'invalidated', by, verdictClaim(verdict.id, verdict.at));

function addToCounts(models: Models, rows: Row[], event: CountEvent, by: 1 | -1, claim: string): Promise<void> {
  let writer = writers.get(models);
  if (!writer) {
    writer = new MergedBatches<CountBatch>(
      () => ({ tallies: new Map(), claims: [] }),
      (batch) =>
        inTurn(models, 'invitation-counts', async (lost) => {
          // An event the fix counted while this batch waited is in the rows already: left out.
          const taken = await takenOver(
            models,
            'invitation-counts',
            batch.claims.map((c) => c.id),
          );
          for (const c of batch.claims) if (taken.has(c.id)) for (const row of c.rows) batch.tallies.get(row._id)![c.event] -= c.by;
          lost.throwIfAborted();
          await writeSplit(
            countCollections(models),
            [...batch.tallies.values()].sort((a, b) => (a.row._id < b.row._id ? -1 : 1)),
            (t) => t.row.span,
            (model, tallies) =>
              model.bulkWrite(
                tallies.map(({ row: { _id, ...fields }, created, opened, invalidated }) => ({
                  updateOne: { filter: { _id }, update: { $setOnInsert: fields, $inc: { created, opened, invalidated } }, upsert: true },
                })),
                { ordered: false },
              ),
          );
        }),
    );
    writers.set(models, writer);
  }
  return writer.add((batch) => {
    for (const row of rows) {
      const cur = batch.tallies.get(row._id) ?? { row, created: 0, opened: 0, invalidated: 0 };
      cur[event] += by;
      batch.tallies.set(row._id, cur);
    }
    batch.claims.push({ id: claim, rows, event, by });
  });
}

const EVENTS: CountEvent[] = ['created', 'opened', 'invalidated'];

/**
 * Recounts the campaign's case invitations and invalidated ballots, and
 * compares with the stored counts (created/opened/invalidated); `fix` rewrites
 * those that differ.
 */
export function checkInvitationCounts(models: Models, campaign: string, timezone: string, fix = false): Promise<InvitationCountCheck> {
  // Between count batches (this process's and, in turn, the others'): no batch is half written while rows are read.
  // A batch still waiting leaves out the recent events the fix counted (see TAKE_OVER_RECENT_MS).
  const recount = () => inTurn(models, 'invitation-counts', () => recountInvitations(models, campaign, timezone, fix));
  const writer = writers.get(models);
  return writer ? writer.exclusive(recount) : recount();
}

export interface InvitationCountCheck {
  rows: number;
  mismatches: Array<{ id: string; expected: number[]; actual: number[] }>;
}

async function recountInvitations(models: Models, campaign: string, timezone: string, fix: boolean): Promise<InvitationCountCheck> {
  const expected = new Map<string, Tally>();
  const add = (rows: Row[], event: CountEvent) => {
    for (const row of rows) {
      const cur = expected.get(row._id) ?? { row, created: 0, opened: 0, invalidated: 0 };
      cur[event] += 1;
      expected.set(row._id, cur);
    }
  };
  /** The recent events counted here: their own additions may still be waiting (taken over by a fix). */
  const recent: string[] = [];
  const since = Date.now() - TAKE_OVER_RECENT_MS;
  for await (const inv of models.Invitation.find({ campaign, kind: { $ne: 'agency' } }, { campaign: 1, unit: 1, field: 1, createdAt: 1, openedAt: 1 })
    .lean()
    .cursor()) {
    const rows = invitationCountRows(inv as CountedInvitation, timezone);
    add(rows, 'created');
    if (inv.createdAt.getTime() >= since) recent.push(`${String(inv._id)}:created`);
    if (!inv.openedAt) continue;
    add(rows, 'opened');
    if (inv.openedAt.getTime() >= since) recent.push(`${String(inv._id)}:opened`);
  }
  // Invalidated ballots are few (post-audit verdicts); in the same read, those with a recent verdict (put back too).
  const judged = models.Response.find({ campaign, kind: { $ne: 'agency' }, $or: [{ status: 'invalidated' }, { verdictAt: { $gte: new Date(since) } }] });
  for (const r of await judged.select({ campaign: 1, unit: 1, field: 1, day: 1, status: 1, verdictAt: 1 }).lean()) {
    if (r.status === 'invalidated' && r.day) add(countRowsOn(r as CountedPlace, r.day), 'invalidated');
    if (r.verdictAt && r.verdictAt.getTime() >= since) recent.push(verdictClaim(r._id, r.verdictAt));
  }
  const c = countCollections(models);
  const { where, placed } = await readSplit<Row & Partial<Record<CountEvent, number>>>(c, campaign);
  const mismatches: InvitationCountCheck['mismatches'] = [];
  for (const id of new Set([...expected.keys(), ...where.keys()])) {
    const e = expected.get(id);
    const a = placed.get(id);
    const want = EVENTS.map((ev) => e?.[ev] ?? 0);
    const got = EVENTS.map((ev) => a?.[ev] ?? 0);
    if (want.some((n, i) => n !== got[i]) || (!a && where.has(id))) mismatches.push({ id, expected: want, actual: got });
  }
  if (fix && mismatches.length) {
    // First, as the counters' repair does: a fix that stops half way leaves counts short, which the next one repairs.
    await takeOver(models, 'invitation-counts', recent);
    await repairSplit(
      c,
      mismatches.map((m) => m.id),
      where,
      (id) => {
        const e = expected.get(id);
        return e && { span: e.row.span, set: { ...e.row, created: e.created, opened: e.opened, invalidated: e.invalidated } };
      },
    );
  }
  return { rows: expected.size, mismatches };
}
