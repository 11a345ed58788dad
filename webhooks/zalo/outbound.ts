// Zalo OA consultation messages, with Zalo's error codes mapped to what the
// send loop does about them.
import type { SendResult } from '../../src/channels/channel.js';
import { TransientSendError } from '../../src/channels/channel.js';
import { ZaloApi } from './api.js';
import type { ZaloOp } from './ops.js';
import type { ZaloTokens } from './tokens.js';

const TOKEN_ERRORS = new Set([-216, -220]);
/** Permanent for that user: not a follower, blocked, ... */
const UNREACHABLE = new Set([-213, -217, -218, -227, -244]);
/** The user last wrote more than 7 days ago: consultation messages are refused until they write again. */
const OUTSIDE_WINDOW = new Set([-230, -232]);
/** Sends stop while the OA's refresh token is refused; the jobs wait instead of retrying in a storm. */
export const REFUSED_PAUSE_MS = 10 * 60_000;

export class ZaloSender {
  private readonly api: ZaloApi;

  constructor(apiBase: string, tokens: ZaloTokens) {
    this.api = new ZaloApi(apiBase, tokens, TOKEN_ERRORS);
  }

  async send(user: string, op: ZaloOp): Promise<SendResult> {
    const message: Record<string, unknown> = { text: op.text };
    if (op.buttons?.length) {
      message.attachment = { type: 'template', payload: { buttons: op.buttons.map((b) => ({ title: b.title, type: 'oa.query.hide', payload: b.payload })) } };
    }
    const a = await this.api.post('/v3.0/oa/message/cs', { recipient: { user_id: user }, message });
    if ('refused' in a) return { ok: false, kind: 'retry_after', ms: REFUSED_PAUSE_MS };
    return a.code === 0 ? { ok: true } : mapZaloError(a.code, a.message);
  }
}

/** Zalo's error codes (CHANNELS.md) in our terms. Throws TransientSendError for what a retry may fix. */
export function mapZaloError(code: number, message: string): SendResult {
  if (UNREACHABLE.has(code)) return { ok: false, kind: 'unreachable', reason: `Zalo ${code}: ${message}` };
  if (OUTSIDE_WINDOW.has(code)) return { ok: false, kind: 'window_closed', reason: `Zalo ${code}: ${message}` };
  if (code === -32) return { ok: false, kind: 'retry_after', ms: 2_000 };
  if (code === -211) return { ok: false, kind: 'retry_after', ms: 60 * 60_000 }; // out of quota for now
  if (TOKEN_ERRORS.has(code)) throw new TransientSendError(`Zalo ${code}: token still refused after a refresh`);
  return { ok: false, kind: 'skip', reason: `Zalo ${code}: ${message}` };
}
