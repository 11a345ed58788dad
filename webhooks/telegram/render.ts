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
 * respondent sooner and use less of the per-chat limit.
 */
export function renderTelegram(outputs: Output[], replyTo?: unknown): TelegramOp[] {
  const tappedMessage = replyTo as TelegramReplyTo | undefined;
  const tapped = outputs.some((o) => o.type === 'chosen');
  const ops: TelegramOp[] = [];
  let texts: string[] = [];
  const sendTexts = (final?: Omit<Extract<TelegramOp, { m: 'send' }>, 'm' | 'text'>) => {
    const parts = splitText(texts.join('\n\n'), TEXT_LIMIT);
    texts = [];
    parts.forEach((text, i) => void ops.push({ m: 'send', text, ...(i === parts.length - 1 ? final : {}) }));
  };
  for (const o of outputs) {
    switch (o.type) {
      case 'chosen':
        if (tappedMessage?.messageId !== undefined) {
          const text = `${tappedMessage.messageText ?? ''}\n\n✅ ${o.label}`.trim();
          ops.push({ m: 'edit', messageId: tappedMessage.messageId, text: text.length > TEXT_LIMIT ? `✅ ${o.label}` : text });
        }
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
  return ops;
}
