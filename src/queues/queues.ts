// BullMQ queues: connections, the typed add methods, backoff. Producers fail
// fast when Redis is down (the webhook answers 503 and the platform retries);
// workers wait for Redis. The workers themselves are wired in ../workers.ts.
import { type ConnectionOptions, Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { clusterTarget, createRedis } from '../redis.js';
import {
  type AUDIT_STEPS,
  auditStepJob,
  type CompletionJob,
  completionJob,
  type FollowUpJob,
  followUpJob,
  type Opening,
  type OutboundJob,
  openedJob,
  outboundJob,
  QUEUE,
  znsJob,
} from './jobs.js';

/** Exponential backoff capped at one minute: a long MongoDB outage is retried every minute, not never. */
export const cappedBackoff = (attemptsMade: number) => Math.min(60_000, 500 * 2 ** attemptsMade);
const retry = { attempts: 10_000, backoff: { type: 'capped' } };
/**
 * A send that failed for a passing reason (a 5xx, a dropped connection, no answer) is tried again for about an hour: the
 * backoff reaches its minute after 63 s, then 58 tries a minute apart. Long enough for a platform's outage; a message
 * older than that is stale, and the job stays failed, kept for inspection.
 */
const SEND_ATTEMPTS = 65;

/** Redis options for BullMQ. Producers fail fast while Redis is down; workers wait for it. */
const clientOptions = (producer: boolean) => (producer ? { enableOfflineQueue: false, maxRetriesPerRequest: 1 } : { maxRetriesPerRequest: null });

/**
 * BullMQ's connection for REDIS_URL. For one server, options: BullMQ opens
 * (and closes) its own connections. For a cluster, a Cluster client, which
 * BullMQ shares and never closes: `release` disconnects it.
 */
export function connection(url: string, producer: boolean): { connection: ConnectionOptions; release(): void } {
  if (clusterTarget(url)) {
    const client = createRedis(url, clientOptions(producer)) as Cluster;
    return { connection: client, release: () => client.disconnect() };
  }
  const u = new URL(url);
  return {
    connection: {
      host: u.hostname,
      port: Number(u.port || 6379),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
      ...clientOptions(producer),
    },
    release: () => {},
  };
}

/** A queue's key prefix: a hash tag of its own, so that on a cluster each queue's keys share a slot and queues spread over nodes. */
export const queuePrefix = (prefix: string, queue: string) => `${prefix}{bull:${queue}}`;

/**
 * An opening is recorded a second after it: a burst of openings then finds the database jobs already stepped aside for
 * the intake, in a ROLE=worker process too (which learns of a burst about 200 ms late: see IntakePressure). Recorded
 * at once, a burst's first openings took 7 % of a core of database time while the respondents poured in.
 */
const OPENED_DELAY_MS = 1_000;

export class Queues {
  readonly completion: Queue;
  readonly outbound: Queue;
  readonly followUps: Queue;

  private readonly conn: ReturnType<typeof connection>;

  constructor(redisUrl: string, prefix: string, onError: (err: Error) => void) {
    this.conn = connection(redisUrl, true);
    const opts = (queue: string) => ({ connection: this.conn.connection, prefix: queuePrefix(prefix, queue) });
    this.completion = new Queue(QUEUE.completion, opts(QUEUE.completion));
    this.outbound = new Queue(QUEUE.outbound, opts(QUEUE.outbound));
    this.followUps = new Queue(QUEUE.reminders, opts(QUEUE.reminders));
    // Connection errors surface here while Redis is down; readiness reports them, adds fail fast.
    for (const q of this.all()) q.on('error', onError);
  }

  private all() {
    return [this.completion, this.outbound, this.followUps];
  }

  async ready(): Promise<void> {
    await Promise.all(this.all().map((q) => q.waitUntilReady()));
  }

  /** One job per invitation: a second completion of the same invitation is not even queued while the first waits. */
  addCompletion(job: CompletionJob) {
    return this.completion.add('complete', completionJob.parse(job), { jobId: `complete-${job.ref}`, ...retry, removeOnComplete: 1000, removeOnFail: false });
  }

  /** Openings of surveys, recorded in MongoDB by the follow-ups worker; `jobId` names the batch (adding it again adds nothing). */
  addOpenings(openings: Opening[], jobId: string) {
    return this.followUps.add('opened', openedJob.parse({ openings }), {
      jobId,
      delay: OPENED_DELAY_MS,
      ...retry,
      removeOnComplete: 1000,
      removeOnFail: false,
    });
  }

  /** One ZNS invitation per invitation, at `at` (job id = invitation: never two). */
  addZnsInvitation(ref: string, delayMs: number) {
    return this.followUps.add('zns-invite', znsJob.parse({ ref }), {
      jobId: `zns-invite-${ref}`,
      delay: Math.max(0, delayMs),
      attempts: 20,
      backoff: { type: 'capped' },
      removeOnComplete: 1000,
      removeOnFail: 1000,
    });
  }

  /** A ZNS message standing in for a chat message the platform refused (window closed): at most one per invitation and template. */
  addZnsSend(template: 'reminder' | 'verification', ref: string) {
    return this.followUps.add(`zns-${template}`, znsJob.parse({ ref, template }), {
      jobId: `zns-${template}-${ref}`,
      attempts: 20,
      backoff: { type: 'capped' },
      removeOnComplete: 1000,
      removeOnFail: 1000,
    });
  }

  /** One step of a sampled ballot's verification, after `delayMs` (job id: never twice). */
  addAuditStep(step: (typeof AUDIT_STEPS)[number], item: string, delayMs = 0) {
    return this.followUps.add(step, auditStepJob.parse({ item }), {
      jobId: `${step}-${item}`,
      delay: Math.max(0, delayMs),
      ...retry,
      removeOnComplete: 1000,
      removeOnFail: 5000,
    });
  }

  /** Zalo reported a ZNS message delivered (recorded by a job: the webhook never waits on MongoDB). */
  addZnsDelivered(trackingId: string) {
    return this.followUps.add('zns-delivered', znsJob.parse({ trackingId }), {
      jobId: `zns-delivered-${trackingId}`,
      ...retry,
      removeOnComplete: 1000,
      removeOnFail: 1000,
    });
  }

  /** `jobId`: given when the add may be tried again (a second add with it adds nothing). */
  addOutbound(job: Omit<OutboundJob, 'done'> & { done?: number }, delayMs = 0, jobId?: string) {
    const data = outboundJob.parse(job);
    // Replies to a respondent's own input go before bursts we start (reminders, audits).
    return this.outbound.add('send', data, {
      ...(jobId ? { jobId } : {}),
      priority: data.reply ? 1 : 10,
      delay: delayMs,
      attempts: SEND_ATTEMPTS,
      backoff: { type: 'capped' },
      removeOnComplete: 1000,
      removeOnFail: 5000,
    });
  }

  /** Reminders at `times` and the expiry at `expiresAt` of one opened survey; `now` is injectable for tests. */
  async scheduleFollowUps(target: Omit<FollowUpJob, 'kind'>, times: number[], expiresAt: number, now = Date.now()) {
    const job = (kind: FollowUpJob['kind'], at: number, i: number) => ({
      name: kind,
      data: followUpJob.parse({ ...target, kind }),
      opts: {
        jobId: `${kind}-${target.ref}-${i}`,
        delay: Math.max(0, at - now),
        attempts: 5,
        backoff: { type: 'capped' },
        removeOnComplete: 1000,
        removeOnFail: 1000,
      },
    });
    await this.followUps.addBulk([...times.map((t, i) => job('remind', t, i)), job('expire', expiresAt, 0)]);
  }

  /** Marks overdue invitations expired every 10 minutes (idempotent across processes). */
  scheduleExpirySweep() {
    return this.followUps.upsertJobScheduler('expiry-sweep', { every: 600_000 }, { name: 'sweep', data: {} });
  }

  /** PV01's daily digest at 07:30 in Vietnam (idempotent across processes). */
  scheduleDigest() {
    return this.followUps.upsertJobScheduler('daily-digest', { pattern: '0 30 7 * * *', tz: 'Asia/Ho_Chi_Minh' }, { name: 'digest', data: {} });
  }

  /** Closes the queues; with Redis down (close would wait for it), drops their connections after 2 s. */
  async close() {
    await Promise.all(
      this.all().map(async (q) => {
        const closed = await Promise.race([
          q.close().then(
            () => true,
            () => false,
          ),
          new Promise<false>((r) => setTimeout(() => r(false), 2_000).unref()),
        ]);
        // BullMQ's disconnect also waits for Redis: start it, do not wait for it.
        if (!closed) void q.disconnect().catch(() => {});
      }),
    );
    this.conn.release();
  }
}
