// What follows an opened survey, as durable jobs: the first opening is
// recorded in MongoDB and schedules the reminders and the expiry; a reminder
// or an expiry acts only if, when it runs, the survey is still the chat's
// active one and its invitation is still open (stale-safe).
import type { Job } from 'bullmq';
import type { ConversationRunner } from '../conversations/runner.js';
import { followUpJob, type OpenedJob, openedJob } from '../queues/jobs.js';
import type { Queues } from '../queues/queues.js';
import type { Invitations } from './invitations.js';
import { reminderTimes } from './schedule.js';

export type FollowUpOutcome = 'opened' | 'reopened' | 'reminded' | 'expired' | 'stale';

export interface FollowUpDeps {
  runner: ConversationRunner;
  invitations: Invitations;
  queues: Queues;
}

export async function processFollowUp(job: Job, deps: FollowUpDeps): Promise<FollowUpOutcome> {
  const { invitations, runner } = deps;
  if (job.name === 'sweep') {
    await invitations.expireDue();
    return 'expired';
  }
  if (job.name === 'opened') return recordOpening(openedJob.parse(job.data), job.attemptsMade > 0, deps);
  const f = followUpJob.parse(job.data);
  const who = { channel: f.channel, userKey: f.userKey };
  const status = await invitations.statusOf(f.ref);
  const closed = status !== 'created' && status !== 'opened';
  if (f.kind === 'expire' || closed) {
    if (f.kind === 'expire') await invitations.expireDue();
    // Cancelled or expired: close the conversation silently; completed: nothing to do.
    const applied = status === 'completed' ? false : await runner.nudge(who, f.ref, 'expire');
    return applied ? 'expired' : 'stale';
  }
  return (await runner.nudge(who, f.ref, 'tick')) ? 'reminded' : 'stale';
}

/** Only the first opening schedules: reopening the same survey does not add reminders. */
async function recordOpening(o: OpenedJob, retried: boolean, { invitations, queues }: FollowUpDeps): Promise<FollowUpOutcome> {
  const who = { channel: o.channel, userKey: o.userKey };
  // A retry after the opening was recorded but before the reminders were queued schedules them again (their job ids dedupe).
  const inv = (await invitations.markOpened(o.ref, who, o.at)) ?? (retried ? await invitations.openedBy(o.ref, who) : null);
  if (!inv) return 'reopened';
  const campaign = await invitations.currentCampaign();
  const times = reminderTimes(o.at, campaign.reminderDelaysMinutes, campaign.timezone, campaign.quietHours);
  await queues.scheduleFollowUps({ ...who, ref: o.ref }, times, inv.expiresAt.getTime(), invitations.now());
  return 'opened';
}
