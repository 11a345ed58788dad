// Delivers engine outputs to a respondent: rendered by their channel, then
// sent. Replies go out from this process right after the webhook has answered,
// so a respondent gets the next question after one platform call, not after a
// queue hop. Whatever cannot go at once (pacing, retry_after, a network error)
// is handed to the outbound queue, which retries it durably. Sends we start
// ourselves (reminders) always go through the queue.
import { randomUUID } from 'node:crypto';
import type { BackgroundTasks } from '../background.js';
import type { Respondent } from '../conversations/conversation.js';
import { KeyedSerializer } from '../conversations/serializer.js';
import type { Output } from '../engine/interpreter.js';
import type { Logger } from '../log.js';
import type { OutboundJob } from '../queues/jobs.js';
import type { Queues } from '../queues/queues.js';
import { tryAgain } from '../try-again.js';
import type { HeldReplies } from './held.js';
import { type Outlet, type Outlets, sendOps } from './send-ops.js';

/** `reply`: an answer to the respondent's own input (not paced); `about`: the invitation a send we start is about. */
export interface DeliverHow {
  reply: boolean;
  replyTo?: unknown;
  about?: OutboundJob['about'];
  /** Called once the reply is sent or durably queued (or cannot be sent from this process). */
  settled?: () => void;
  /** A reply job of this chat still waiting in the queue (known from the save): this reply goes after it. */
  heldBehind?: string;
}

/** How long a reply keeps trying to be sent or queued in this process before it is left to the recovery (which waits longer). */
const REPLY_RETRY_MS = 8_000;

/** A reply that must wait in the queue: queued once, whatever the tries (the job's id is the reply's). */
interface WaitingReply {
  job: Parameters<Queues['addOutbound']>[0];
  until: number;
  id: string;
}

export class Dispatcher {
  private readonly serial = new KeyedSerializer();
  /**
   * Chats whose replies had to wait (429, network), with the last queued job: later replies queue behind it, in order.
   * Other processes learn of it from the held mark (see ./held.ts) that the save returns.
   */
  private readonly held = new Map<string, { until: number; jobId: string }>();
  private prunedAt = 0;

  constructor(
    private readonly outlets: Outlets,
    private readonly queues: Queues,
    private readonly log: Logger,
    private readonly background: BackgroundTasks,
    private readonly heldReplies: HeldReplies,
  ) {}

  /** Renders and sends; a channel not running in this process (or none, e.g. a test) gets nothing. */
  async deliver(to: Respondent, outputs: Output[], how: DeliverHow): Promise<void> {
    const outlet = this.outlets.get(to.channel);
    const ops = outlet ? outlet.channel.render(outputs, how.replyTo) : [];
    if (!outlet || !ops.length) return void how.settled?.();
    if (how.reply) this.reply(outlet, to, ops, how);
    else await this.enqueue(outlet, to, ops, how.about);
  }

  /** Durable, paced: for reminders and other sends we start. The ops are checked against the channel's schema here, not when they fail later. */
  private enqueue(outlet: Outlet, to: Respondent, ops: unknown[], about: DeliverHow['about']) {
    const ok = outlet.channel.opSchema.array().parse(ops);
    return this.queues.addOutbound({ channel: to.channel, chat: to.userKey, reply: false, ops: ok, ...(about ? { about } : {}) });
  }

  /**
   * A reply: starts sending now and returns at once (the webhook never waits on the platform). When neither sending nor
   * queueing works (Redis unreachable: a failover, a blip), it tries again here, at least once a second, for a few
   * seconds, from where it stopped, the chat's later replies waiting behind it; after that the recovery asks again.
   */
  private reply(outlet: Outlet, to: Respondent, ops: unknown[], how: DeliverHow): void {
    const key = `${to.channel}:${to.userKey}`;
    // Starts on the next turn of the event loop: the webhook's answer is written first.
    const task = this.serial.run(key, async () => {
      await new Promise((r) => setImmediate(r));
      let waiting: WaitingReply | undefined;
      await tryAgain(
        async () => {
          waiting ??= await this.sendNow(outlet, key, to, ops, how.heldBehind);
          if (waiting) await this.queue(key, waiting);
        },
        REPLY_RETRY_MS,
        (err) => this.log.debug({ err: err.message }, 'reply neither sent nor queued; trying again'),
      );
      // Sent, or durably queued: the reply no longer depends on this process.
      how.settled?.();
    });
    this.background.run(`reply to ${to.channel}`, task);
  }

  /** Sends the reply: undefined once sent, else what must wait in the queue (behind a waiting reply, or from the op that could not go at once). */
  private async sendNow(outlet: Outlet, key: string, to: Respondent, ops: unknown[], heldBehind: string | undefined): Promise<WaitingReply | undefined> {
    const { channel, userKey: chat } = to;
    const local = this.held.get(key);
    const behind = local && local.until > Date.now() ? local.jobId : heldBehind;
    if (behind) {
      // Queue behind the reply that is waiting (the worker runs it once that one is done).
      return { job: { channel, chat, reply: true, ops, after: behind }, until: Math.max(Date.now(), (local?.until ?? 0) + 1), id: randomUUID() };
    }
    this.held.delete(key);
    const stop = await sendOps({ chat, paced: false, ...outlet, log: this.log, maxInlineWaitMs: 500 }, ops);
    if (stop.kind !== 'defer' && stop.kind !== 'failed') return undefined;
    const until = stop.kind === 'defer' ? stop.untilMs : Date.now() + 1_000;
    return { job: { channel, chat, reply: true, ops, done: stop.from }, until, id: randomUUID() };
  }

  /** Queues a reply that must wait, and marks the chat held by it (here and in Redis). */
  private async queue(key: string, { job, until, id }: WaitingReply) {
    const added = await this.queues.addOutbound(job, Math.max(0, until - Date.now()), id);
    this.held.set(key, { until, jobId: added.id! });
    // A chat that never writes again would keep its entry: past ones go once there are many (at most once a second).
    if (this.held.size > 1_000 && Date.now() - this.prunedAt > 1_000) {
      this.prunedAt = Date.now();
      for (const [k, h] of this.held) if (h.until <= this.prunedAt) this.held.delete(k);
    }
    await this.heldReplies.hold(key, added.id!);
  }
}
