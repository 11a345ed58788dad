// The conversation runner: the I/O around ./decide.ts. Per conversation,
// events are processed one at a time in this process; across processes the
// compare-and-set save detects a stale read and the (pure) decision is
// recomputed on fresh state.
import { type FlowEvent, lastWords, type Output, type Session, step } from '../engine/interpreter.js';
import type { FlowRegistry } from '../engine/load.js';
import { type Conversation, conversationKey, type Respondent, respondentOf, type SurveyStart } from './conversation.js';
import { answeringText, beginOwn, type Decision, decide, type EventInput, nudge, type OpenResult } from './decide.js';
import { KeyedSerializer } from './serializer.js';
import type { ConversationStore } from './store.js';

export type { OpenResult };

export type InboundEvent = Respondent & {
  /** The platform's event id (an update or message id): a repeat is ignored. */
  eventId?: string;
  /** Opaque to the core: what the channel needs to render the reply (e.g. the tapped message). */
  replyTo?: unknown;
} & EventInput;

/** Opens invitations (Redis on the webhook path); a recomputed decision may call it again, so it must be idempotent for one respondent. */
export interface InvitationOpener {
  /** The short code in a typed text (alone or inside a sentence), or undefined. */
  codeIn(text: string): string | undefined;
  /** `dedupeKey`: the event's dedupe mark; a redelivered event opens nothing and gets reason "duplicate". */
  open(by: { token: string } | { code: string }, who: Respondent, dedupeKey: string): Promise<OpenResult>;
}

/** What a send we start is about: if the platform refuses it (window closed), a template to a phone may stand in. */
export interface SendAbout {
  ref: string;
  purpose: 'reminder' | 'verification';
}

export interface Completion extends Respondent {
  ref: string;
  flow: string;
  answers: Session['ans'];
  /** The respondent's language when not Vietnamese. */
  lang?: string;
  startedAt: number;
  completedAt: number;
}

/** What happens after the conversation is saved. Each is durable (a queue) or harmless to lose. */
export interface Effects {
  /** `reply`: an answer to the respondent's own input (not paced), or a send we started (paced). */
  /** `settled`: called once a reply is sent or durably queued (or cannot be sent from this process). */
  /** `heldBehind`: a reply job of this chat still waiting in the queue (from the save): this reply must go after it. */
  deliver(
    to: Respondent,
    outputs: Output[],
    how: { reply: boolean; replyTo?: unknown; about?: SendAbout; settled?: () => void; heldBehind?: string },
  ): Promise<void>;
  completed(c: Completion): Promise<void>;
  /**
   * An invitation opened in this chat at `at`: resolves once the opening is durably queued, which may be a moment
   * after the webhook's answer (nothing waits for it but the save's mark, see process).
   */
  opened(ref: string, who: Respondent, at: number): Promise<void>;
  /** Whether this process runs the channel (a process without it leaves that channel's unsent replies to one that has it). */
  delivers(channel: string): boolean;
}

export interface HandleResult {
  duplicate: boolean;
  outputs: Output[];
  events: FlowEvent[];
}

/** The ballot of a finished survey, as the completion job records it. */
const completionOf = (s: Session, who: Respondent): Completion => ({
  ref: s.ref,
  flow: s.flow,
  channel: who.channel,
  userKey: who.userKey,
  answers: s.ans,
  ...(s.lang ? { lang: s.lang } : {}),
  startedAt: s.startedAt,
  completedAt: s.completedAt!,
});

export class ConflictError extends Error {
  override name = 'ConflictError';
}

const DUPLICATE: HandleResult = { duplicate: true, outputs: [], events: [] };

