// Recomputes report counters from the responses and compares them with the
// incremental ones; `--fix` rewrites the counters of the campaign.
import { readSplit, repairSplit } from '../campaign-rows.js';
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import { inTurn, takeOver } from '../write-turns.js';
import { commentsOf } from './comment-samples.js';
import {
  type CountedResponse,
  type CounterSpan,
  claimName,
  clearClaim,
  counterCollections,
  counterId,
  counterModel,
  counterRows,
  withCountersPaused,
} from './complete.js';

export interface CounterCheck {
  rows: number;
  mismatches: Array<{ id: string; expected: number; actual: number }>;
}

type Row = ReturnType<typeof counterRows>[number];

/** The counter rows these responses add up to, with their counts (by counter id). */
export function recount(responses: Iterable<CountedResponse>, into = new Map<string, { n: number; row: Row }>()) {
  for (const r of responses) {
    for (const row of counterRows(r)) {
      const cur = into.get(row._id);
      if (cur) cur.n += 1;
      else into.set(row._id, { n: 1, row });
    }
  }
  return into;
}

/**
 * Recounts the campaign's counters from its valid ballots and compares. It runs between the counter writes of every
 * process (this one's paused, the others' in turn), so each claim is either written and its mark gone, or not written
 * yet. A ballot still marked is counted as it stood before its claim, which its writer (or the repair, if its writer
 * died) applies afterwards: a valid one (completed, or put back) is left out, an invalidated one is still counted.
 * `fix`: rewrites the rows that differ.
 */
export function checkCounters(models: Models, campaign: string, fix = false): Promise<CounterCheck> {
  return withCountersPaused(models, () => inTurn(models, 'counters', () => recountCampaign(models, campaign, fix)));
}

async function recountCampaign(models: Models, campaign: string, fix: boolean): Promise<CounterCheck> {
  const expected = new Map<string, { n: number; row: Row }>();
  const counted = { campaign, status: 'valid' as const, countersPending: { $exists: false } };
  for await (const r of models.Response.find(counted).lean().cursor()) recount([r as CountedResponse], expected);
  // Invalidated by a verdict whose subtraction is still to be written (a ballot of an early version, never counted, has
  // nothing to subtract).
  recount(
    (await models.Response.find({ campaign, status: 'invalidated', countersPending: true, countersApplied: true }).lean()) as CountedResponse[],
    expected,
  );
  // A row in the wrong collection counts as missing (and moves with --fix).
  const c = counterCollections(models);
  const { where, placed } = await readSplit<Row & { n?: number }>(c, campaign);

  const mismatches: CounterCheck['mismatches'] = [];
  for (const id of new Set([...expected.keys(), ...where.keys()])) {
    const e = expected.get(id)?.n ?? 0;
    const a = placed.get(id)?.n ?? 0;
    if (e !== a || (!placed.has(id) && where.has(id))) mismatches.push({ id, expected: e, actual: a });
  }
  if (fix && mismatches.length) {
    await repairSplit(
      c,
      mismatches.map((m) => m.id),
      where,
      (id) => {
        const e = expected.get(id);
        return e && { span: e.row.span, set: { ...e.row, n: e.n } };
      },
    );
    // Ballots of an earlier version, stored before their counters were claimed: counted now.
    await models.Response.updateMany({ ...counted, countersApplied: false }, { $set: { countersApplied: true } });
  }
  return { rows: expected.size, mismatches };
}

/**
 * Responses whose counters were claimed but never confirmed before `before`:
 * their process died between the claim and the write, which may or may not
 * have landed. Each slice of counters they touch (campaign, unit, field,
 * questionnaire version, span: the day, its month, the campaign; respondent
 * type, procedure) is set again, between the counter writes of every process
 * (this one's paused, the others' in turn): a day's from its ballots, a
 * month's from its days, the campaign's from its months. A ballot
 * claimed since `before` is counted as it stood before its claim: its writer
 * applies the claim afterwards. One claimed earlier is counted as it stands,
 * and its writer, if it was only slow, leaves it out (see write-turns.ts).
 * Returns how many responses it settled.
 */
