// Completion: a finished survey becomes exactly one response document.
// The unique index on invitationId makes a redelivered or doubled completion a
// no-op; counters are claimed once per response, so they are never doubled.

import { placeOf, type SplitRows, writeSplit } from '../campaign-rows.js';
import { dayIn } from '../days.js';
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import { MergedBatches } from '../merged-batches.js';
import type { CompletionJob } from '../queues/jobs.js';
import { inTurn, takenOver } from '../write-turns.js';
import { commentsOf, sampleComments } from './comment-samples.js';

export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

export type PersistOutcome = 'created' | 'existed';

export async function persistCompletion(models: Models, flows: FlowRegistry, job: CompletionJob): Promise<PersistOutcome> {
  const { Response, Invitation } = models;
  const inv = await Invitation.findById(job.ref).lean();
  if (!inv) throw new PermanentJobError(`completion for unknown invitation ${job.ref}`);
  const flow = flows.get(job.flow);

  const answers = flow.questions
    .filter((q) => q.id in job.answers)
    .map((q) => {
      const value = job.answers[q.id] ?? null;
      const label = flow.optionsOf.get(q.id)?.find((o) => o.value === value)?.label;
      return { q: q.id, value, ...(label ? { label } : {}) };
    });

  const campaign = await campaignOf(models, inv.campaign);
  // Who answered: a citizen or an organization's representative, or an agency of a level ("agency-province").
  const rtype = inv.agency ? `agency-${campaign.agencyLevel.get(inv.agency) ?? ''}` : String(job.answers.respondent_type ?? '');
  let outcome: PersistOutcome = 'created';
  const ballot = {
    invitationId: job.ref,
    kind: inv.kind ?? 'citizen',
    campaign: inv.campaign,
    unit: inv.unit,
    field: inv.field,
    procedure: inv.procedure,
    procedureCode: inv.procedureCode,
    submittedVia: inv.submittedVia,
    agency: inv.agency,
    ...(job.lang ? { lang: job.lang } : {}),
    caseCode: inv.caseCode,
    channel: job.channel,
    respondent: job.respondent,
    ...(job.contact ? { contactEnc: job.contact } : {}),
    flow: flow.id,
    flowVersion: flow.version,
    answers,
    commented: commentsOf(flow, answers).length > 0,
    day: dayIn(campaign.timezone, job.completedAt),
    rtype,
    startedAt: new Date(job.startedAt),
    completedAt: new Date(job.completedAt),
    durationSec: Math.round((job.completedAt - job.startedAt) / 1000),
  };
  // Before the insert: the insert claims the counters, and a step that fails between the two would leave them claimed
  // and unwritten until the repair (the retry finds the ballot stored and its counters taken).
  await recordFlowVersion(models, flow.key, flow.hash);
  let created: { _id: unknown } | undefined;
  const mark = countersPending();
  try {
    // A new ballot's counters are claimed in the insert itself (one database round trip less than claiming after).
    created = await Response.create({ ...ballot, countersApplied: true, ...mark });
  } catch (err) {
    if ((err as { code?: number }).code !== 11000) throw err;
    outcome = 'existed';
  }

  if (created) await addCounterRows(models, counterRows(ballot as CountedResponse), 1, { id: created._id, at: mark.countersPendingAt });
  else await applyCounters(models, job.ref);
  // Also when it existed (a retry after a crash between the ballot and its samples; sampling twice is a no-op), unless
  // it was invalidated meanwhile.
  if (ballot.commented && (outcome === 'created' || (await Response.exists({ invitationId: job.ref, status: 'valid' })))) {
    await sampleComments(models, flows, ballot);
  }
  return outcome;
}

interface CampaignFacts {
  timezone: string;
  agencyLevel: Map<string, string>;
}
const campaigns = new Map<string, CampaignFacts>();
/** What completion needs of a campaign (cached); the demonstration campaign is not stored. */
async function campaignOf(models: Models, id: string): Promise<CampaignFacts> {
  const cached = campaigns.get(id);
  if (cached) return cached;
  const data = (await models.Campaign.findById(id).lean())?.data as { timezone?: string; agencies?: Array<{ code: string; level: string }> } | undefined;
  const facts = { timezone: data?.timezone ?? 'Asia/Ho_Chi_Minh', agencyLevel: new Map((data?.agencies ?? []).map((a) => [a.code, a.level])) };
  if (data) campaigns.set(id, facts);
  return facts;
}

/** Flow versions this process already recorded, per database: one upsert per version, not per completion. */
const recorded = new WeakMap<Models, Set<string>>();

async function recordFlowVersion(models: Models, key: string, hash: string): Promise<void> {
  const keys = recorded.get(models) ?? new Set<string>();
  recorded.set(models, keys);
  if (keys.has(key)) return;
  try {
    await models.FlowVersion.updateOne({ _id: key }, { $setOnInsert: { hash, firstUsedAt: new Date() } }, { upsert: true });
  } catch (err) {
    // Another completion recorded it at the same moment (FerretDB does not retry such an upsert as MongoDB does).
    if ((err as { code?: number }).code !== 11000) throw err;
  }
  keys.add(key);
}

