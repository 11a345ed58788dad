// The shape of a channel plug-in (webhooks/<channel>/): everything about one
// platform lives in its folder and registers itself in ./registry.ts. The core
// sees engine outputs, opaque operations and the shared send results below;
// it never sees a platform's field names.
import type { IncomingMessage } from 'node:http';
import type { Connection } from 'mongoose';
import type { z } from 'zod';
import type { Config } from '../config.js';
import type { InboundEvent } from '../conversations/runner.js';
import type { Output } from '../engine/interpreter.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../redis.js';

/** How a platform call ended, in terms the send loop acts on. */
export type SendResult =
  | { ok: true }
  /** Rate-limited: try this op again after `ms`. */
  | { ok: false; kind: 'retry_after'; ms: number }
  /** The user blocked us or can no longer receive: never send to them again. */
  | { ok: false; kind: 'unreachable'; reason: string }
  /**
   * The platform takes messages to this user only for a while after the user
   * last wrote (Zalo: 7 days), and that time is over. Nothing is sent now; a
   * message from the user opens it again, and a template to a phone may stand in.
   */
  | { ok: false; kind: 'window_closed'; reason: string }
  /** This op cannot succeed (e.g. the message to edit is gone); skip it. */
  | { ok: false; kind: 'skip'; reason: string };

/** A transient failure (network, 5xx): the op is retried with backoff. */
export class TransientSendError extends Error {
  override name = 'TransientSendError';
}

/** A webhook request the channel refuses: bad signature or secret (401), not a platform event (400). */
export class InboundRejected extends Error {
  override name = 'InboundRejected';
  constructor(
    readonly kind: 'unauthorized' | 'malformed',
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a channel makes of one webhook request. */
export interface InboundBatch {
  /** Events to process, in order (none: acknowledge and ignore). */
  events: InboundEvent[];
  /** Users who can no longer be reached (unfollowed, blocked): nothing more is sent to them. */
  unreachable?: string[];
  /** Tracking ids of template messages (ZNS) the platform reports delivered. */
  delivered?: string[];
  /** The JSON answer once they are processed (e.g. a platform method to run, such as acknowledging a tap). */
  answer?: unknown;
}

export interface WebhookInbound {
  /** Checks that need no body (a secret header); throws InboundRejected. */
  checkHeaders?(headers: IncomingMessage['headers']): void;
  /** Verifies (signatures over the raw body) and parses; throws InboundRejected. */
  parse(raw: Buffer, headers: IncomingMessage['headers']): InboundBatch;
}

/** A running channel: its webhook, its rendering and its sender. */
export interface Channel<Op = unknown> {
  readonly name: string;
  /** The schema of one operation: queued ops are validated by it when they are added and when they run. */
  readonly opSchema: z.ZodType<Op>;
  inbound: WebhookInbound;
  /**
   * Engine outputs as platform operations. `replyTo` is the opaque reply
   * context of the event being answered (e.g. the tapped message); absent for
   * sends we start (reminders).
   */
  render(outputs: Output[], replyTo?: unknown): Op[];
  send(chat: string, op: Op): Promise<SendResult>;
  /** Ops that may run alongside the following ones (cosmetic edits); a failure of one is not retried. */
  concurrent(op: Op): boolean;
  /** Per-chat and global send limits of the platform. */
  limits: { globalPerSec: number; chatIntervalMs: number; chatBurst: number };
  /** How long the platform waits for the webhook's answer before it gives up (the handler answers 503 before that). */
  webhookTimeoutMs?: number;
  /** A problem an operator must fix (e.g. a refresh token the platform refused), shown on /readyz without failing it; undefined when fine. */
  trouble?(): Promise<string | undefined>;
  stop?(): Promise<void>;
}

export interface ChannelDeps {
  config: Config;
  redis: RedisClient;
  prefix: string;
  log: Logger;
  /** The MongoDB connection, for what a channel must keep durably (e.g. rotated tokens), in its own collections. */
  conn: Connection;
  /** AES-256-GCM key for secrets a channel stores. */
  encryptionKey: Buffer;
  now: () => number;
}

/** A channel type, registered once in ./registry.ts. */
export interface ChannelPlugin<Name extends string = string> {
  readonly name: Name;
  /** How pages name the channel to a citizen ("Zalo"), and whether the citizen starts by sending the code (no deep-link payload reaches the webhook). */
  readonly display: { title: string; sendsCode: boolean };
  /** Where a citizen sends the code, as printed on the slip ("@tthc_bot", the Official Account's name). */
  handle(config: Config): string;
  /** The channel's start link for an invitation (a deep link), or null. Known even where this process does not run the channel. */
  link?(config: Config, invitation: { token: string; code: string }): string | null;
  /** The running channel, or why it is disabled (missing configuration). */
  // Each channel has its own op type; the core treats ops as opaque.
  /**
   * What a user of this channel would see for these outputs (the /try simulator):
   * messages with their buttons, each button's value being what a tap sends back.
   */
  preview?(outputs: Output[]): Array<{ text: string; buttons: Array<{ title: string; value: string }> }>;
  /** A tap's value (as in `preview`) back to the choice it makes. */
  tapOf?(value: string): { seq: number; key: string } | undefined;
  /** `inline`: replies are the HTTP response of the respondent's own request (the browser); nothing is sent. */
  create(deps: ChannelDeps): Channel<any> | { disabled: string } | { inline: true };
}
