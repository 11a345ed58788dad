// Telegram updates -> InboundEvent. Only the fields we use are validated; any
// other update type is acknowledged and ignored.
import { z } from 'zod';
import { type InboundBatch, InboundRejected } from '../../src/channels/channel.js';
import type { InboundEvent } from '../../src/conversations/runner.js';
import { safeEqual } from '../../src/crypto.js';
import { parseCallbackData, type TelegramReplyTo } from './render.js';

const chat = z.object({ id: z.number().int() });
const message = z.object({ message_id: z.number().int(), chat, text: z.string().optional() });

export const updateSchema = z.object({
  update_id: z.number().int().nonnegative(),
  message: message.optional(),
  callback_query: z.object({ id: z.string(), from: z.object({ id: z.number().int() }), data: z.string().optional(), message: message.optional() }).optional(),
});
export type TelegramUpdate = z.infer<typeof updateSchema>;

const START = /^\/start(?:@\w+)?(?:\s+(\S+))?\s*$/;

/** undefined: nothing to process (an update type we do not handle). */
export function toInboundEvent(u: TelegramUpdate): InboundEvent | undefined {
  const eventId = `tg:${u.update_id}`;
  if (u.callback_query) {
    const cq = u.callback_query;
    const userKey = String(cq.message?.chat.id ?? cq.from.id);
    const replyTo: TelegramReplyTo = { messageId: cq.message?.message_id, messageText: cq.message?.text };
    const parsed = cq.data ? parseCallbackData(cq.data) : undefined;
    // A button we cannot read is treated like a stale one: the engine answers politely.
    return { channel: 'telegram', userKey, eventId, replyTo, kind: 'choice', seq: parsed?.seq ?? -1, key: parsed?.key ?? '' };
  }
  if (u.message) {
    const userKey = String(u.message.chat.id);
    const text = u.message.text ?? '';
    const start = START.exec(text);
    if (start) return { channel: 'telegram', userKey, eventId, kind: 'start', ...(start[1] ? { token: start[1] } : {}) };
    return { channel: 'telegram', userKey, eventId, kind: 'text', text };
  }
  return undefined;
}

/** The secret Telegram echoes in a header, checked before the body is read. */
export function checkSecret(headers: Record<string, string | string[] | undefined>, secret: string): void {
  const got = headers['x-telegram-bot-api-secret-token'];
  if (typeof got !== 'string' || !safeEqual(got, secret))
    throw new InboundRejected('unauthorized', 'bad_secret', 'X-Telegram-Bot-Api-Secret-Token does not match');
}

export function parseUpdate(raw: Buffer): InboundBatch {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new InboundRejected('malformed', 'bad_json', 'request body is not valid JSON');
  }
  const parsed = updateSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InboundRejected('malformed', 'bad_update', `not a Telegram update: ${issue?.path.join('.') || 'body'} ${issue?.message ?? ''}`.trim());
  }
  const ev = toInboundEvent(parsed.data);
  const cq = parsed.data.callback_query;
  // Answering the tap in the webhook response stops the client's spinner without another HTTP call.
  return { events: ev ? [ev] : [], ...(cq ? { answer: { method: 'answerCallbackQuery', callback_query_id: cq.id } } : {}) };
}
