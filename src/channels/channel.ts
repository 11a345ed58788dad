// The shape every channel adapter has (webhooks/<platform>/): inbound
// (verify, normalize), rendering of engine outputs as platform operations, and
// outbound (send, error mapping). Nothing outside webhooks/ knows a platform's fields.
import type { InboundEvent } from '../conversations/runner.js';
import type { Output } from '../engine/interpreter.js';
import type { WebhookInbound } from '../http/webhook.js';

/** How a platform call ended, in terms the outbound worker acts on. */
export type SendResult =
  | { ok: true; messageId?: number }
  /** Rate-limited: try this op again after `ms`. */
  | { ok: false; kind: 'retry_after'; ms: number }
  /** The user blocked us or can no longer receive: never send to them again. */
  | { ok: false; kind: 'unreachable'; reason: string }
  /** This op cannot succeed (e.g. the message to edit is gone); skip it. */
  | { ok: false; kind: 'skip'; reason: string };

/** A transient failure (network, 5xx): the job is retried with backoff. */
export class TransientSendError extends Error {
  override name = 'TransientSendError';
}

export interface ChannelAdapter<Op> {
  readonly name: 'telegram' | 'zalo';
  /** Verifies and parses POST /webhooks/<name>. */
  inbound: WebhookInbound;
  render(ev: InboundEvent, outputs: Output[]): Op[];
  send(chat: string, op: Op): Promise<SendResult>;
  /** Ops that may run alongside the following ones (cosmetic edits); a failure of one is not retried. */
  concurrent(op: Op): boolean;
}
