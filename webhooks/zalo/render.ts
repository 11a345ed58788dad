// Engine outputs as Zalo messages: a question is one template message with
// oa.query.hide buttons whose payload carries the prompt number, so a stale
// tap is recognized. Zalo cannot edit a sent message: a tapped answer is not
// marked (the next question follows it).
import { splitText } from '../../src/channels/text.js';
import type { Output } from '../../src/engine/interpreter.js';
import { BUTTONS_LIMIT, TEXT_LIMIT, TITLE_LIMIT, type ZaloOp } from './ops.js';

/** A tap's text: unlikely to be typed by a person, and parsed back exactly. */
export const buttonPayload = (seq: number, key: string) => `#tthc:${seq}:${key}`;

export function parseButtonPayload(text: string): { seq: number; key: string } | undefined {
  const m = /^#tthc:(\d{1,9}):([a-z0-9]{1,16})$/.exec(text.trim());
  return m ? { seq: Number(m[1]), key: m[2]! } : undefined;
}

const title = (label: string) => (label.length > TITLE_LIMIT ? `${label.slice(0, TITLE_LIMIT - 1)}…` : label);

export function renderZalo(outputs: Output[]): ZaloOp[] {
  const ops: ZaloOp[] = [];
  let texts: string[] = [];
  const flush = (buttons?: ZaloOp['buttons']) => {
    const parts = splitText(texts.join('\n\n'), TEXT_LIMIT);
    texts = [];
    parts.forEach((text, i) => void ops.push({ text, ...(i === parts.length - 1 && buttons?.length ? { buttons } : {}) }));
  };
  for (const o of outputs) {
    if (o.type === 'text') texts.push(o.text);
    if (o.type === 'question') {
      texts.push(o.text);
      flush(o.choices.slice(0, BUTTONS_LIMIT).map((c) => ({ title: title(c.label), payload: buttonPayload(o.seq, c.key) })));
    }
  }
  if (texts.length) flush();
  return ops;
}
