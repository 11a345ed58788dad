// What follows an opened survey, as durable jobs: the first opening is
// recorded in MongoDB and schedules the reminders and the expiry; a reminder
// or an expiry acts only if, when it runs, the survey is still the chat's
// active one and its invitation is still open (stale-safe).
import { DelayedError, type Job } from 'bullmq';
import type { Notifier } from '../channels/notifier.js';
import { normalizePhone } from '../channels/notifier.js';
import type { ConversationRunner } from '../conversations/runner.js';
import { followUpJob, type Opening, openedJob, openingsOf, znsJob } from '../queues/jobs.js';
import type { Queues } from '../queues/queues.js';
import { type Invitations, ZNS_NIGHT } from './invitations.js';
import { outsideQuietHours, reminderTimes } from './schedule.js';

export type FollowUpOutcome = 'opened' | 'reopened' | 'reminded' | 'expired' | 'stale' | 'notified' | 'not-notified' | 'delivered';

export interface FollowUpDeps {
  runner: ConversationRunner;
  invitations: Invitations;
  queues: Queues;
  notifiers: ReadonlyMap<string, Notifier>;
}

export async function processFollowUp(job: Job, deps: FollowUpDeps, token?: string): Promise<FollowUpOutcome> {
  const { invitations, runner } = deps;
  if (job.name === 'zns-invite' || job.name === 'zns-reminder' || job.name === 'zns-verification') return znsSend(job, token, deps);
  if (job.name === 'zns-delivered') {
    const { trackingId } = znsJob.parse(job.data);
    if (!trackingId?.startsWith('inv-')) return 'stale';
    await invitations.recordZnsDelivered(trackingId.slice(4), invitations.now());
    return 'delivered';
  }
  if (job.name === 'sweep') {
    await invitations.expireDue();
    return 'expired';
  }
  if (job.name === 'opened') {
    // One at a time: each takes its invitation's lock and writes; a batch is a burst's, not a reason to flood MongoDB.
    const outcomes: FollowUpOutcome[] = [];
    for (const o of openingsOf(openedJob.parse(job.data))) outcomes.push(await recordOpening(o, job.attemptsMade > 0, deps));
    return outcomes.includes('opened') ? 'opened' : 'reopened';
  }
  const f = followUpJob.parse(job.data);
  const who = { channel: f.channel, userKey: f.userKey };
  const status = await invitations.statusOf(f.ref);
  const closed = status !== 'created' && status !== 'opened';
  if (f.kind === 'expire' || closed) {
    if (f.kind === 'expire') await invitations.expire(f.ref);
    // Cancelled or expired: close the conversation silently; completed: nothing to do.
    const applied = status === 'completed' ? false : await runner.nudge(who, f.ref, 'expire');
    return applied ? 'expired' : 'stale';
  }
  return (await runner.nudge(who, f.ref, 'tick')) ? 'reminded' : 'stale';
}

/** Only the first opening schedules: reopening the same survey does not add reminders. */
async function recordOpening(o: Opening, retried: boolean, { invitations, queues }: FollowUpDeps): Promise<FollowUpOutcome> {
  const who = { channel: o.channel, userKey: o.userKey };
  // A retry after the opening was recorded but before the reminders were queued schedules them again (their job ids dedupe).
  const inv = (await invitations.markOpened(o.ref, who, o.at)) ?? (retried ? await invitations.openedBy(o.ref, who) : null);
  if (!inv) return 'reopened';
  const campaign = await invitations.currentCampaign();
  const times = reminderTimes(o.at, campaign.reminderDelaysMinutes, campaign.timezone, campaign.quietHours);
  await queues.scheduleFollowUps({ ...who, ref: o.ref }, times, inv.expiresAt.getTime(), invitations.now());
  return 'opened';
}

/** Which invitation status each ZNS template is for, and its tracking id prefix (the id is the idempotency key). */
const ZNS_USE = {
  invitation: { status: 'created', tracking: 'inv-' },
  reminder: { status: 'opened', tracking: 'rem-' },
  verification: { status: 'completed', tracking: 'ver-' },
} as const;

/**
 * A ZNS message to the phone the officer entered, never at night, at most once
 * per invitation and template: the invitation of a survey still not opened, the
 * reminder of one in progress whose chat window is closed, or the post-audit
 * verification of a completed one whose chat window is closed.
 */
async function znsSend(job: Job, token: string | undefined, { invitations, notifiers }: FollowUpDeps): Promise<FollowUpOutcome> {
  const { ref, template: name = 'invitation' } = znsJob.parse(job.data);
  const use = ZNS_USE[name];
  const zns = notifiers.get('zns');
  const campaign = await invitations.currentCampaign();
  const template = campaign.zns[name];
  const inv = ref && zns && template ? await invitations.forZns(ref) : undefined;
  if (!ref || !zns || !template || !inv?.phone || inv.status !== use.status) return 'stale';
  const now = invitations.now();
  const morning = outsideQuietHours(now, 'Asia/Ho_Chi_Minh', ZNS_NIGHT);
  if (morning > now) return postpone(job, token, morning - now);
  const data = Object.fromEntries(Object.entries(template.params).map(([param, source]) => [param, inv.sources[source] ?? '']));
  const r = await zns.send({ phone: normalizePhone(inv.phone), templateId: template.templateId, data, trackingId: `${use.tracking}${ref}` });
  if (!r.ok && r.kind === 'retry_after') return postpone(job, token, r.ms);
  // The invitation's own ZNS is recorded on it; a reminder's outcome is the job's.
  if (name === 'invitation') await invitations.recordZns(ref, r.ok ? { sentAt: now } : { problem: r.reason });
  return r.ok ? 'notified' : 'not-notified';
}

async function postpone(job: Job, token: string | undefined, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + ms, token);
  throw new DelayedError();
}
