// Reminders and expiry of opened surveys. A job only acts if, when it runs, the
// survey is still the chat's active one and its invitation is still open.
import type { Job } from 'bullmq';
import type { ConversationRunner } from '../conversations/runner.js';
import type { InvitationService } from '../invitations/service.js';
import { followUpJob } from './jobs.js';

export type FollowUpOutcome = 'reminded' | 'expired' | 'stale';

export async function processFollowUp(job: Job, deps: { runner: ConversationRunner; invitations: InvitationService }): Promise<FollowUpOutcome> {
  if (job.name === 'sweep') {
    await deps.invitations.expireDue();
    return 'expired';
  }
  const f = followUpJob.parse(job.data);
  const status = await deps.invitations.statusOf(f.ref);
  const closed = status !== 'created' && status !== 'opened';
  if (f.kind === 'expire' || closed) {
    if (f.kind === 'expire') await deps.invitations.expireDue();
    // Cancelled or expired: close the conversation silently; completed: nothing to do.
    const applied = status === 'completed' ? false : await deps.runner.nudge(f.channel, f.userKey, f.ref, 'expire');
    return applied ? 'expired' : 'stale';
  }
  return (await deps.runner.nudge(f.channel, f.userKey, f.ref, 'tick')) ? 'reminded' : 'stale';
}
