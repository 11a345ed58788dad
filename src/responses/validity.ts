// A ballot found false by post-audit is invalidated: it stays stored, with its
// reason, leaves the counters behind the reports and the comment samples, and
// is counted as invalidated (Mẫu 01's table A); an override puts it back. A
// verdict claims its change to the counters as a completion does (the mark on
// the ballot, see complete.ts): the recount of `counters:check --fix` counts a
// marked ballot as it stood before the verdict, and the periodic repair
// settles the change of a process that died before writing it. Its change to
// table A is named to the fix of those counts, which leaves out what it
// counted already (see counts.ts); a crash there is repaired by the fix.
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import { countInvalidated } from '../invitations/counts.js';
import { type CommentedBallot, sampleComments, unsampleComments } from './comment-samples.js';
import { addCounterRows, counterRows, countersPending } from './complete.js';

type Ballot = { _id: unknown; campaign: string; unit: string; field?: string | null; day?: string | null; kind?: string | null };

/** Case ballots only: table A counts case invitations. */
const countChange = (models: Models, b: Ballot, by: 1 | -1, at: Date) =>
  b.kind !== 'agency' && b.day
    ? countInvalidated(models, { campaign: b.campaign, unit: b.unit, field: b.field, day: b.day }, by, { id: b._id, at })
    : undefined;

/** Invalidates a valid ballot. Returns false when it was not valid (already invalidated, or unknown). */
export async function invalidateBallot(models: Models, invitationId: string, reason: string, auditId: string): Promise<boolean> {
  const mark = countersPending();
  const before = await models.Response.findOneAndUpdate(
    { invitationId, status: 'valid' },
    { $set: { status: 'invalidated', invalidReason: reason, invalidatedBy: auditId, verdictAt: mark.countersPendingAt, ...mark } },
    { returnDocument: 'before' },
  ).lean();
  if (!before) return false;
  // A ballot of an early version whose counters were never applied has nothing to subtract: its mark just goes.
  await addCounterRows(models, before.countersApplied ? counterRows(before) : [], -1, { id: before._id, at: mark.countersPendingAt });
  await countChange(models, before as Ballot, 1, mark.countersPendingAt);
  await unsampleComments(models, before);
  return true;
}

/** Puts an invalidated ballot back (PV01 overrode the outcome). Returns false when it was not invalidated. */
export async function revalidateBallot(models: Models, flows: FlowRegistry, invitationId: string): Promise<boolean> {
  const mark = countersPending();
  const before = await models.Response.findOneAndUpdate(
    { invitationId, status: 'invalidated' },
    { $set: { status: 'valid', countersApplied: true, verdictAt: mark.countersPendingAt, ...mark }, $unset: { invalidReason: 1, invalidatedBy: 1 } },
    { returnDocument: 'before' },
  ).lean();
  if (!before) return false;
  await addCounterRows(models, counterRows(before), 1, { id: before._id, at: mark.countersPendingAt });
  await countChange(models, before as Ballot, -1, mark.countersPendingAt);
  await sampleComments(models, flows, before as CommentedBallot);
  return true;
}
