// The flow engine: pure. (flow, session, input, now) -> (session', outputs, events).
// No I/O, no clock, no randomness: everything comes in as arguments.
import { type AnswerValue, type Condition, type Flow, flowIn, type Question, questionCount } from './flow.js';
import { type Command, LANGUAGE_KEY_PREFIX, matchCommand, matchLanguage, matchOption } from './match.js';
import { SOURCE_LANGUAGE } from './messages.js';

export interface Session {
  flow: string;
  /** The invitation (or audit contact) this conversation answers. */
  ref: string;
  status: 'active' | 'completed' | 'abandoned';
  /** Why an abandoned survey ended: the respondent stopped (it can be resumed) or it expired. */
  end?: 'stopped' | 'expired';
  /** Current question id; null once finished. A stopped survey keeps it: that is where it resumes. */
  q: string | null;
  /** Prompt number: changes whenever a different question is asked; buttons carry it to detect stale taps. */
  seq: number;
  /** Answered question ids in order, for "back". */
  hist: string[];
  ans: Record<string, AnswerValue>;
  /** Invalid answers to the current question. */
  bad: number;
  /** Invitation context: prefill values and template variables. */
  ctx: Record<string, string>;
  startedAt: number;
  updatedAt: number;
  completedAt?: number;
  /** The respondent's language when not the source language (Vietnamese). */
  lang?: string;
  /** A finished survey has answered one old tap: later ones get no reply (a keyboard left on screen is not a way to spam). */
  toldDone?: boolean;
}

export interface Choice {
  /** '1'..'n' for options, 'skip', 'back', 'stop', or 'lang<code>' to switch language. */
  key: string;
  label: string;
}

export type Output =
  | { type: 'question'; questionId: string; seq: number; text: string; choices: Choice[] }
  | { type: 'text'; text: string }
  /** A button answer was accepted: channels mark the question message with the chosen label. */
  | { type: 'chosen'; questionId: string; label: string };

export type FlowEvent =
  | { type: 'started' }
  | { type: 'answered'; questionId: string; value: AnswerValue }
  | { type: 'invalid'; questionId: string }
  | { type: 'back'; questionId: string }
  | { type: 'restarted' }
  | { type: 'stale' }
  | { type: 'completed' }
  | { type: 'abandoned'; reason: 'stopped' | 'expired' };

export type Input =
  | { type: 'choice'; seq: number; key: string }
  | { type: 'text'; text: string }
  /** A reminder: re-ask the current question with a reminder note. */
  | { type: 'tick' }
  /** The respondent came back (opened the same invitation again): re-ask the current question. */
  | { type: 'resume' }
  /** The invitation expired or was cancelled. */
  | { type: 'expire' }
  /** Switch language: to `lang`, or to the next language the flow has. */
  | { type: 'lang'; lang?: string }
  | { type: Command };

export interface StepResult {
  session: Session;
  outputs: Output[];
  events: FlowEvent[];
}

export function startSession(flow: Flow, ref: string, ctx: Record<string, string>, now: number): StepResult {
  const session: Session = { flow: flow.key, ref, status: 'active', q: null, seq: 0, hist: [], ans: {}, bad: 0, ctx, startedAt: now, updatedAt: now };
  const r = result(session, [{ type: 'started' }]);
  advance(flow, r, 0, now);
  return r;
}

