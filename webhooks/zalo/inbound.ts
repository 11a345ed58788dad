// Zalo OA webhook events -> InboundEvent. The signature is checked over the
// raw bytes as received (CHANNELS.md): X-ZEvent-Signature: mac=<hex>, hex =
// sha256(app_id + rawBody + timestamp + OA secret key).
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { type InboundBatch, InboundRejected } from '../../src/channels/channel.js';
import type { InboundEvent } from '../../src/conversations/runner.js';
import { parseButtonPayload } from './render.js';

// Ids are numeric strings beyond 2^53: they stay strings.
const id = z.string().regex(/^\d{1,30}$/, 'a numeric string');

export const eventSchema = z.object({
  app_id: z.string().optional(),
  event_name: z.string().min(1),
  timestamp: z.string().regex(/^\d{1,16}$/),
  sender: z.object({ id }).optional(),
  recipient: z.object({ id }).optional(),
  follower: z.object({ id }).optional(),
  user_id_by_app: z.string().optional(),
  message: z.object({ msg_id: z.string().optional(), text: z.string().optional(), tracking_id: z.string().optional() }).optional(),
});
export type ZaloEvent = z.infer<typeof eventSchema>;

export interface ZaloInboundSecrets {
  appId: string;
  oaSecretKey: string;
}

/** Constant time, case-insensitive. */
function signatureMatches(header: string | string[] | undefined, expectedHex: string): boolean {
  if (typeof header !== 'string') return false;
  const got = /^mac=([0-9a-fA-F]{64})$/.exec(header.trim())?.[1]?.toLowerCase();
  return !!got && timingSafeEqual(Buffer.from(got), Buffer.from(expectedHex));
}

export function zaloSignature(appId: string, raw: Buffer | string, timestamp: string, oaSecretKey: string): string {
  return createHash('sha256').update(appId).update(raw).update(timestamp).update(oaSecretKey).digest('hex');
}

export function parseZaloWebhook(raw: Buffer, headers: Record<string, string | string[] | undefined>, s: ZaloInboundSecrets): InboundBatch {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new InboundRejected('unauthorized', 'bad_signature', 'X-ZEvent-Signature does not verify');
  }
  const ts = (body as { timestamp?: unknown })?.timestamp;
  if (typeof ts !== 'string' || !signatureMatches(headers['x-zevent-signature'], zaloSignature(s.appId, raw, ts, s.oaSecretKey))) {
    throw new InboundRejected('unauthorized', 'bad_signature', 'X-ZEvent-Signature does not verify');
  }
  const parsed = eventSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InboundRejected('malformed', 'bad_event', `not a Zalo OA event: ${issue?.path.join('.') || 'body'} ${issue?.message ?? ''}`.trim());
  }
  return toBatch(parsed.data);
}

export function toBatch(e: ZaloEvent): InboundBatch {
  // Echoes of what the OA itself sent, and events we do not use: acknowledged and ignored.
  if (e.event_name.startsWith('oa_send_')) return { events: [] };
  const base = (userKey: string, eventId: string) => ({ channel: 'zalo' as const, userKey, eventId });
  switch (e.event_name) {
    case 'user_send_text': {
      const user = e.sender?.id;
      if (!user) return { events: [] };
      const text = e.message?.text ?? '';
      const eventId = `zl:${e.message?.msg_id ?? `${user}:${e.timestamp}`}`;
      const tap = parseButtonPayload(text);
      const ev: InboundEvent = tap ? { ...base(user, eventId), kind: 'choice', seq: tap.seq, key: tap.key } : { ...base(user, eventId), kind: 'text', text };
      return { events: [ev] };
    }
    case 'follow': {
      const user = e.follower?.id ?? e.sender?.id;
      return user ? { events: [{ ...base(user, `zl:follow:${user}:${e.timestamp}`), kind: 'start' }] } : { events: [] };
    }
    case 'user_received_message': {
      // A ZNS delivery receipt.
      const id = e.message?.tracking_id;
      return id ? { events: [], delivered: [id] } : { events: [] };
    }
    case 'unfollow': {
      const user = e.follower?.id ?? e.sender?.id;
      return user ? { events: [], unreachable: [user] } : { events: [] };
    }
    default:
      return { events: [] };
  }
}