/** A reply-owed mark older than this when a later save replaces it was left by a process that died or stalled. */
const TAKE_OVER_MARK_AFTER_MS = 5_000;

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

  private now() {
    return (this.deps.now ?? Date.now)();
  }

  handle(ev: InboundEvent): Promise<HandleResult> {
    const key = conversationKey(ev);
    return this.serial.run(key, () => this.process(key, ev));
  }

  private async process(key: string, ev: InboundEvent): Promise<HandleResult> {
    const { store, effects, flows } = this.deps;
    let opening: OpenResult | undefined;
    let opened = false;
    let decidedOn: Conversation | undefined;
    const savedAt = this.now();
    const result = await this.saveLoop(key, ev.eventId, savedAt, async (conv) => {
      decidedOn = conv;
      if (!opened) {
        const by = this.invitationNamed(ev, conv);
        // Opening counts wrong codes and claims the invitation before the save: a redelivery must not count again.
        opening = by ? await this.deps.opener.open(by, ev, store.dedupeKey(key, ev.eventId)) : undefined;
        opened = true;
      }
      if (opening && !opening.ok && opening.reason === 'duplicate') return undefined;
      return decide(flows, conv, ev, opening, this.now());
    });
    if (!result) return DUPLICATE;
    const { decision: d, heldBehind, owedSince } = result;
    const s = d.conversation.s;
    const completed = s && d.events.some((e) => e.type === 'completed');
    // The save's mark goes once the reply is out and, when the survey ended, its ballot is queued, and when it opened
    // an invitation, its opening is: one that could not be queued (the queue's Redis node lost, the process killed) is
    // queued again by the recovery (recoverUnsent). The webhook does not wait for the opening (queued in batches).
    // This save replaced the mark of an earlier one not yet settled (its process may have died before queueing): this
    // settlement clears that mark, so this save takes over what the recovery would have done with it. The ballot of a
    // survey that ended: queued again (at most once recorded: its job id, its unique response). The opening of one in
    // progress: only when the mark is older than a live process leaves one (queued again, it costs a database write).
    const inherited = owedSince === undefined ? undefined : decidedOn?.s;
    const requeued = inherited?.status === 'completed' && inherited.completedAt && !(completed && s.ref === inherited.ref) ? inherited : undefined;
    const reopened = inherited?.status === 'active' && savedAt - owedSince! >= TAKE_OVER_MARK_AFTER_MS ? inherited : undefined;
    let outstanding = 1 + (completed ? 1 : 0) + (d.opened ? 1 : 0) + (requeued ? 1 : 0) + (reopened ? 1 : 0);
    const settled = () => void (--outstanding === 0 && store.replySettled(key, savedAt).catch(() => {}));
    const after: Promise<void>[] = [effects.deliver(ev, d.outputs, { reply: true, replyTo: ev.replyTo, settled, ...(heldBehind ? { heldBehind } : {}) })];
    if (completed) after.push(effects.completed(completionOf(s, ev)).then(settled));
    if (requeued) after.push(effects.completed(completionOf(requeued, ev)).then(settled));
    if (d.opened) effects.opened(d.opened, { channel: ev.channel, userKey: ev.userKey }, savedAt).then(settled, () => {});
    if (reopened) effects.opened(reopened.ref, { channel: ev.channel, userKey: ev.userKey }, reopened.startedAt).then(settled, () => {});
    await Promise.all(after);
    return { duplicate: false, outputs: d.outputs, events: d.events };
  }

  /** The conversation as it stands and what to show for it now (the current question again), without changing it. */
  async current(who: Respondent): Promise<{ conversation: Conversation; outputs: Output[] }> {
    const { conversation } = await this.deps.store.read(conversationKey(who));
    const s = conversation.s;
    if (s?.status !== 'active' || !s.q) return { conversation, outputs: [] };
    return { conversation, outputs: step(this.deps.flows.get(s.flow), s, { type: 'resume' }, this.now()).outputs };
  }

  /** The respondent asks to go on with the survey they stopped (the browser's "continue" button): as reopening its invitation. */
  resumeStopped(who: Respondent): Promise<HandleResult> {
    const key = conversationKey(who);
    return this.serial.run(key, async () => {
      const result = await this.saveLoop(key, undefined, undefined, async (conv) => {
        const s = conv.s;
        if (s?.end !== 'stopped') return undefined;
        return decide(this.deps.flows, conv, { kind: 'start' }, { ok: true, start: { ref: s.ref, flow: s.flow, ctx: s.ctx } }, this.now());
      });
      return result ? { duplicate: false, outputs: result.decision.outputs, events: result.decision.events } : DUPLICATE;
    });
  }

  /**
   * A reminder or an expiry for the survey `ref`: applied only if that survey is
   * still the chat's active one (a stale job changes nothing). Returns whether it applied.
   */
  nudge(who: Respondent, ref: string, input: 'tick' | 'expire', purpose: SendAbout['purpose'] = 'reminder'): Promise<boolean> {
    const key = conversationKey(who);
    return this.serial.run(key, async () => {
      const result = await this.saveLoop(key, undefined, undefined, async (conv) => nudge(this.deps.flows, conv, ref, input, this.now()));
      if (!result) return false;
      if (result.decision.outputs.length) {
        await this.deps.effects.deliver(who, result.decision.outputs, { reply: false, ...(input === 'tick' ? { about: { ref, purpose } } : {}) });
      }
      return true;
    });
  }

  /**
   * Replies saved but never sent (the process died in between, see
   * ConversationStore.unsent): the current question is asked again through
   * the durable outbound queue, or the thanks if the lost reply ended the
   * survey. Returns how many conversations it recovered. One that cannot be
   * recovered now (not sent, its Redis node down) keeps its mark and does not
   * hold back the others, nor does a bucket of marks that cannot be read: the
   * error goes to `onError`, or is thrown once the others are done.
   */
  async recoverUnsent(before: number, onError?: (err: Error) => void): Promise<number> {
    const settled: Promise<void>[] = [];
    const failed: Error[] = [];
    const fail = (err: Error) => {
      failed.push(err);
      onError?.(err);
    };
    const convs = await this.deps.store.unsent(before, undefined, fail);
    let recovered = 0;
    for (const conv of convs) await this.recoverOne(conv, settled).then(() => recovered++, fail);
    for (const r of await Promise.allSettled(settled)) if (r.status === 'rejected') fail(r.reason as Error);
    if (failed.length && !onError) throw failed[0];
    return recovered;
  }

  /** Asks again what `conv` is owed (see recoverUnsent); its settlement is added to `settled`. */
  private async recoverOne(conv: string, settled: Promise<void>[]): Promise<void> {
    const { store, effects } = this.deps;
    const who = respondentOf(conv);
    if (!effects.delivers(who.channel)) return;
    const { conversation, outputs } = await this.current(who);
    const s = conversation.s;
    // Queued again in case its queueing was lost; a ballot already queued or recorded is not queued twice (its job id).
    if (s?.status === 'completed' && s.completedAt) await effects.completed(completionOf(s, who));
    const owed = outputs.length || !s ? outputs : lastWords(this.deps.flows.get(s.flow), s);
    if (owed.length) await effects.deliver(who, owed, { reply: false });
    // Likewise the opening of a survey in progress (recorded once, whatever it is given: a completion records its own),
    // queued in a batch a moment later: the mark goes once it is.
    const opening = s?.status === 'active' ? effects.opened(s.ref, who, s.startedAt) : Promise.resolve();
    settled.push(opening.then(() => store.replySettled(conv, Number.MAX_SAFE_INTEGER)));
  }

  private recovery?: NodeJS.Timeout;

  /** Looks for replies never sent every `everyMs`, taking those owed for longer than `afterMs` (a send in flight is not one). */
  startRecovery(everyMs: number, afterMs: number, onError: (err: Error) => void): void {
    this.stopRecovery();
    this.recovery = setInterval(() => void this.recoverUnsent(this.now() - afterMs, onError).catch(onError), everyMs);
    this.recovery.unref();
  }

  stopRecovery(): void {
    if (this.recovery) clearInterval(this.recovery);
    this.recovery = undefined;
  }

  /** Starts a survey we begin (post-audit verification) in a chat and sends its first question, unless a survey is in progress there. */
  begin(who: Respondent, start: SurveyStart, purpose: SendAbout['purpose']): Promise<'started' | 'busy' | 'already'> {
    const key = conversationKey(who);
    return this.serial.run(key, async () => {
      let outcome: 'busy' | 'already' | undefined;
      const result = await this.saveLoop(key, undefined, undefined, async (conv) => {
        const d = beginOwn(this.deps.flows, conv, start, this.now());
        if (typeof d === 'string') outcome = d;
        return typeof d === 'string' ? undefined : d;
      });
      if (!result) return outcome ?? 'already';
      await this.deps.effects.deliver(who, result.decision.outputs, { reply: false, about: { ref: start.ref, purpose } });
      return 'started';
    });
  }

  /**
   * Decides on the stored conversation and saves with compare-and-set, recomputing on a newer version. undefined: nothing to save.
   * `owesReplyAt`: the save marks the conversation as owing a reply (sent right after, outside the save).
   */
  private async saveLoop(
    key: string,
    eventId: string | undefined,
    owesReplyAt: number | undefined,
    decideOn: (conv: Conversation) => Promise<Decision | undefined>,
  ): Promise<{ decision: Decision; heldBehind?: string; owedSince?: number } | undefined> {
    const { store } = this.deps;
    let cur = await store.read(key);
    for (let attempt = 0; attempt < (this.deps.maxAttempts ?? 20); attempt++) {
      const decision = await decideOn(cur.conversation);
      if (!decision) return undefined;
      const saved = await store.save(key, cur.version, decision.conversation, eventId, decision.outputs.length ? owesReplyAt : undefined);
      if (saved.ok) return { decision, heldBehind: saved.heldBehind, owedSince: saved.owedSince };
      if (saved.duplicate) return undefined;
      // Another process wrote first: recompute on its state (the decision is pure). At once the first time: that is
      // nearly always this process's cached copy being behind (the chat's last update went to another web process),
      // and a pause would hold the webhook for nothing. After that, writers are racing: a short jittered pause.
      this.casRetries++;
      cur = saved.current;
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 2 * attempt));
    }
    throw new ConflictError(`conversation ${key}: too many concurrent writers`);
  }

  /** An invitation the event names: a /start token, or a typed short code when the survey is not waiting for free text. */
  private invitationNamed(ev: InboundEvent, conv: Conversation): { token: string } | { code: string } | undefined {
    if (ev.kind === 'start') return ev.token ? { token: ev.token } : undefined;
    if (ev.kind !== 'text') return undefined;
    const code = this.deps.opener.codeIn(ev.text);
    return code && !answeringText(this.deps.flows, conv) ? { code } : undefined;
  }
}
