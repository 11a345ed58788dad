// Conversation-level decisions, beside the engine and as pure as it: which
// survey an event belongs to (open, resume, offer to switch, stale switch
// buttons), then the engine's step. (conversation, event, opening, now) ->
// (conversation', outputs, events). The runner does the I/O around it.
import { type FlowEvent, type Input, type Output, type Session, startSession, step } from '../engine/interpreter.js';
import type { FlowRegistry } from '../engine/load.js';
import type { Conversation, SurveyStart } from './conversation.js';
import { RUNNER_MSG } from './messages.js';

/** What the respondent did, without platform details. */
export type EventInput = { kind: 'start'; token?: string } | { kind: 'text'; text: string } | { kind: 'choice'; seq: number; key: string };

/** The outcome of looking up an invitation the event named (a /start token or a typed code). */
export type OpenResult =
  | { ok: true; start: SurveyStart }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'cancelled' | 'taken' | 'locked' | 'unavailable' | 'duplicate'; lockedMinutes?: number };

export interface Decision {
  conversation: Conversation;
  outputs: Output[];
  events: FlowEvent[];
  /** The invitation this event started a survey for. */
  opened?: string;
}

/** Engine prompts start at 1, so seq 0 is the "which survey" question. */
export const SWITCH_SEQ = 0;

export function decide(flows: FlowRegistry, conv: Conversation, ev: EventInput, opening: OpenResult | undefined, now: number): Decision {
  const s = conv.s;
  const say = (text: string): Decision => ({ conversation: conv, outputs: [{ type: 'text', text }], events: [] });
  const resume = (c: Conversation, active: Session) => run(flows, c, active, { type: 'resume' }, now, [RUNNER_MSG.resume]);

  if (opening && !opening.ok) {
    if (opening.reason === 'duplicate') return { conversation: conv, outputs: [], events: [] };
    if (opening.reason === 'locked') return say(RUNNER_MSG.lockedOut(opening.lockedMinutes ?? 15));
    return say(RUNNER_MSG[opening.reason === 'unknown' ? 'unknownCode' : opening.reason]);
  }
  if (opening?.ok) {
    const start = opening.start;
    if (s?.ref === start.ref) {
      if (s.status === 'completed') return say(RUNNER_MSG.used);
      if (s.status === 'active') return resume({ ...conv, offer: undefined }, s);
      // Stopped earlier: the engine resumes where it stopped, answers kept.
      if (s.end === 'stopped') return run(flows, { ...conv, offer: undefined }, s, { type: 'resume' }, now);
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
    return begin(flows, start, now);
  }

  if (conv.offer) {
    const choice =
      ev.kind === 'choice' && ev.seq === SWITCH_SEQ
        ? ev.key
        : ev.kind === 'text'
          ? ({ '1': 'keep', '2': 'new' } as const)[ev.text.trim() as '1' | '2']
          : undefined;
    if (choice === 'new') {
      const stopped = s ? step(flows.get(s.flow), s, { type: 'expire' }, now) : undefined;
      const d = begin(flows, conv.offer, now);
      return { ...d, events: [...(stopped?.events ?? []), ...d.events] };
    }
    if (choice === 'keep' && s) return resume({ s }, s);
  } else if (ev.kind === 'choice' && ev.seq === SWITCH_SEQ) {
    // An old "which survey" button: carry on with the current one.
    return s?.status === 'active' ? resume(conv, s) : say(RUNNER_MSG.howToStart);
  }

  if (s?.status !== 'active') {
    // Something that looks like a code (none was found: the opener saw no valid code) gets a word about the code, not the welcome again.
    if (ev.kind === 'text' && looksLikeCode(ev.text)) return say(RUNNER_MSG.notACode);
    if (!s) return say(RUNNER_MSG.howToStart);
  }
  if (ev.kind === 'start') return s.status === 'active' ? resume(conv, s) : say(RUNNER_MSG.howToStart);
  const input: Input = ev.kind === 'choice' ? { type: 'choice', seq: ev.seq, key: ev.key } : { type: 'text', text: ev.text };
  return run(flows, { s }, s, input, now);
}

/** A reminder or an expiry of survey `ref`: undefined when that survey is no longer the active one (a stale job). */
export function nudge(flows: FlowRegistry, conv: Conversation, ref: string, input: 'tick' | 'expire', now: number): Decision | undefined {
  const s = conv.s;
  if (!s || s.ref !== ref || s.status !== 'active') return undefined;
  return run(flows, conv, s, { type: input }, now);
}

/**
 * A survey we start in a chat (a post-audit verification): never over a survey
 * in progress ('busy'), and once ('already': a retried job starts nothing twice).
 */
export function beginOwn(flows: FlowRegistry, conv: Conversation, start: SurveyStart, now: number): Decision | 'busy' | 'already' {
  if (conv.s?.ref === start.ref) return 'already';
  if (conv.s?.status === 'active') return 'busy';
  const r = startSession(flows.get(start.flow), start.ref, start.ctx, now);
  return { conversation: { s: r.session }, outputs: r.outputs, events: r.events };
}

/** Whether the survey in progress is waiting for free text (then a code-shaped text is an answer, not a code). */
export function answeringText(flows: FlowRegistry, conv: Conversation): boolean {
  const s = conv.s;
  if (s?.status !== 'active' || !s.q) return false;
  const flow = flows.get(s.flow);
  return flow.questions[flow.indexOf.get(s.q)!]?.type === 'text';
}

function begin(flows: FlowRegistry, start: SurveyStart, now: number): Decision {
  const r = startSession(flows.get(start.flow), start.ref, start.ctx, now);
  return { conversation: { s: r.session }, outputs: r.outputs, events: r.events, opened: start.ref };
}

function run(flows: FlowRegistry, conv: Conversation, s: Session, input: Input, now: number, before: string[] = []): Decision {
  const r = step(flows.get(s.flow), s, input, now);
  const outputs: Output[] = [...before.map((text) => ({ type: 'text' as const, text })), ...r.outputs];
  return { conversation: { ...conv, s: r.session }, outputs, events: r.events };
}

/** A word of 6-12 letters and digits with both (e.g. "ABCD1234"): the respondent is trying to type a code. */
export function looksLikeCode(text: string): boolean {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[\s,.;:!?()"'-]+/)
    .some((w) => /^[A-Za-z0-9]{6,12}$/.test(w) && /\d/.test(w) && /[A-Za-z]/.test(w));
}