export function step(anyFlow: Flow, prev: Session, input: Input, now: number): StepResult {
  const flow = flowIn(anyFlow, prev.lang);
  const msg = flow.msg;
  const r = result({ ...prev, hist: [...prev.hist], ans: { ...prev.ans }, updatedAt: now }, []);
  const s = r.session;

  if (s.status !== 'active') {
    if (input.type === 'resume' && s.end === 'stopped' && s.q) {
      // Opened again after "stop": carry on where it stopped, with the answers kept.
      s.status = 'active';
      delete s.end;
      s.bad = 0;
      r.outputs.push({ type: 'text', text: msg.resumedAfterStop });
      ask(flow, r, flow.questions[flow.indexOf.get(s.q)!]!, false);
      return r;
    }
    if (input.type === 'tick' || input.type === 'expire' || input.type === 'resume') return result(prev, []);
    if (s.status === 'completed') {
      if (prev.toldDone) return result(prev, [{ type: 'stale' }]);
      s.toldDone = true;
    } else {
      r.session = prev;
    }
    r.outputs.push({ type: 'text', text: s.status === 'completed' ? msg.alreadyCompleted : msg.alreadyStopped });
    r.events.push({ type: 'stale' });
    return r;
  }
  const q = flow.questions[flow.indexOf.get(s.q!)!]!;

  if (input.type === 'choice' && input.key.startsWith(LANGUAGE_KEY_PREFIX) && input.seq === s.seq) {
    return step(anyFlow, prev, { type: 'lang', lang: input.key.slice(LANGUAGE_KEY_PREFIX.length) }, now);
  }
  if (input.type === 'text') {
    const lang = matchLanguage(input.text, flow, q.type === 'text');
    if (lang !== undefined) return step(anyFlow, prev, { type: 'lang', ...(lang ? { lang } : {}) }, now);
  }

  switch (input.type) {
    case 'choice':
      if (input.seq !== s.seq) {
        // Re-asking also recovers a respondent whose newest question never arrived.
        r.session = prev;
        r.outputs.push({ type: 'text', text: msg.staleButton });
        r.events.push({ type: 'stale' });
        ask(flow, r, q, false);
        return r;
      }
      if (input.key === 'stop') return stop(flow, r, 'stopped');
      if (input.key === 'back') return step(flow, prev, { type: 'back' }, now);
      if (input.key === 'skip') {
        // Mark the tapped question (its keyboard goes) as for any other button.
        if (q.type !== 'info' && q.type !== 'yesno' && q.optional) r.outputs.push({ type: 'chosen', questionId: q.id, label: msg.skipLabel });
        return skip(flow, r, q, now);
      }
      return answerOption(flow, r, q, Number(input.key), true, now);
    case 'text': {
      const command = matchCommand(input.text, q.type === 'text');
      if (command) return step(flow, prev, { type: command }, now);
      return answerText(flow, r, q, input.text, now);
    }
    case 'lang': {
      const langs = [...flow.variants.keys()];
      const next = input.lang && flow.variants.has(input.lang) ? input.lang : langs[(langs.indexOf(flow.lang) + 1) % langs.length]!;
      if (next === SOURCE_LANGUAGE) delete s.lang;
      else s.lang = next;
      const switched = flowIn(flow, next);
      r.outputs.push({ type: 'text', text: switched.msg.languageSwitched });
      ask(switched, r, switched.questions[switched.indexOf.get(q.id)!]!, false);
      return r;
    }
    case 'tick':
      r.outputs.push({ type: 'text', text: msg.reminder });
      ask(flow, r, q, false);
      return r;
    case 'resume':
      ask(flow, r, q, false);
      return r;
    case 'expire':
      return stop(flow, r, 'expired', false);
    case 'stop':
      return stop(flow, r, 'stopped');
    case 'skip':
      return skip(flow, r, q, now);
    case 'help':
      r.outputs.push({ type: 'text', text: msg.help });
      ask(flow, r, q, false);
      return r;
    case 'back': {
      const previous = s.hist.pop();
      if (previous === undefined) {
        r.outputs.push({ type: 'text', text: msg.cannotGoBack });
        ask(flow, r, q, false);
        return r;
      }
      delete s.ans[previous];
      s.q = previous;
      s.seq += 1;
      s.bad = 0;
      r.events.push({ type: 'back', questionId: previous });
      r.outputs.push({ type: 'text', text: msg.wentBack });
      ask(flow, r, flow.questions[flow.indexOf.get(previous)!]!, false);
      return r;
    }
    case 'restart':
      s.hist = [];
      s.ans = {};
      s.bad = 0;
      r.events.push({ type: 'restarted' });
      r.outputs.push({ type: 'text', text: msg.restarted });
      advance(flow, r, 0, now);
      return r;
  }
}

function result(session: Session, events: FlowEvent[]): StepResult {
  return { session, outputs: [], events };
}

function stop(flow: Flow, r: StepResult, reason: 'stopped' | 'expired', say = true): StepResult {
  r.session.status = 'abandoned';
  r.session.end = reason;
  if (reason === 'expired') r.session.q = null;
  r.events.push({ type: 'abandoned', reason });
  if (say) r.outputs.push({ type: 'text', text: flow.msg.stopped });
  return r;
}

function skip(flow: Flow, r: StepResult, q: Question, now: number): StepResult {
  if ((q.type !== 'text' && q.type !== 'choice') || !q.optional) return invalid(flow, r, q, flow.msg.textRequired);
  return accept(flow, r, q, null, now);
}

function answerOption(flow: Flow, r: StepResult, q: Question, n: number, tapped: boolean, now: number): StepResult {
  const options = flow.optionsOf.get(q.id);
  const option = options?.[n - 1];
  if (!options || !option) return invalid(flow, r, q, options ? hintFor(flow, q, options.length) : flow.msg.textEmpty);
  if (tapped) r.outputs.push({ type: 'chosen', questionId: q.id, label: option.label });
  return accept(flow, r, q, option.value, now);
}

