// The one send loop, used both right after a webhook (replies) and by the
// outbound queue worker (bursts we start, and replies that had to wait).
// Ops go out in order; ops the channel marks concurrent (edits of an
// answered question) run alongside the next ones instead of before them.
import { type Channel, type SendResult, TransientSendError } from '../channels/channel.js';
import type { ChannelName } from '../channels/registry.js';
import type { Logger } from '../log.js';
import type { SendLimiter } from './rate-limit.js';

/** A running channel and its send limiter. */
export interface Outlet {
  channel: Channel;
  limiter: SendLimiter;
}

/** The running channels of this process, by name. */
export type Outlets = ReadonlyMap<ChannelName, Outlet>;

export type SendStop =
  | { kind: 'done' }
  | { kind: 'unreachable' }
  /** The platform's window for this user is closed (see SendResult): the rest is not sent. */
  | { kind: 'window_closed' }
  /** Stop here and send ops[from..] again at `untilMs` (pacing or the platform's retry_after). */
  | { kind: 'defer'; from: number; untilMs: number }
  /** A transient failure at ops[from]: retry ops[from..] with backoff. */
  | { kind: 'failed'; from: number; error: Error };

export interface SendTarget extends Outlet {
  chat: string;
  /** Paced: sends we start; unpaced: replies to the respondent's own input. */
  paced: boolean;
  log: Logger;
  /** Waits up to this long are slept through; longer ones defer. */
  maxInlineWaitMs: number;
  /**
   * A transient failure is tried again at once (with a new slot), once per op, before the send gives up: a single
   * failed call then costs one slot, not a backoff. The queue worker does; a reply sent right after a webhook does
   * not (its failure queues it, and the chat's later replies queue behind it).
   */
  retryOnce?: boolean;
}

/** Waits for a send slot, sleeping through short waits: undefined when ops[from] may go now, else where to stop. */
async function takeSlot(t: SendTarget, from: number): Promise<SendStop | undefined> {
  for (;;) {
    const wait = await t.limiter.take(t.chat, t.paced);
    if (wait === -1) return { kind: 'unreachable' };
    if (wait === 0) return undefined;
    if (wait > t.maxInlineWaitMs) return { kind: 'defer', from, untilMs: Date.now() + wait };
    await new Promise((r) => setTimeout(r, wait));
  }
}

export async function sendOps(t: SendTarget, ops: readonly unknown[], from = 0): Promise<SendStop> {
  const background: Promise<void>[] = [];
  try {
    for (let i = from; i < ops.length; i++) {
      const op = ops[i];
      if (t.channel.concurrent(op)) {
        // Cosmetic (an edit of the answered question): not paced, and a failure is logged, never retried.
        background.push(
          t.channel.send(t.chat, op).then(
            (r) => void (r.ok || t.log.debug({ reason: 'kind' in r ? r.kind : '' }, 'concurrent op not applied')),
            (err: Error) => t.log.debug({ err: err.message }, 'concurrent op failed'),
          ),
        );
        continue;
      }
      let result: SendResult | undefined;
      for (let tries = t.retryOnce ? 2 : 1; !result; tries--) {
        let stop: SendStop | undefined;
        try {
          stop = await takeSlot(t, i);
        } catch (err) {
          // Redis unreachable (a failover): nothing was sent; the caller tries again from here.
          return { kind: 'failed', from: i, error: err as Error };
        }
        if (stop) return stop;
        try {
          result = await t.channel.send(t.chat, op);
        } catch (err) {
          if (!(err instanceof TransientSendError)) throw err;
          if (tries === 1) return { kind: 'failed', from: i, error: err };
          t.log.debug({ err: err.message }, 'send failed; trying once more');
        }
      }
      if (result.ok) continue;
      if (result.kind === 'retry_after') {
        t.log.warn({ retryAfterMs: result.ms }, 'rate limited by the platform');
        // Advisory (the deferral below holds this send back anyway): a pause that cannot be written is not a failure.
        await t.limiter.pause(t.chat, result.ms).catch((err: Error) => t.log.debug({ err: err.message }, 'pause not recorded'));
        return { kind: 'defer', from: i, untilMs: Date.now() + result.ms };
      }
      if (result.kind === 'window_closed') {
        t.log.info({ reason: result.reason }, 'outside the platform window for this user; not sent');
        return { kind: 'window_closed' };
      }
      if (result.kind === 'unreachable') {
        t.log.info({ reason: result.reason }, 'chat unreachable; no further sends');
        await t.limiter.markUnreachable(t.chat);
        return { kind: 'unreachable' };
      }
      t.log.warn({ reason: result.reason }, 'operation skipped');
    }
    return { kind: 'done' };
  } finally {
    await Promise.all(background);
  }
}
