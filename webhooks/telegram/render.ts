// Engine outputs as Telegram operations: questions with inline keyboards,
// and the tapped question edited to show the chosen answer.
import type { InboundEvent } from '../../src/conversations/runner.js';
import type { Output } from '../../src/engine/interpreter.js';
import type { TelegramOp } from '../../src/queues/jobs.js';
import type { TelegramMeta } from './inbound.js';

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
export function renderTelegram(ev: InboundEvent, outputs: Output[]): TelegramOp[] {
  const meta = ev.meta as TelegramMeta | undefined;
  const tapped = outputs.some((o) => o.type === 'chosen');
  const ops: TelegramOp[] = [];
  let texts: string[] = [];
  for (const o of outputs) {
    switch (o.type) {
      case 'chosen':
        if (meta?.messageId !== undefined) ops.push({ m: 'edit', messageId: meta.messageId, text: `${meta.messageText ?? ''}\n\n✅ ${o.label}`.trim() });
        break;
      case 'text':
        texts.push(o.text);
        break;
      case 'question':
        ops.push({
          m: 'send',
          text: [...texts, o.text].join('\n\n'),
          ...(o.choices.length ? { keyboard: o.choices.map((c) => ({ text: c.label, data: callbackData(o.seq, c.key) })) } : {}),
          ...(tapped ? {} : { clearPrevious: true }),
        });
        texts = [];
        break;
    }
  }
  if (texts.length) ops.push({ m: 'send', text: texts.join('\n\n') });
  return ops;
}
