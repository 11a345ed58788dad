// Completion: a finished survey becomes exactly one response document.
// The unique index on invitationId makes a redelivered or doubled completion a
// no-op; counters are claimed once per response, so they are never doubled.

import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import type { CompletionJob } from '../queues/jobs.js';

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

  let outcome: PersistOutcome = 'created';
  try {
    await Response.create({
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
      startedAt: new Date(job.startedAt),
      completedAt: new Date(job.completedAt),
      durationSec: Math.round((job.completedAt - job.startedAt) / 1000),
    });
  } catch (err) {
    if ((err as { code?: number }).code !== 11000) throw err;
    outcome = 'existed';
  }

  await recordFlowVersion(models, flow.key, flow.hash);
  await applyCounters(models, job.ref);
  return outcome;
}

/** Flow versions this process already recorded, per database: one upsert per version, not per completion. */
const recorded = new WeakMap<Models, Set<string>>();

async function recordFlowVersion(models: Models, key: string, hash: string): Promise<void> {
  const keys = recorded.get(models) ?? new Set<string>();
  recorded.set(models, keys);
  if (keys.has(key)) return;
  await models.FlowVersion.updateOne({ _id: key }, { $setOnInsert: { hash, firstUsedAt: new Date() } }, { upsert: true });
  keys.add(key);
}

/** Claims the response's counters, then adds them. A crash in between undercounts; `counters:check --fix` repairs it. */
export async function applyCounters(models: Models, invitationId: string): Promise<void> {
  const claimed = await models.Response.findOneAndUpdate(
    { invitationId, countersApplied: false, status: 'valid' },
    { $set: { countersApplied: true } },
    { returnDocument: 'after' },
  ).lean();
  if (!claimed) return;
  const ops = counterRows(claimed).map((row) => ({
    updateOne: {
      filter: { _id: row._id },
      update: { $inc: { n: 1 }, $setOnInsert: { campaign: row.campaign, unit: row.unit, field: row.field, flow: row.flow, q: row.q, value: row.value } },
      upsert: true,
    },
  }));
  if (ops.length) await models.Counter.bulkWrite(ops, { ordered: false });
}

interface CountedResponse {
  campaign: string;
  unit: string;
  field?: string | null;
  flow: string;
  flowVersion: number;
  answers: Array<{ q: string; value?: unknown; label?: string | null }>;
}

/** The counter rows of one response: every answer chosen from options (they carry a label); free text is not counted. */
export function counterRows(r: CountedResponse) {
  return r.answers
    .filter((a) => a.label != null)
    .map((a) => {
      const value = String(a.value);
      const field = r.field ?? '';
      const flow = `${r.flow}@${r.flowVersion}`;
      return { _id: [r.campaign, r.unit, field, flow, a.q, value].join('|'), campaign: r.campaign, unit: r.unit, field, flow, q: a.q, value };
    });
}
