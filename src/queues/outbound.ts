// The outbound worker: sends one job's operations in order, paced by the
// send limiter, honouring retry_after and never retrying a blocked chat.
import { DelayedError, type Job } from 'bullmq';
import type { ChannelAdapter } from '../channels/channel.js';
import type { Logger } from '../log.js';
import { outboundJob } from './jobs.js';
import type { SendLimiter } from './rate-limit.js';

/** Waits shorter than this are slept through in the job; longer ones delay the job. */
const MAX_INLINE_WAIT_MS = 2_000;

export interface OutboundDeps {
  adapters: Partial<Record<'telegram' | 'zalo', ChannelAdapter<unknown>>>;
  limiters: Partial<Record<'telegram' | 'zalo', SendLimiter>>;
  log: Logger;
}

export type OutboundOutcome = 'sent' | 'unreachable';

export async function processOutbound(job: Job, token: string | undefined, deps: OutboundDeps): Promise<OutboundOutcome> {
  const data = outboundJob.parse(job.data);
  const adapter = deps.adapters[data.channel];
  const limiter = deps.limiters[data.channel];
  if (!adapter || !limiter) throw new Error(`channel ${data.channel} is not enabled`);

  const delayJob = async (done: number, untilMs: number): Promise<never> => {
    await job.updateData({ ...data, done });
    await job.moveToDelayed(untilMs, token);
    throw new DelayedError();
  };

  for (let i = data.done; i < data.ops.length; i++) {
    for (;;) {
      const wait = await limiter.take(data.chat, !data.reply);
      if (wait === -1) return 'unreachable';
      if (wait === 0) break;
      if (wait > MAX_INLINE_WAIT_MS) return delayJob(i, Date.now() + wait);
      await new Promise((r) => setTimeout(r, wait));
    }
    let result: Awaited<ReturnType<ChannelAdapter<unknown>['send']>>;
    try {
      result = await adapter.send(data.chat, data.ops[i]);
    } catch (err) {
      // Transient: remember progress so the retry does not repeat what was sent.
      if (i > data.done) await job.updateData({ ...data, done: i });
      throw err;
    }
    if (result.ok) continue;
    if (result.kind === 'retry_after') {
      deps.log.warn({ channel: data.channel, retryAfterMs: result.ms }, 'rate limited by the platform');
      await limiter.pause(data.chat, Date.now() + result.ms);
      return delayJob(i, Date.now() + result.ms);
    }
    if (result.kind === 'unreachable') {
      deps.log.info({ channel: data.channel, reason: result.reason }, 'chat unreachable; no further sends');
      await limiter.markUnreachable(data.chat);
      return 'unreachable';
    }
    deps.log.warn({ channel: data.channel, reason: result.reason }, 'operation skipped');
  }
  return 'sent';
}
