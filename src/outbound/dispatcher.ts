// Delivers engine outputs to a respondent: rendered by their channel, then
// sent. Replies go out from this process right after the webhook has answered,
// so a respondent gets the next question after one platform call, not after a
// queue hop. Whatever cannot go at once (pacing, retry_after, a network error)
// is handed to the outbound queue, which retries it durably. Sends we start
// ourselves (reminders) always go through the queue.
import type { BackgroundTasks } from '../background.js';
import type { Respondent } from '../conversations/conversation.js';
import { KeyedSerializer } from '../conversations/serializer.js';
import type { Output } from '../engine/interpreter.js';
import type { Logger } from '../log.js';
import type { OutboundJob } from '../queues/jobs.js';
import type { Queues } from '../queues/queues.js';
import { type Outlet, type Outlets, sendOps } from './send-ops.js';

/** `reply`: an answer to the respondent's own input (not paced); `about`: the invitation a send we start is about. */
export interface DeliverHow {
  reply: boolean;
  replyTo?: unknown;
  about?: OutboundJob['about'];
  /** Called once the reply is sent or durably queued (or cannot be sent from this process). */
  settled?: () => void;
}

export class Dispatcher {
  private readonly serial = new KeyedSerializer();
  /** Chats whose replies had to wait (429, network): later replies queue behind them, in order. */
  private readonly heldUntil = new Map<string, number>();

  constructor(
    private readonly outlets: Outlets,
    private readonly queues: Queues,
    private readonly log: Logger,
    private readonly background: BackgroundTasks,
  ) {}

  /** Renders and sends; a channel not running in this process (or none, e.g. a test) gets nothing. */
  async deliver(to: Respondent, outputs: Output[], how: DeliverHow): Promise<void> {
    const outlet = this.outlets.get(to.channel);
    const ops = outlet ? outlet.channel.render(outputs, how.replyTo) : [];
    if (!outlet || !ops.length) return void how.settled?.();
    if (how.reply) this.reply(outlet, to, ops, how.settled);
    else await this.enqueue(outlet, to, ops, how.about);
  }

  /** Durable, paced: for reminders and other sends we start. The ops are checked against the channel's schema here, not when they fail later. */
  private enqueue(outlet: Outlet, to: Respondent, ops: unknown[], about: DeliverHow['about']) {
    const ok = outlet.channel.opSchema.array().parse(ops);
    return this.queues.addOutbound({ channel: to.channel, chat: to.userKey, reply: false, ops: ok, ...(about ? { about } : {}) });
  }

  /** A reply: starts sending now and returns at once (the webhook never waits on the platform). */
  private reply(outlet: Outlet, to: Respondent, ops: unknown[], settled?: () => void): void {
    const { channel, userKey: chat } = to;
    const key = `${channel}:${chat}`;
    // Starts on the next turn of the event loop: the webhook's answer is written first.
    const task = this.serial.run(key, async () => {
      await new Promise((r) => setImmediate(r));
      const held = this.heldUntil.get(key) ?? 0;
      if (held > Date.now()) {
        // Queue behind the reply that is waiting, one millisecond later, so the order holds.
        this.heldUntil.set(key, held + 1);
        await this.queues.addOutbound({ channel, chat, reply: true, ops }, held + 1 - Date.now());
        settled?.();
        return;
      }
      this.heldUntil.delete(key);
      const stop = await sendOps({ chat, paced: false, ...outlet, log: this.log, maxInlineWaitMs: 500 }, ops);
      if (stop.kind === 'defer' || stop.kind === 'failed') {
        const until = stop.kind === 'defer' ? stop.untilMs : Date.now() + 1_000;
        this.heldUntil.set(key, until);
        await this.queues.addOutbound({ channel, chat, reply: true, ops, done: stop.from }, Math.max(0, until - Date.now()));
      }
      // Sent, or durably queued: the reply no longer depends on this process.
      settled?.();
    });
    this.background.run(`reply to ${channel}`, task);
  }
}
