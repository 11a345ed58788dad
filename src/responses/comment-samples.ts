// The comments Mẫu 01 and Mẫu 02 show without a date range: the free-text
// answers of the first COMMENT_LIMIT valid ballots with one, per unit and for
// the whole campaign, copied at completion into a collection of bounded size.
// A report then reads as many rows for a million ballots as for ten thousand,
// on any backend (FerretDB scans the ballots for any filtered query). With a
// date range the report selects ballots instead (see Reports.comments).
// Concurrent completions may overshoot a sample by a few; the report reads
// COMMENT_LIMIT at most. An invalidated ballot leaves the samples, making room.
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import { inTurn } from '../write-turns.js';

export const COMMENT_LIMIT = 2000;

/** What a ballot's samples are made of. */
export interface CommentedBallot {
  invitationId: string;
  campaign: string;
  kind?: string | null;
  unit: string;
  field?: string | null;
  day?: string | null;
  rtype?: string | null;
  flow: string;
  flowVersion: number;
  answers: Array<{ q: string; value?: unknown }>;
}

/** Samples known full in this process (they fill once and stay full, but for invalidations). */
const full = new WeakMap<Models, Set<string>>();

/** A ballot's free-text answers, by its questionnaire (also what sets a ballot's `commented` mark). */
export function commentsOf(flow: { questions: Array<{ id: string; type: string }> }, answers: Array<{ q: string; value?: unknown }>) {
  const text = new Set(flow.questions.filter((q) => q.type === 'text').map((q) => q.id));
  return answers.filter((a) => text.has(a.q) && typeof a.value === 'string' && a.value !== '').map((a) => ({ q: a.q, text: a.value as string }));
}

const kindOf = (b: { kind?: string | null }) => (b.kind === 'agency' ? 'agency' : 'citizen');

/**
 * Copies a valid ballot's comments into its unit's and its campaign's samples
 * while they have room. Idempotent. Returns whether the ballot has comments.
 */
export async function sampleComments(models: Models, flows: FlowRegistry, b: CommentedBallot): Promise<boolean> {
  const texts = commentsOf(flows.get(`${b.flow}@${b.flowVersion}`), b.answers);
  if (!texts.length) return false;
  const known = full.get(models) ?? new Set<string>();
  full.set(models, known);
  const kind = kindOf(b);
  for (const scope of [b.unit, '']) {
    const slot = `${b.campaign}|${kind}|${scope}`;
    if (known.has(slot)) continue;
    if (((await models.CommentSlot.findById(slot).lean())?.n ?? 0) >= COMMENT_LIMIT) {
      known.add(slot);
      continue;
    }
    try {
      await models.CommentSample.create({
        _id: `${b.invitationId}|${scope}`,
        invitationId: b.invitationId,
        campaign: b.campaign,
        kind,
        scope,
        field: b.field ?? '',
        day: b.day ?? '',
        rtype: b.rtype ?? '',
        flow: b.flow,
        flowVersion: b.flowVersion,
        texts,
      });
    } catch (err) {
      if ((err as { code?: number }).code === 11000) continue; // sampled before (a retried completion)
      throw err;
    }
    // In turn (see write-turns.ts): on FerretDB two completions creating or adding to one slot at once could lose one.
    await inTurn(models, 'comment-slots', () =>
      models.CommentSlot.updateOne({ _id: slot }, { $inc: { n: 1 }, $setOnInsert: { campaign: b.campaign } }, { upsert: true }),
    );
  }
  return true;
}

/** Takes an invalidated ballot's comments out of the samples (making room for the next ones). */
export async function unsampleComments(models: Models, ballot: { invitationId: string; campaign: string; kind?: string | null; unit: string }) {
  const kind = kindOf(ballot);
  for (const scope of [ballot.unit, '']) {
    const { deletedCount } = await models.CommentSample.deleteOne({ _id: `${ballot.invitationId}|${scope}` });
    if (!deletedCount) continue;
    const slot = `${ballot.campaign}|${kind}|${scope}`;
    await inTurn(models, 'comment-slots', () => models.CommentSlot.updateOne({ _id: slot }, { $inc: { n: -1 } }));
    full.get(models)?.delete(slot);
  }
}

/**
 * Rebuilds a campaign's samples from its ballots (after an upgrade from a
 * version without them, or to repair): reads every valid ballot. Returns how
 * many ballots were sampled.
 */
export async function rebuildCommentSamples(models: Models, flows: FlowRegistry, campaign: string): Promise<number> {
  await models.CommentSample.deleteMany({ campaign });
  await models.CommentSlot.deleteMany({ campaign });
  full.delete(models);
  let sampled = 0;
  for await (const r of models.Response.find({ campaign, status: 'valid' }).lean().cursor()) {
    if (await sampleComments(models, flows, r as unknown as CommentedBallot)) sampled++;
  }
  return sampled;
}