function answerText(flow: Flow, r: StepResult, q: Question, text: string, now: number): StepResult {
  if (q.type === 'text') {
    const t = text.normalize('NFC').trim();
    if (t === '') return invalid(flow, r, q, flow.msg.textEmpty);
    if (t.length > q.maxLength) return invalid(flow, r, q, fill(flow.msg.textTooLong, { max: String(q.maxLength) }));
    return accept(flow, r, q, t, now);
  }
  const options = flow.optionsOf.get(q.id)!;
  const n = matchOption(options, text);
  return n === undefined ? invalid(flow, r, q, hintFor(flow, q, options.length)) : answerOption(flow, r, q, n, false, now);
}

function hintFor(flow: Flow, q: Question, n: number): string {
  return q.type === 'yesno' ? flow.msg.yesNoHint : fill(flow.msg.chooseHint, { n: String(n) });
}

function invalid(flow: Flow, r: StepResult, q: Question, hint: string): StepResult {
  r.session.bad += 1;
  r.events.push({ type: 'invalid', questionId: q.id });
  // The hint comes with the question again, so the buttons it speaks of are right below it.
  r.outputs.push({ type: 'text', text: r.session.bad >= 3 ? flow.msg.stuck : hint });
  ask(flow, r, q, r.session.bad >= 3);
  return r;
}

function accept(flow: Flow, r: StepResult, q: Question, value: AnswerValue, now: number): StepResult {
  const s = r.session;
  s.ans[q.id] = value;
  s.hist.push(q.id);
  r.events.push({ type: 'answered', questionId: q.id, value });
  advance(flow, r, flow.indexOf.get(q.id)! + 1, now);
  return r;
}

/** Moves to the first question at or after `from` that applies; completes the survey when none is left. */
function advance(flow: Flow, r: StepResult, from: number, now: number): void {
  const s = r.session;
  for (let i = from; i < flow.questions.length; i++) {
    const q = flow.questions[i]!;
    if (q.when && !holds(q.when, s.ans)) continue;
    if (q.type === 'info') {
      r.outputs.push({ type: 'text', text: fillFor(flow, q.text, s.ctx) });
      continue;
    }
    if (q.type === 'choice' && q.prefill) {
      const known = s.ctx[q.prefill];
      const option = known === undefined ? undefined : flow.optionsOf.get(q.id)!.find((o) => String(o.value) === known);
      if (option) {
        s.ans[q.id] = option.value;
        continue;
      }
    }
    s.q = q.id;
    s.seq += 1;
    s.bad = 0;
    ask(flow, r, q, false);
    return;
  }
  s.status = 'completed';
  s.q = null;
  s.completedAt = now;
  r.outputs.push({ type: 'text', text: fillFor(flow, flow.thankYou, s.ctx) });
  r.events.push({ type: 'completed' });
}

/** What a completed survey said last (the thanks): said again when that reply was lost with its process. */
export function lastWords(anyFlow: Flow, s: Session): Output[] {
  if (s.status !== 'completed') return [];
  const flow = flowIn(anyFlow, s.lang);
  return [{ type: 'text', text: fillFor(flow, flow.thankYou, s.ctx) }];
}

function ask(flow: Flow, r: StepResult, q: Question, offerStop: boolean): void {
  const options = flow.optionsOf.get(q.id);
  const choices: Choice[] = options ? options.map((o, i) => ({ key: String(i + 1), label: o.label })) : [];
  if ((q.type === 'text' || q.type === 'choice') && q.optional) choices.push({ key: 'skip', label: flow.msg.skipLabel });
  if (r.session.hist.length > 0) choices.push({ key: 'back', label: flow.msg.backLabel });
  else if (flow.variants.size > 1) {
    // The first question offers the other languages; later, /lang switches.
    for (const [lang, other] of flow.variants) if (lang !== flow.lang) choices.push({ key: LANGUAGE_KEY_PREFIX + lang, label: other.msg.languageName });
  }
  if (offerStop) choices.push({ key: 'stop', label: flow.msg.stopLabel });
  r.outputs.push({ type: 'question', questionId: q.id, seq: r.session.seq, text: fillFor(flow, q.text, r.session.ctx), choices });
}

function holds(c: Condition, ans: Session['ans']): boolean {
  if ('question' in c) {
    const ids = Array.isArray(c.question) ? c.question : [c.question];
    return ids.some((id) => ans[id] !== undefined && ans[id] !== null && c.in.includes(ans[id]));
  }
  if ('all' in c) return c.all.every((x) => holds(x, ans));
  if ('any' in c) return c.any.some((x) => holds(x, ans));
  return !holds(c.not, ans);
}

/** Fills a flow text: the invitation context, and {questionCount}. */
function fillFor(flow: Flow, text: string, ctx: Record<string, string>): string {
  return fill(text, text.includes('{questionCount}') ? { ...ctx, questionCount: String(questionCount(flow, ctx)) } : ctx);
}

/** Replaces {name} with the invitation context; unknown names are left as they are. */
function fill(text: string, ctx: Record<string, string>): string {
  return text.replace(/\{(\w+)\}/g, (m, name: string) => ctx[name] ?? m);
}
