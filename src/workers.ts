// Every BullMQ worker of the service, wired in one place. Each queue's
// processor lives with its domain; this file only connects them.
import { UnrecoverableError, Worker } from 'bullmq';
import type { Notifier } from './channels/notifier.js';
import type { ConversationRunner } from './conversations/runner.js';
import type { Models } from './db.js';
import type { FlowRegistry } from './engine/load.js';
import { processFollowUp } from './invitations/follow-ups.js';
import type { Invitations } from './invitations/invitations.js';
import type { Logger } from './log.js';
import type { ChatLock } from './outbound/chat-lock.js';
import type { Outlets } from './outbound/send-ops.js';
import { processOutbound } from './outbound/worker.js';
import { completionJob, QUEUE } from './queues/jobs.js';
import { cappedBackoff, connection, type Queues } from './queues/queues.js';
import { PermanentJobError, persistCompletion } from './responses/complete.js';

export interface WorkerDeps {
  redisUrl: string;
  prefix: string;
  models: Models;
  flows: FlowRegistry;
  runner: ConversationRunner;
  invitations: Invitations;
  queues: Queues;
  outlets: Outlets;
  notifiers: ReadonlyMap<string, Notifier>;
  locks: ChatLock;
  log: Logger;
  outboundConcurrency?: number;
}

export function startWorkers(d: WorkerDeps): Worker[] {
  const base = { connection: connection(d.redisUrl, false), prefix: `${d.prefix}bull`, settings: { backoffStrategy: cappedBackoff } };
  const completion = new Worker(
    QUEUE.completion,
    async (job) => {
      const data = completionJob.parse(job.data);
      try {
        const outcome = await persistCompletion(d.models, d.flows, data);
        await d.invitations.markCompleted(data.ref, data.completedAt);
        return outcome;
      } catch (err) {
        if (err instanceof PermanentJobError) throw new UnrecoverableError(err.message);
        throw err;
      }
    },
    // Few at once: records may lag a few seconds under a burst, but database writes do not starve the webhook path of CPU
    // (on one machine with the local database, 8 at once cost about 10 % of intake at 800 respondents).
    { ...base, concurrency: 2 },
  );
  // A reminder the chat platform refused (window closed) is sent as a ZNS reminder to the phone, when there is one.
  const outboundDeps = { ...d, windowClosed: async (about: { ref: string }) => void (await d.queues.addZnsReminder(about.ref)) };
  const outbound = new Worker(QUEUE.outbound, (job, token) => processOutbound(job, token, outboundDeps), {
    ...base,
    concurrency: d.outboundConcurrency ?? 32,
  });
  const followUps = new Worker(QUEUE.reminders, (job, token) => processFollowUp(job, d, token), { ...base, concurrency: 4 });
  for (const w of [completion, outbound, followUps]) {
    w.on('failed', (job, err) => d.log.warn({ queue: w.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'));
    w.on('error', (err) => d.log.error({ queue: w.name, err: err.message }, 'worker error'));
  }
  return [completion, outbound, followUps];
}