/**
 * A ballot's counters claimed now: the mark a batch clears once they are written (see the Response model). A
 * completion claims an addition, a post-audit verdict a subtraction (invalidated) or an addition (put back).
 */
export const countersPending = (at = new Date()) => ({ countersPending: true as const, countersPendingAt: at });

/** One claim on a ballot's counters: the ballot, and when its mark was set (a later claim on it sets another). */
export interface CounterClaim {
  id: unknown;
  at: Date;
}
/** How a claim is named to the write turns (see takeOver). */
export const claimName = (c: CounterClaim) => `${String(c.id)}@${c.at.getTime()}`;
/** Clears a claim's mark, and only its own: a later claim on the same ballot keeps its mark until its batch lands. */
export const clearClaim = (c: CounterClaim) => ({
  updateOne: { filter: { _id: c.id, countersPendingAt: c.at }, update: { $unset: { countersPending: 1, countersPendingAt: 1 } } },
});

/**
 * Claims the response's counters, then adds them. The claim leaves a mark until
 * the rows are written: a process that dies in between leaves it, and
 * repairPendingCounters recounts what that response touched.
 */
export async function applyCounters(models: Models, invitationId: string): Promise<void> {
  const mark = countersPending();
  const claimed = await models.Response.findOneAndUpdate(
    { invitationId, countersApplied: false, status: 'valid' },
    { $set: { countersApplied: true, ...mark } },
    { returnDocument: 'after' },
  ).lean();
  if (!claimed) return;
  await addCounterRows(models, counterRows(claimed), 1, { id: claimed._id, at: mark.countersPendingAt });
}

type CounterRow = ReturnType<typeof counterRows>[number];

/**
 * Adds `by` to the counter rows, creating missing ones. Counter writes of one
 * process are merged and go one batch at a time (see MergedBatches), taking
 * turns with the other processes (see write-turns.ts).
 * `claim`: the ballot's claim, whose mark goes once its rows are written.
 */
export function addCounterRows(models: Models, rows: CounterRow[], by: 1 | -1, claim?: CounterClaim): Promise<void> {
  if (!rows.length && !claim) return Promise.resolve();
  return counterWriter(models).add((batch) => {
    for (const row of rows) {
      const cur = batch.deltas.get(row._id);
      if (cur) cur.by += by;
      else batch.deltas.set(row._id, { row, by });
    }
    if (claim) batch.pending.push({ claim, rows, by });
  });
}

/** Runs `fn` between counter batches of this process (nothing is added meanwhile). */
export function withCountersPaused<T>(models: Models, fn: () => Promise<T>): Promise<T> {
  return counterWriter(models).exclusive(fn);
}

interface CounterBatch {
  deltas: Map<string, { row: CounterRow; by: number }>;
  /** The claims in it, whose marks go once the batch is written. */
  pending: Array<{ claim: CounterClaim; rows: CounterRow[]; by: number }>;
}

const counterWriters = new WeakMap<Models, MergedBatches<CounterBatch>>();

function counterWriter(models: Models): MergedBatches<CounterBatch> {
  let writer = counterWriters.get(models);
  if (!writer) {
    /** Counter rows known to exist. */
    const known = new Set<string>();
    writer = new MergedBatches<CounterBatch>(
      () => ({ deltas: new Map(), pending: [] }),
      // The marks go in the same turn as the rows: the repair, in its turn, sees a ballot either written and
      // confirmed or still to be written (see repairPendingCounters).
      (batch) =>
        inTurn(models, 'counters', async (lost) => {
          // A claim the repair counted while this batch waited (it took the wait for a dead writer's) is left out.
          const claims = batch.pending.map((p) => claimName(p.claim));
          const taken = await takenOver(models, 'counters', claims);
          const mine: CounterBatch['pending'] = [];
          for (const [i, p] of batch.pending.entries()) {
            if (!taken.has(claims[i]!)) mine.push(p);
            else for (const row of p.rows) batch.deltas.get(row._id)!.by -= p.by;
          }
          // In one order everywhere: two processes writing the same rows in opposite orders can deadlock the local server.
          const deltas = [...batch.deltas.values()].filter((d) => d.by !== 0).sort((a, b) => (a.row._id < b.row._id ? -1 : 1));
          // A turn lost (Redis out of reach too long) is given up before each write: the claims stay marked, and the
          // repair recounts their rows from the ballots, whatever part of the batch was written.
          lost.throwIfAborted();
          await writeCounterDeltas(models, known, deltas);
          lost.throwIfAborted();
          // One update per response by _id (FerretDB scans the collection for an updateMany with $in).
          if (mine.length)
            await models.Response.bulkWrite(
              mine.map((p) => clearClaim(p.claim)),
              { ordered: false },
            );
        }),
    );
    counterWriters.set(models, writer);
  }
  return writer;
}

