// The outbound queue worker: paced sends we start (reminders, audits) and
// replies that could not go out at once.
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from '../log.js';
import { type OutboundJob, outboundJob } from '../queues/jobs.js';
import type { ChatLock } from './chat-lock.js';
import type { HeldReplies } from './held.js';
import { type Outlets, sendOps } from './send-ops.js';

export interface OutboundDeps {
  outlets: Outlets;
  log: Logger;
  locks: ChatLock;
  held: HeldReplies;
  /** Whether an outbound job is still to run (waiting, delayed, active). */
  isPending(jobId: string): Promise<boolean>;
  /** A send about an invitation met a closed window: queue what stands in for it (a ZNS reminder). */
  windowClosed?: (about: NonNullable<OutboundJob['about']>) => Promise<void>;
}

export type OutboundOutcome = 'sent' | 'unreachable' | 'window-closed' | 'fallback';

export async function processOutbound(job: Job, token: string | undefined, deps: OutboundDeps): Promise<OutboundOutcome> {
  const data = outboundJob.parse(job.data);
  const outlet = deps.outlets.get(data.channel);
  if (!outlet) throw new Error(`channel ${data.channel} is not enabled in this process`);
  // The owning channel's schema: a job written by an older or broken build fails here, not at the platform.
  const parsed = outlet.channel.opSchema.array().safeParse(data.ops);
  if (!parsed.success) throw new UnrecoverableError(`ops are not ${data.channel} operations: ${parsed.error.message}`);
  const ops = parsed.data;
  // The job, not this run of it: run again after its process died, it takes back the chat's lock that process left
  // (else the chat's replies waited for it to expire, a minute of silence after a crash).
  const owner = job.id!;
  // A reply queued behind another of its chat waits for it; another job of this chat sending: come back right after it.
  if ((data.after && (await deps.isPending(data.after))) || !(await deps.locks.acquire(data.channel, data.chat, owner))) {
    await job.moveToDelayed(Date.now() + 100, token);
    throw new DelayedError();
  }
  let stop: Awaited<ReturnType<typeof sendOps>>;
  try {
    stop = await sendOps({ chat: data.chat, paced: !data.reply, ...outlet, log: deps.log, maxInlineWaitMs: 2_000, retryOnce: true }, ops, data.done);
  } finally {
    await deps.locks.release(data.channel, data.chat, owner);
  }
  // Done with this reply, one way or another: later replies of the chat may go direct again (unless one queued behind it).
  if (data.reply && stop.kind !== 'defer' && stop.kind !== 'failed') await deps.held.release(`${data.channel}:${data.chat}`, job.id!);
  switch (stop.kind) {
    case 'done':
      return 'sent';
    case 'unreachable':
      return 'unreachable';
    case 'window_closed':
      if (!data.about || !deps.windowClosed) return 'window-closed';
      await deps.windowClosed(data.about);
      return 'fallback';
    case 'defer':
      // Remember progress, so what was sent is not sent again.
      await job.updateData({ ...data, done: stop.from });
      await job.moveToDelayed(stop.untilMs, token);
      throw new DelayedError();
    case 'failed':
      await job.updateData({ ...data, done: stop.from });
      throw stop.error;
  }
}
