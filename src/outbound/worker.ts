// The outbound queue worker: paced sends we start (reminders, audits) and
// replies that could not go out at once.
import { DelayedError, type Job } from 'bullmq';
import type { ChannelAdapter } from '../channels/channel.js';
import type { Logger } from '../log.js';
import { outboundJob } from '../queues/jobs.js';
import type { ChatLock } from './chat-lock.js';
import type { SendLimiter } from './rate-limit.js';
import { sendOps } from './send-ops.js';

export interface OutboundDeps {
  adapters: Partial<Record<'telegram' | 'zalo', ChannelAdapter<unknown>>>;
  limiters: Partial<Record<'telegram' | 'zalo', SendLimiter>>;
  log: Logger;
  locks: ChatLock;
}

export type OutboundOutcome = 'sent' | 'unreachable';

export async function processOutbound(job: Job, token: string | undefined, deps: OutboundDeps): Promise<OutboundOutcome> {
  const data = outboundJob.parse(job.data);
  const adapter = deps.adapters[data.channel];
  const limiter = deps.limiters[data.channel];
  if (!adapter || !limiter) throw new Error(`channel ${data.channel} is not enabled`);
  const owner = `${job.id}:${token ?? ''}`;
  if (!(await deps.locks.acquire(data.channel, data.chat, owner))) {
    // Another job of this chat is sending: come back right after it.
    await job.moveToDelayed(Date.now() + 100, token);
    throw new DelayedError();
  }
  let stop: Awaited<ReturnType<typeof sendOps>>;
  try {
    stop = await sendOps({ chat: data.chat, paced: !data.reply, adapter, limiter, log: deps.log, maxInlineWaitMs: 2_000 }, data.ops, data.done);
  } finally {
    await deps.locks.release(data.channel, data.chat, owner);
  }
  switch (stop.kind) {
    case 'done':
      return 'sent';
    case 'unreachable':
      return 'unreachable';
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