/** The report counters: the campaign's rows (span 'all') in a collection of their own (see CounterTotal). */
export const counterCollections = (models: Models): SplitRows => ({ spans: models.Counter, totals: models.CounterTotal });

/** Where a counter row lives. */
export const counterModel = (models: Models, span: string | null | undefined) => placeOf(counterCollections(models), span);

/** Both collections' rows at once. */
const writeCounterDeltas = (models: Models, known: Set<string>, deltas: Array<{ row: CounterRow; by: number }>) =>
  writeSplit(
    counterCollections(models),
    deltas,
    (d) => d.row.span,
    (model, mine) => writeDeltasTo(model, known, mine),
  );

/**
 * Makes sure every row exists, then adds to them. Creating is idempotent ($setOnInsert), so
 * a row another process created at the same moment (a duplicate key: FerretDB does not retry
 * such upserts as MongoDB does) is simply created again; the increments then race with no
 * insert. Rows this process created or saw are not created again (`known`).
 */
async function writeDeltasTo(model: Models['Counter'], known: Set<string>, deltas: Array<{ row: CounterRow; by: number }>): Promise<void> {
  if (!deltas.length) return;
  const fresh = deltas.filter((d) => !known.has(d.row._id));
  if (fresh.length) {
    const create = fresh.map(({ row: { _id, ...fields } }) => ({
      updateOne: { filter: { _id }, update: { $setOnInsert: { ...fields, n: 0 } }, upsert: true },
    }));
    for (let attempt = 0; ; attempt++) {
      try {
        await model.bulkWrite(create, { ordered: false });
        break;
      } catch (err) {
        if (!isDuplicateKeyOnly(err) || attempt >= 2) throw err;
      }
    }
    if (known.size > 100_000) known.clear();
    for (const d of fresh) known.add(d.row._id);
  }
  // Upserts still: a row deleted meanwhile (counters:check --fix removes rows that should not exist) comes back.
  await model.bulkWrite(
    deltas.map(({ row: { _id, ...fields }, by }) => ({ updateOne: { filter: { _id }, update: { $setOnInsert: fields, $inc: { n: by } }, upsert: true } })),
    { ordered: false },
  );
}

function isDuplicateKeyOnly(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: Array<{ code?: number; err?: { code?: number } }> };
  if (e.writeErrors?.length) return e.writeErrors.every((w) => (w.code ?? w.err?.code) === 11000);
  return e.code === 11000;
}

/** What a response's counter rows are made of. */
export interface CountedResponse {
  campaign: string;
  unit: string;
  field?: string | null;
  procedureCode?: string | null;
  /** citizen / organization, agency-<level>; '' when not known. */
  rtype?: string | null;
  flow: string;
  flowVersion: number;
  /** The day of completion in the campaign's time zone (YYYY-MM-DD). */
  day?: string | null;
  completedAt: Date;
  answers: Array<{ q: string; value?: unknown; label?: string | null }>;
}

/** Responses written before `day` was stored: their day in Vietnam's time (UTC+7, no daylight saving). */
const dayOf = (r: CountedResponse) => r.day ?? new Date(r.completedAt.getTime() + 7 * 3600_000).toISOString().slice(0, 10);

/**
 * How far a counter row reaches: one day, the month of that day, or the whole
 * campaign (day '' then). Each ballot is added at all three, so a report over
 * the whole period or over whole months reads as many rows for a million
 * ballots as for ten thousand (days are read only for the partial months at
 * the ends of a date range).
 */
export type CounterSpan = 'day' | 'month' | 'all';

const SPANS: Array<[CounterSpan, (day: string) => string]> = [
  ['day', (d) => d],
  ['month', (d) => d.slice(0, 7)],
  ['all', () => ''],
];

/** A counter row's id: where it counts, and the answer. */
export const counterId = (r: {
  campaign: string;
  unit: string;
  field: string;
  flow: string;
  day: string;
  rtype: string;
  proc: string;
  q: string;
  value: string;
}) => [r.campaign, r.unit, r.field, r.flow, r.day, r.rtype, r.proc, r.q, r.value].join('|');

/**
 * The counter rows of one response: every answer chosen from options (they
 * carry a label); free text is not counted. Counters are kept per unit, field,
 * questionnaire version, span (day, month, campaign), respondent type and
 * procedure, so a report over any date range or split reads counters, never
 * the ballots.
 */
export function counterRows(r: CountedResponse) {
  const field = r.field ?? '';
  const flow = `${r.flow}@${r.flowVersion}`;
  const ballotDay = dayOf(r);
  const rtype = r.rtype ?? String(r.answers.find((a) => a.q === 'respondent_type')?.value ?? '');
  const proc = r.procedureCode ?? '';
  const chosen = r.answers.filter((a) => a.label != null);
  return SPANS.flatMap(([span, dayFor]) => {
    const day = dayFor(ballotDay);
    return chosen.map((a) => {
      const value = String(a.value);
      const row = { campaign: r.campaign, unit: r.unit, field, flow, day, span, rtype, proc, q: a.q, value };
      return { _id: counterId(row), ...row };
    });
  });
}
