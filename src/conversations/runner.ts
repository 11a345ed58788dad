// The conversation runner: turns one inbound platform event into a new
// conversation state and outputs. Per conversation, events are processed one
// at a time in this process; across processes the compare-and-set save detects
// a stale read and the (pure) step is recomputed on fresh state.
import { type FlowEvent, type Output, type Session, startSession, step } from '../engine/interpreter.js';
import type { FlowRegistry } from '../engine/load.js';
import { normalizeCode } from '../invitations/codes.js';
import { type ChannelName, type Conversation, conversationKey, type SurveyStart } from './conversation.js';
import { RUNNER_MSG } from './messages.js';
import { KeyedSerializer } from './serializer.js';
import type { ConversationStore } from './store.js';

export type InboundEvent = {
  channel: ChannelName;
  /** The platform's chat/user id, as a string (Zalo ids exceed 2^53). */
  userKey: string;
  /** The platform's event id (Telegram update_id, Zalo msg_id): a repeat is ignored. */
  eventId?: string;
  /** Channel-specific data the channel needs to render the reply (e.g. the tapped message). */
  meta?: unknown;
} & ({ kind: 'start'; token?: string } | { kind: 'text'; text: string } | { kind: 'choice'; seq: number; key: string });

export type OpenResult =
  | { ok: true; start: SurveyStart }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'cancelled' | 'taken' | 'locked'; lockedMinutes?: number };

/** Looks invitations up (MongoDB); read-only, so a recomputed step can call it again safely. */
export interface InvitationOpener {
  open(by: { token: string } | { code: string }, who: { channel: ChannelName; userKey: string }): Promise<OpenResult>;
}

export interface Completion {
  ref: string;
  flow: string;
  channel: ChannelName;
  userKey: string;
  answers: Session['ans'];
  startedAt: number;
  completedAt: number;
}

/** What happens after the conversation is saved. Each is durable (a queue) or harmless to lose. */
export interface Effects {
  /** `reply`: an answer to the respondent's own input (not paced), or a send we started (paced). */
  deliver(event: InboundEvent, outputs: Output[], reply: boolean): Promise<void>;
  completed(c: Completion): Promise<void>;
  opened(ref: string, who: { channel: ChannelName; userKey: string }): Promise<void>;
}

export interface HandleResult {
  duplicate: boolean;
  outputs: Output[];
  events: FlowEvent[];
}

export class ConflictError extends Error {
  override name = 'ConflictError';
}

const SWITCH_SEQ = 0; // engine prompts start at 1, so seq 0 is the "which survey" question

interface Decision {
  conversation: Conversation;
  outputs: Output[];
  events: FlowEvent[];
  opened?: string;
}

export class ConversationRunner {
  private readonly serial = new KeyedSerializer();
  /** Saves refused because another process wrote first (each was recomputed). */
  casRetries = 0;

  constructor(
    private readonly deps: {
      store: ConversationStore;
      flows: FlowRegistry;
      opener: InvitationOpener;
      effects: Effects;
      now?: () => number;
      maxAttempts?: number;
    },
  ) {}

  handle(ev: InboundEvent): Promise<HandleResult> {
    const key = conversationKey(ev.channel, ev.userKey);
    return this.serial.run(key, () => this.process(key, ev));
  }

  private async process(key: string, ev: InboundEvent): Promise<HandleResult> {
    const { store, effects } = this.deps;
    const now = this.deps.now ?? Date.now;
    let opening: OpenResult | undefined;
    let cur = await store.read(key);
    for (let attempt = 0; attempt < (this.deps.maxAttempts ?? 20); attempt++) {
      if (opening === undefined && ev.eventId && this.mayOpen(ev) && (await store.seen(ev.eventId))) {
        // Opening an invitation counts wrong codes before the save: a redelivery must not count again.
        return { duplicate: true, outputs: [], events: [] };
      }
      opening ??= await this.opening(ev, cur.conversation);
      const d = this.decide(cur.conversation, ev, opening, now());
      const saved = await store.save(key, cur.version, d.conversation, ev.eventId);
      if (!saved.ok) {
        if (saved.duplicate) return { duplicate: true, outputs: [], events: [] };
        // Another process wrote first: recompute on its state (the step is pure), after a short jittered pause.
        this.casRetries++;
        cur = saved.current;
        await new Promise((r) => setTimeout(r, Math.random() * 2 * (attempt + 1)));
        continue;
      }

      const s = d.conversation.s;
      const after: Promise<void>[] = [effects.deliver(ev, d.outputs, true)];
      if (s && d.events.some((e) => e.type === 'completed')) {
        after.push(
          effects.completed({
            ref: s.ref,
            flow: s.flow,
            channel: ev.channel,
            userKey: ev.userKey,
            answers: s.ans,
            startedAt: s.startedAt,
            completedAt: s.completedAt!,
          }),
        );
      }
      if (d.opened) after.push(effects.opened(d.opened, ev));
      await Promise.all(after);
      return { duplicate: false, outputs: d.outputs, events: d.events };
    }
    throw new ConflictError(`conversation ${key}: too many concurrent writers`);
  }

