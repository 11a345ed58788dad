// Zalo OA sends over axios (the project's HTTP client), with Zalo's errors
// (HTTP 200 with error != 0) mapped to what the send loop does about them.
import axios, { type AxiosInstance } from 'axios';
import { type SendResult, TransientSendError } from '../../src/channels/channel.js';
import type { ZaloOp } from './ops.js';
import { ZaloTokenRefused, type ZaloTokens } from './tokens.js';

const SEND_TIMEOUT_MS = 15_000;
const TOKEN_ERRORS = new Set([-216, -220]);
/** Permanent for that user: not a follower, blocked, outside the 7-day window (no ZNS fallback yet), ... */
const UNREACHABLE = new Set([-213, -217, -218, -227, -230, -232, -244]);

export class ZaloSender {
  private readonly http: AxiosInstance;

  constructor(
    apiBase: string,
    private readonly tokens: ZaloTokens,
  ) {
    this.http = axios.create({ baseURL: apiBase, timeout: SEND_TIMEOUT_MS, validateStatus: () => true });
  }

  private body(user: string, op: ZaloOp) {
    const message: Record<string, unknown> = { text: op.text };
    if (op.buttons?.length) {
      message.attachment = {
        type: 'template',
        payload: { buttons: op.buttons.map((b) => ({ title: b.title, type: 'oa.query.hide', payload: b.payload })) },
      };
    }
    return { recipient: { user_id: user }, message };
  }

  async send(user: string, op: ZaloOp): Promise<SendResult> {
    let token: string;
    try {
      token = await this.tokens.access();
    } catch (err) {
      if (err instanceof ZaloTokenRefused) return { ok: false, kind: 'retry_after', ms: 10 * 60_000 };
      throw new TransientSendError((err as Error).message);
    }
    for (let attempt = 0; ; attempt++) {
      let res: { status: number; data: { error?: number; message?: string } };
      try {
        res = await this.http.post('/v3.0/oa/message/cs', this.body(user, op), { headers: { access_token: token } });
      } catch (err) {
        throw new TransientSendError(`Zalo: ${(err as Error).message}`);
      }
      if (res.status >= 500 || res.status === 429) throw new TransientSendError(`Zalo HTTP ${res.status}`);
      const code = Number(res.data?.error ?? (res.status === 200 ? 0 : res.status));
      if (code === 0) return { ok: true };
      if (TOKEN_ERRORS.has(code) && attempt === 0) {
        try {
          token = await this.tokens.refresh(token);
        } catch (err) {
          if (err instanceof ZaloTokenRefused) return { ok: false, kind: 'retry_after', ms: 10 * 60_000 };
          throw new TransientSendError((err as Error).message);
        }
        continue;
      }
      return mapZaloError(code, res.data?.message ?? '');
    }
  }
}

/** Zalo's error codes (CHANNELS.md) in our terms. Throws TransientSendError for what a retry may fix. */
export function mapZaloError(code: number, message: string): SendResult {
  if (UNREACHABLE.has(code)) return { ok: false, kind: 'unreachable', reason: `Zalo ${code}: ${message}` };
  if (code === -32) return { ok: false, kind: 'retry_after', ms: 2_000 };
  if (code === -211) return { ok: false, kind: 'retry_after', ms: 60 * 60_000 }; // out of quota for now
  if (TOKEN_ERRORS.has(code)) throw new TransientSendError(`Zalo ${code}: token still refused after a refresh`);
  return { ok: false, kind: 'skip', reason: `Zalo ${code}: ${message}` };
}
