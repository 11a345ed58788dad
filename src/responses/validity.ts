// A ballot found false by post-audit is invalidated: it stays stored, with its
// reason, leaves the counters behind the reports and the comment samples, and
// is counted as invalidated (Mẫu 01's table A); an override puts it back. A
// crash between the status change and the counters is repaired by
// `counters:check --fix` (it recounts the valid responses and the invalidated
// ones).
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import { countInvalidated } from '../invitations/counts.js';
import { type CommentedBallot, sampleComments, unsampleComments } from './comment-samples.js';
import { addCounterRows, applyCounters, counterRows } from './complete.js';

type Ballot = { campaign: string; unit: string; field?: string | null; day?: string | null; kind?: string | null };

/** Case ballots only: table A counts case invitations. */
const countChange = (models: Models, b: Ballot, by: 1 | -1) =>
  b.kind !== 'agency' && b.day ? countInvalidated(models, { campaign: b.campaign, unit: b.unit, field: b.field, day: b.day }, by) : undefined;

/** Invalidates a valid ballot. Returns false when it was not valid (already invalidated, or unknown). */
export async function invalidateBallot(models: Models, invitationId: string, reason: string, auditId: string): Promise<boolean> {
  const before = await models.Response.findOneAndUpdate(
    { invitationId, status: 'valid' },
    { $set: { status: 'invalidated', invalidReason: reason, invalidatedBy: auditId } },
    { returnDocument: 'before' },
  ).lean();
  if (!before) return false;
  if (before.countersApplied) await addCounterRows(models, counterRows(before), -1);
  await countChange(models, before as Ballot, 1);
  await unsampleComments(models, before);
  return true;
}

/** Puts an invalidated ballot back (PV01 overrode the outcome). Returns false when it was not invalidated. */
export async function revalidateBallot(models: Models, flows: FlowRegistry, invitationId: string): Promise<boolean> {
  const before = await models.Response.findOneAndUpdate(
    { invitationId, status: 'invalidated' },
    { $set: { status: 'valid' }, $unset: { invalidReason: 1, invalidatedBy: 1 } },
    { returnDocument: 'before' },
  ).lean();
  if (!before) return false;
  if (before.countersApplied) await addCounterRows(models, counterRows(before), 1);
  else await applyCounters(models, invitationId);
  await countChange(models, before as Ballot, -1);
  await sampleComments(models, flows, before as CommentedBallot);
  return true;
}