  /**
   * A reminder or an expiry for the survey `ref`: applied only if that survey is
   * still the chat's active one (a stale job changes nothing). Returns whether it applied.
   */
  nudge(channel: ChannelName, userKey: string, ref: string, input: 'tick' | 'expire'): Promise<boolean> {
    const key = conversationKey(channel, userKey);
    return this.serial.run(key, async () => {
      const now = this.deps.now ?? Date.now;
      let cur = await this.deps.store.read(key);
      for (let attempt = 0; attempt < (this.deps.maxAttempts ?? 20); attempt++) {
        const s = cur.conversation.s;
        if (!s || s.ref !== ref || s.status !== 'active') return false;
        const d = this.run(cur.conversation, s, { type: input }, now());
        const saved = await this.deps.store.save(key, cur.version, d.conversation);
        if (!saved.ok) {
          if (!saved.duplicate) cur = saved.current;
          continue;
        }
        if (d.outputs.length) await this.deps.effects.deliver({ channel, userKey, kind: 'text', text: '' }, d.outputs, false);
        return true;
      }
      throw new ConflictError(`conversation ${key}: too many concurrent writers`);
    });
  }

  private mayOpen(ev: InboundEvent): boolean {
    return (ev.kind === 'start' && !!ev.token) || (ev.kind === 'text' && normalizeCode(ev.text) !== undefined);
  }

  /** An invitation to open: a /start token, or a typed short code when not answering free text. */
  private async opening(ev: InboundEvent, conv: Conversation): Promise<OpenResult | undefined> {
    const who = { channel: ev.channel, userKey: ev.userKey };
    if (ev.kind === 'start') return ev.token ? this.deps.opener.open({ token: ev.token }, who) : undefined;
    if (ev.kind !== 'text') return undefined;
    const code = normalizeCode(ev.text);
    if (!code) return undefined;
    const s = conv.s;
    const flow = s?.status === 'active' ? this.deps.flows.get(s.flow) : undefined;
    const answeringText = flow?.questions[flow.indexOf.get(s!.q!)!]?.type === 'text';
    return answeringText ? undefined : this.deps.opener.open({ code }, who);
  }

  private decide(conv: Conversation, ev: InboundEvent, opening: OpenResult | undefined, now: number): Decision {
    const s = conv.s;
    const say = (text: string): Decision => ({ conversation: conv, outputs: [{ type: 'text', text }], events: [] });

    if (opening && !opening.ok) {
      if (opening.reason === 'locked') return say(RUNNER_MSG.lockedOut(opening.lockedMinutes ?? 15));
      return say(RUNNER_MSG[opening.reason === 'unknown' ? 'unknownCode' : opening.reason]);
    }
    if (opening?.ok) {
      const start = opening.start;
      if (s?.ref === start.ref) {
        if (s.status === 'completed') return say(RUNNER_MSG.used);
        if (s.status === 'active') return this.run({ ...conv, offer: undefined }, s, { type: 'resume' }, now, [RUNNER_MSG.resume]);
      } else if (s?.status === 'active') {
        const outputs: Output[] = [
          {
            type: 'question',
            questionId: 'switch',
            seq: SWITCH_SEQ,
            text: RUNNER_MSG.switchAsk,
            choices: [
              { key: 'keep', label: RUNNER_MSG.keepLabel },
              { key: 'new', label: RUNNER_MSG.newLabel },
            ],
          },
        ];
        return { conversation: { ...conv, offer: start }, outputs, events: [] };
      }
      return this.begin(start, now);
    }

    if (conv.offer) {
      const choice =
        ev.kind === 'choice' && ev.seq === SWITCH_SEQ
          ? ev.key
          : ev.kind === 'text'
            ? ({ '1': 'keep', '2': 'new' } as const)[ev.text.trim() as '1' | '2']
            : undefined;
      if (choice === 'new') {
        const stopped = s ? step(this.deps.flows.get(s.flow), s, { type: 'expire' }, now) : undefined;
        const d = this.begin(conv.offer, now);
        return { ...d, events: [...(stopped?.events ?? []), ...d.events] };
      }
      if (choice === 'keep' && s) return this.run({ s }, s, { type: 'resume' }, now, [RUNNER_MSG.resume]);
    } else if (ev.kind === 'choice' && ev.seq === SWITCH_SEQ) {
      // An old "which survey" button: carry on with the current one.
      return s?.status === 'active' ? this.run(conv, s, { type: 'resume' }, now, [RUNNER_MSG.resume]) : say(RUNNER_MSG.howToStart);
    }

    if (!s) return say(RUNNER_MSG.howToStart);
    if (ev.kind === 'start') return s.status === 'active' ? this.run(conv, s, { type: 'resume' }, now, [RUNNER_MSG.resume]) : say(RUNNER_MSG.howToStart);
    const input = ev.kind === 'choice' ? { type: 'choice' as const, seq: ev.seq, key: ev.key } : { type: 'text' as const, text: ev.text };
    return this.run({ s }, s, input, now);
  }

  private begin(start: SurveyStart, now: number): Decision {
    const r = startSession(this.deps.flows.get(start.flow), start.ref, start.ctx, now);
    return { conversation: { s: r.session }, outputs: r.outputs, events: r.events, opened: start.ref };
  }

  private run(conv: Conversation, s: Session, input: Parameters<typeof step>[2], now: number, before: string[] = []): Decision {
    const r = step(this.deps.flows.get(s.flow), s, input, now);
    const outputs: Output[] = [...before.map((text) => ({ type: 'text' as const, text })), ...r.outputs];
    return { conversation: { ...conv, s: r.session }, outputs, events: r.events };
  }
}
