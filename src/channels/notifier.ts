// A notifier sends an approved template to a phone number (Zalo ZNS): a
// separate capability from a chat channel (no conversation, no webhook of
// its own). Registered beside the channels in ./registry.ts.
import type { ChannelDeps, SendResult } from './channel.js';

export interface TemplateMessage {
  /** Normalized "84xxxxxxxxx". */
  phone: string;
  templateId: string;
  data: Record<string, string>;
  /** Idempotency key: a retry with the same id is not sent twice. */
  trackingId: string;
}

export interface Notifier {
  readonly name: string;
  send(m: TemplateMessage): Promise<SendResult>;
}

export interface NotifierPlugin<Name extends string = string> {
  readonly name: Name;
  create(deps: ChannelDeps): Notifier | { disabled: string };
}

/** A Vietnamese phone number as ZNS wants it: a leading 0 or +84 becomes 84. */
export const normalizePhone = (phone: string) => phone.replace(/[\s.-]/g, '').replace(/^(\+?84|0)/, '84');