export async function repairPendingCounters(models: Models, before: Date): Promise<number> {
  const { Response } = models;
  // By the flag, then by age here: FerretDB hands an equality to PostgreSQL, and read every ballot for a date range.
  const pending = (await Response.find({ countersPending: true }).lean()).filter((r) => r.countersPendingAt && r.countersPendingAt < before);
  if (!pending.length) return 0;
  // A turn per step, not one for the whole repair: recounting a slice reads its rows or a day's ballots (a second on
  // FerretDB), and the ballots being recorded meanwhile wait for the turn. Between two steps a batch may land: for a
  // ballot claimed since `before`, which a slice recounted later then counts as it stands (its mark gone), or for one
  // taken over, which it leaves out; a slice recounted is set whole, so either way it is right.
  const inCountersTurn = <T>(fn: (lost: AbortSignal) => Promise<T>) => withCountersPaused(models, () => inTurn(models, 'counters', fn));
  // First: a writer that was only slow, not dead, then leaves its claim out when its turn comes (also if this repair
  // stops half way: the next one recounts the slices).
  const claims = pending.map((r) => ({ id: r._id, at: r.countersPendingAt! }));
  await inCountersTurn(() => takeOver(models, 'counters', claims.map(claimName)));
  // A slice at each span: the ballot's day, its month, the whole campaign. Days first, each recounted from its ballots;
  // then each month from its day rows, then the campaign from its month rows (a batch writes a ballot's three spans in
  // one turn, so they agree): a repair reads a day's ballots, not the unit's whole campaign (22 s for a slice of 20,000
  // ballots on FerretDB, the counters' turn held throughout).
  const slices = new Map<string, { r: CountedResponse; row: Row }>();
  for (const r of pending) {
    for (const row of counterRows(r as CountedResponse)) {
      slices.set([...Object.values(sliceOf(row)), row.span, row.day].join('|'), { r: r as CountedResponse, row });
    }
  }
  const inSpan = (span: CounterSpan) => [...slices.values()].filter((s) => s.row.span === span);
  for (const { r, row } of inSpan('day')) {
    await inCountersTurn(async (lost) => {
      const ballots = await Response.find({
        campaign: r.campaign,
        unit: r.unit,
        field: r.field ?? null,
        flow: r.flow,
        flowVersion: r.flowVersion,
        day: row.day,
        rtype: r.rtype ?? null,
        procedureCode: r.procedureCode ?? null,
        countersApplied: true,
      }).lean();
      // A live writer's claim is not applied yet: its ballot (completed or put back: valid; invalidated) counts as before it.
      const live = (b: (typeof ballots)[number]) => b.countersPending === true && b.countersPendingAt! >= before;
      const counted = ballots.filter((b) => (b.status === 'valid' ? !live(b) : live(b)));
      const expected = new Map([...recount(counted as Array<CountedResponse>)].filter(([, e]) => e.row.span === 'day'));
      await setSlice(models, row, expected, lost);
    });
  }
  // The rows a month adds up (its days), and the campaign (its months).
  const partsOf = (row: Row) =>
    row.span === 'month' ? { ...sliceOf(row), span: 'day', day: { $gte: `${row.day}-01`, $lte: `${row.day}-31` } } : { ...sliceOf(row), span: 'month' };
  for (const { row } of [...inSpan('month'), ...inSpan('all')]) {
    await inCountersTurn(async (lost) => {
      const expected = new Map<string, { n: number; row: Row }>();
      for (const part of await models.Counter.find(partsOf(row)).lean()) {
        const sum = { ...row, q: part.q!, value: part.value! };
        sum._id = counterId(sum);
        const cur = expected.get(sum._id);
        if (cur) cur.n += part.n;
        else expected.set(sum._id, { n: part.n, row: sum });
      }
      await setSlice(models, row, expected, lost);
    });
  }
  // The marks go last: a repair that stops before leaves them, and the next one recounts the same slices.
  await inCountersTurn(() => Response.bulkWrite(claims.map(clearClaim), { ordered: false }));
  return pending.length;
}

/** What names a slice of counter rows: all but the span, the question and the answer. */
const sliceOf = (row: Row) => ({ campaign: row.campaign, unit: row.unit, field: row.field, flow: row.flow, rtype: row.rtype, proc: row.proc });

/** Sets a slice's rows (`row`: one of them) to `expected`, and its other stored rows to 0. */
async function setSlice(models: Models, row: Row, expected: Map<string, { n: number; row: Row }>, lost: AbortSignal): Promise<void> {
  const Counter = counterModel(models, row.span);
  const stored = await Counter.find({ ...sliceOf(row), day: row.day }).lean();
  const ops = [
    ...[...expected.values()].map(({ row: { _id, ...fields }, n }) => ({
      updateOne: { filter: { _id }, update: { $set: { ...fields, n } }, upsert: true },
    })),
    ...stored.filter((c) => !expected.has(String(c._id))).map((c) => ({ updateOne: { filter: { _id: c._id }, update: { $set: { n: 0 } } } })),
  ];
  // A turn lost stops the repair (its marks stay: the next one recounts these slices).
  lost.throwIfAborted();
  if (ops.length) await Counter.bulkWrite(ops, { ordered: false });
}

/**
 * Runs repairPendingCounters every `everyMs` for marks older than `afterMs`
 * (a live writer clears its marks within seconds). Returns the stop function.
 */
export function startCounterRepair(models: Models, everyMs: number, afterMs: number, report: (repaired: number, err?: Error) => void): () => void {
  // One repair at a time: one that outlasts the interval (a large slice on a slow database) is not joined by
  // another recounting the same slices, each queueing for the turn ahead of the ballots being recorded.
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void repairPendingCounters(models, new Date(Date.now() - afterMs))
      .then(
        (n) => n && report(n),
        (err: Error) => report(0, err),
      )
      .finally(() => {
        running = false;
      });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Ballots stored before the `commented` mark existed: without it their
 * free-text answers would not reach the reports' comments. With `fix`, sets
 * it; returns how many ballots lacked it.
 */
export async function markCommented(models: Models, flows: FlowRegistry, campaign: string, fix = false): Promise<number> {
  let missing = 0;
  const writes: Array<{ updateOne: { filter: { _id: unknown }; update: { $set: { commented: boolean } } } }> = [];
  for await (const r of models.Response.find({ campaign, commented: { $exists: false } }, { answers: 1, flow: 1, flowVersion: 1 })
    .lean()
    .cursor()) {
    missing++;
    writes.push({
      updateOne: { filter: { _id: r._id }, update: { $set: { commented: commentsOf(flows.get(`${r.flow}@${r.flowVersion}`), r.answers).length > 0 } } },
    });
    if (fix && writes.length >= 500) await models.Response.bulkWrite(writes.splice(0));
  }
  if (fix && writes.length) await models.Response.bulkWrite(writes);
  return missing;
}
