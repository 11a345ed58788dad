// Engine outputs as Telegram operations: questions with inline keyboards,
// and the tapped question edited to show the chosen answer.
import { splitText } from '../../src/channels/text.js';
import type { Output } from '../../src/engine/interpreter.js';
import { TEXT_LIMIT, type TelegramOp } from './ops.js';

/** What rendering a reply needs from the update it answers: the tapped message. */
export interface TelegramReplyTo {
  messageId?: number;
  messageText?: string;
}

/** callback_data is "<seq>:<key>": the prompt number lets the engine recognize a stale tap. */
export const callbackData = (seq: number, key: string) => `${seq}:${key}`;

export function parseCallbackData(data: string): { seq: number; key: string } | undefined {
  const m = /^(\d{1,9}):([a-z0-9]{1,16})$/.exec(data);
  return m ? { seq: Number(m[1]), key: m[2]! } : undefined;
}

/**
 * One Telegram message per run of texts and the question that follows them
 * (a section title, a hint, a reminder note): fewer messages reach the
 * respondent sooner and use less of the per-chat limit. After a tap, the next
 * question with buttons replaces the tapped one in place, under the chosen
 * answer: one platform call per tap instead of an edit and a send. Otherwise
 * (typed answers, the thanks, a text too long) the tapped question is marked
 * with the answer and what follows is sent.
 */
export function renderTelegram(outputs: Output[], replyTo?: unknown): TelegramOp[] {
  const tappedMessage = replyTo as TelegramReplyTo | undefined;
  const tapped = outputs.some((o) => o.type === 'chosen');
  const ops: TelegramOp[] = [];
  let texts: string[] = [];
  /** The tapped question and its chosen answer, not yet rendered. */
  let chosen: { messageId: number; label: string } | undefined;
  const markChosen = () => {
    if (!chosen) return;
    const text = `${tappedMessage?.messageText ?? ''}\n\n✅ ${chosen.label}`.trim();
    ops.push({ m: 'edit', messageId: chosen.messageId, text: text.length > TEXT_LIMIT ? `✅ ${chosen.label}` : text });
    chosen = undefined;
  };
  const sendTexts = (final?: Omit<Extract<TelegramOp, { m: 'send' }>, 'm' | 'text'>) => {
    const joined = texts.join('\n\n');
    texts = [];
    const inPlace = chosen && final?.keyboard ? `✅ ${chosen.label}\n\n${joined}` : undefined;
    if (chosen && inPlace && inPlace.length <= TEXT_LIMIT) {
      ops.push({ m: 'edit', messageId: chosen.messageId, text: inPlace, keyboard: final!.keyboard! });
      chosen = undefined;
      return;
    }
    markChosen();
    const parts = splitText(joined, TEXT_LIMIT);
    parts.forEach((text, i) => void ops.push({ m: 'send', text, ...(i === parts.length - 1 ? final : {}) }));
  };
  for (const o of outputs) {
    switch (o.type) {
      case 'chosen':
        if (tappedMessage?.messageId !== undefined) chosen = { messageId: tappedMessage.messageId, label: o.label };
        break;
      case 'text':
        texts.push(o.text);
        break;
      case 'question':
        texts.push(o.text);
        sendTexts({
          ...(o.choices.length ? { keyboard: o.choices.map((c) => ({ text: c.label, data: callbackData(o.seq, c.key) })) } : {}),
          ...(tapped ? {} : { clearPrevious: true }),
        });
        break;
    }
  }
  // A reply to typed text (or the thanks after it) retires the keyboard still on screen.
  if (texts.length) sendTexts(tapped ? undefined : { clearPrevious: true });
  markChosen();
  return ops;
}
