// Telegram updates -> InboundEvent. Only the fields we use are validated; any
// other update type is acknowledged and ignored.
import { z } from 'zod';
import type { InboundEvent } from '../../src/conversations/runner.js';
import { parseCallbackData } from './render.js';

const chat = z.object({ id: z.number().int() });
const message = z.object({ message_id: z.number().int(), chat, text: z.string().optional() });

export const updateSchema = z.object({
  update_id: z.number().int().nonnegative(),
  message: message.optional(),
  callback_query: z.object({ id: z.string(), from: z.object({ id: z.number().int() }), data: z.string().optional(), message: message.optional() }).optional(),
});
export type TelegramUpdate = z.infer<typeof updateSchema>;

/** What rendering a reply needs from the update: the tapped message. */
export interface TelegramMeta {
  messageId?: number;
  messageText?: string;
}

const START = /^\/start(?:@\w+)?(?:\s+(\S+))?\s*$/;

/** undefined: nothing to process (an update type we do not handle). */
export function toInboundEvent(u: TelegramUpdate): InboundEvent | undefined {
  const eventId = `tg:${u.update_id}`;
  if (u.callback_query) {
    const cq = u.callback_query;
    const userKey = String(cq.message?.chat.id ?? cq.from.id);
    const meta: TelegramMeta = { messageId: cq.message?.message_id, messageText: cq.message?.text };
    const parsed = cq.data ? parseCallbackData(cq.data) : undefined;
    // A button we cannot read is treated like a stale one: the engine answers politely.
    return { channel: 'telegram', userKey, eventId, meta, kind: 'choice', seq: parsed?.seq ?? -1, key: parsed?.key ?? '' };
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
