// Replies go out from this process right after the webhook has answered, so a
// respondent gets the next question after one platform call, not after a queue
// hop. Whatever cannot go at once (pacing, retry_after, a network error) is
// handed to the outbound queue, which retries it durably. Bursts we start
// ourselves always go through the queue.
import type { BackgroundTasks } from '../background.js';
import type { ChannelAdapter } from '../channels/channel.js';
import { KeyedSerializer } from '../conversations/serializer.js';
import type { Logger } from '../log.js';
import type { Queues } from '../queues/index.js';
import type { SendLimiter } from './rate-limit.js';
import { sendOps } from './send-ops.js';

type Channel = 'telegram' | 'zalo';

export class Dispatcher {
  private readonly serial = new KeyedSerializer();
  /** Chats whose replies had to wait (429, network): later replies queue behind them, in order. */
  private readonly heldUntil = new Map<string, number>();

  constructor(
    private readonly adapters: Partial<Record<Channel, ChannelAdapter<unknown>>>,
    private readonly limiters: Partial<Record<Channel, SendLimiter>>,
    private readonly queues: Queues,
    private readonly log: Logger,
    private readonly background: BackgroundTasks,
  ) {}

  /** Durable, paced: for reminders and other sends we start. */
  enqueue(channel: Channel, chat: string, ops: unknown[]) {
    return this.queues.addOutbound({ channel, chat, reply: false, ops: ops as never });
  }

  /** A reply: starts sending now and returns at once (the webhook never waits on the platform). */
  reply(channel: Channel, chat: string, ops: unknown[]): void {
    const adapter = this.adapters[channel];
    const limiter = this.limiters[channel];
    if (!adapter || !limiter) return;
    // Starts on the next turn of the event loop: the webhook's answer is written first.
    const task = this.serial.run(`${channel}:${chat}`, async () => {
      await new Promise((r) => setImmediate(r));
      const key = `${channel}:${chat}`;
      const held = this.heldUntil.get(key) ?? 0;
      if (held > Date.now()) {
        // Queue behind the reply that is waiting, one millisecond later, so the order holds.
        this.heldUntil.set(key, held + 1);
        await this.queues.addOutbound({ channel, chat, reply: true, ops: ops as never }, held + 1 - Date.now());
        return;
      }
      this.heldUntil.delete(key);
      const stop = await sendOps({ chat, paced: false, adapter, limiter, log: this.log, maxInlineWaitMs: 500 }, ops);
      if (stop.kind === 'defer' || stop.kind === 'failed') {
        const until = stop.kind === 'defer' ? stop.untilMs : Date.now() + 1_000;
        this.heldUntil.set(key, until);
        await this.queues.addOutbound({ channel, chat, reply: true, ops: ops as never, done: stop.from }, Math.max(0, until - Date.now()));
      }
    });
    this.background.run(`reply to ${channel}`, task);
  }
}
