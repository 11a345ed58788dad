// Every BullMQ worker of the service, wired in one place. Each queue's
// processor lives with its domain; this file only connects them.
import { DelayedError, type Processor, UnrecoverableError, Worker } from 'bullmq';
import { type Audits, isAuditRef } from './audits/audits.js';
import type { Notifier } from './channels/notifier.js';
import type { ConversationRunner } from './conversations/runner.js';
import type { Models } from './db.js';
import type { FlowRegistry } from './engine/load.js';
import { processFollowUp } from './invitations/follow-ups.js';
import type { Invitations } from './invitations/invitations.js';
import type { Logger } from './log.js';
import type { ChatLock } from './outbound/chat-lock.js';
import type { HeldReplies } from './outbound/held.js';
import type { Outlets } from './outbound/send-ops.js';
import { processOutbound } from './outbound/worker.js';
import type { IntakePressure } from './queues/intake-pressure.js';
import { AUDIT_STEPS, auditStepJob, completionJob, QUEUE } from './queues/jobs.js';
import { cappedBackoff, connection, type Queues, queuePrefix } from './queues/queues.js';
import { type Alerts, alertReasons } from './reports/alerts.js';
import { PermanentJobError, persistCompletion } from './responses/complete.js';

export interface WorkerDeps {
  redisUrl: string;
  prefix: string;
  models: Models;
  flows: FlowRegistry;
  runner: ConversationRunner;
  invitations: Invitations;
  audits: Audits;
  alerts: Alerts;
  /** Sends PV01's daily digest; false when no PV01 chat is configured. */
  digest: () => Promise<boolean>;
  queues: Queues;
  outlets: Outlets;
  notifiers: ReadonlyMap<string, Notifier>;
  locks: ChatLock;
  held: HeldReplies;
  pressure: IntakePressure;
  log: Logger;
  outboundConcurrency?: number;
  /** COMPLETION_CONCURRENCY. */
  completionConcurrency: number;
}

/** Job states of a job still to run. */
const PENDING = new Set(['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']);

export function startWorkers(d: WorkerDeps): Worker[] {
  // Each worker its own connection (a cluster client is released once its worker has closed).
  const worker = (queue: string, processor: Processor, concurrency: number) => {
    const conn = connection(d.redisUrl, false);
    const w = new Worker(queue, processor, {
      connection: conn.connection,
      prefix: queuePrefix(d.prefix, queue),
      settings: { backoffStrategy: cappedBackoff },
      concurrency,
      // A job stalls when its worker lost it (a crash, a Redis failover), not because of the job: it is run again, not
      // failed after its first stall as BullMQ does by default (a ballot is stored once; a send may repeat, as after a crash).
      maxStalledCount: 10,
      // Looked for every 10 s (BullMQ: 30 s): a ballot a Redis failover left running is recorded within about 40 s.
      stalledInterval: 10_000,
    });
    w.once('closed', conn.release);
    return w;
  };
  // A job BullMQ fetched as its worker paused for intake (a blocked fetch still takes one) waits too: back to delayed,
  // no attempt used, and it runs once the worker resumes.
  const stepsAside =
    (processor: Processor): Processor =>
    async (job, token) => {
      if (d.pressure.deferring && token) {
        await job.moveToDelayed(Date.now() + 1_000, token);
        throw new DelayedError();
      }
      return processor(job, token);
    };
  const completion = worker(
    QUEUE.completion,
    stepsAside(async (job) => {
      const data = completionJob.parse(job.data);
      // A post-audit verification finished: its outcome, not a ballot.
      if (isAuditRef(data.ref)) return d.audits.recordAnswer(data.ref, data.answers);
      try {
        const outcome = await persistCompletion(d.models, d.flows, data);
        await d.invitations.markCompleted(data.ref, data.completedAt, { at: data.startedAt, by: data.respondent });
        // Only a ballot with a reason to alert costs a read.
        if (alertReasons(Object.entries(data.answers).map(([q, value]) => ({ q, value }))).length) await d.alerts.raise(data.ref);
        return outcome;
      } catch (err) {
        if (err instanceof PermanentJobError) throw new UnrecoverableError(err.message);
        throw err;
      }
    }),
    // Several at once, so that their counter rows merge into fewer writes (MergedBatches): 8 drained a burst's records
    // on FerretDB on PostgreSQL in 16 s against 40 s with 2. While intake is busy this worker steps aside altogether.
    d.completionConcurrency,
  );
  // A reminder or a verification the chat platform refused (window closed) goes to the phone as ZNS, when there is one.
  const outboundDeps = {
    ...d,
    isPending: async (jobId: string) => PENDING.has(await d.queues.outbound.getJobState(jobId)),
    windowClosed: async (about: { ref: string; purpose: 'reminder' | 'verification' }) =>
      void (about.purpose === 'reminder' ? await d.queues.addZnsSend('reminder', about.ref) : await d.audits.windowClosed(about.ref)),
  };
  const outbound = worker(QUEUE.outbound, (job, token) => processOutbound(job, token, outboundDeps), d.outboundConcurrency ?? 32);
  const followUps = worker(
    QUEUE.reminders,
    stepsAside(async (job, token) => {
      if ((AUDIT_STEPS as readonly string[]).includes(job.name)) {
        const did = await d.audits.step(job.name as (typeof AUDIT_STEPS)[number], auditStepJob.parse(job.data).item);
        if (did !== 'busy') return did;
        // The chat is in the middle of a survey: ask again in an hour.
        await job.moveToDelayed(Date.now() + 3600_000, token);
        throw new DelayedError();
      }
      if (job.name === 'sweep') {
        const purged = await d.audits.purgeContacts();
        // Counts only: what was purged is gone, and its values never reach a log.
        if (purged) d.log.info({ purged }, 'contacts past their retention purged');
      }
      if (job.name === 'digest') return (await d.digest()) ? 'sent' : 'no-chat';
      return processFollowUp(job, d, token);
    }),
    4,
  );
  // Recording and follow-ups write to the database: they wait while respondents pour in. Sends do not (replies go out).
  d.pressure.defer([completion, followUps]);
  for (const w of [completion, outbound, followUps]) {
    w.on('failed', (job, err) => {
      const fields = { queue: w.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message };
      // A job the shutdown cut short (its database closed under it) runs again: not a failure to look into.
      if (w.closing && job && job.attemptsMade < (job.opts.attempts ?? 1)) d.log.info(fields, 'job cut short by the shutdown: it runs again');
      else d.log.warn(fields, 'job failed');
    });
    w.on('error', (err) => d.log.error({ queue: w.name, err: err.message }, 'worker error'));
  }
  return [completion, outbound, followUps];
}
