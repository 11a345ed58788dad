// ZNS: approved template messages to a phone number, with the OA's tokens.
// Errors arrive as HTTP 200 with error != 0 (CHANNELS.md).
import axios from 'axios';
import { type SendResult, TransientSendError } from '../../src/channels/channel.js';
import type { Notifier, NotifierPlugin, TemplateMessage } from '../../src/channels/notifier.js';
import { ZaloTokenRefused, ZaloTokens } from './tokens.js';

const UNREACHABLE = new Set([-108, -114, -118, -119, -139, -141]);
const TOKEN_ERRORS = new Set([-124, -216, -220]);

export class ZnsSender implements Notifier {
  readonly name = 'zns';
  private readonly http;

  constructor(
    apiBase: string,
    private readonly tokens: ZaloTokens,
  ) {
    this.http = axios.create({ baseURL: apiBase, timeout: 15_000, validateStatus: () => true });
  }

  async send(m: TemplateMessage): Promise<SendResult> {
    let token: string;
    try {
      token = await this.tokens.access();
    } catch (err) {
      if (err instanceof ZaloTokenRefused) return { ok: false, kind: 'retry_after', ms: 10 * 60_000 };
      throw new TransientSendError((err as Error).message);
    }
    const body = { phone: m.phone, template_id: m.templateId, template_data: m.data, tracking_id: m.trackingId };
    for (let attempt = 0; ; attempt++) {
      let res: { status: number; data: { error?: number; message?: string } };
      try {
        res = await this.http.post('/message/template', body, { headers: { access_token: token } });
      } catch (err) {
        throw new TransientSendError(`ZNS: ${(err as Error).message}`);
      }
      if (res.status >= 500 || res.status === 429) throw new TransientSendError(`ZNS HTTP ${res.status}`);
      const code = Number(res.data?.error ?? 0);
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
      return mapZnsError(code, res.data?.message ?? '');
    }
  }
}

export function mapZnsError(code: number, message: string): SendResult {
  if (UNREACHABLE.has(code)) return { ok: false, kind: 'unreachable', reason: `ZNS ${code}: ${message}` };
  if (code === -133) return { ok: false, kind: 'retry_after', ms: 60 * 60_000 }; // night hours: try again later
  if (code === -115 || code === -144) return { ok: false, kind: 'retry_after', ms: 6 * 3600_000 }; // quota
  return { ok: false, kind: 'skip', reason: `ZNS ${code}: ${message}` };
}

export const zns: NotifierPlugin<'zns'> = {
  name: 'zns',
  create({ config, redis, prefix, log, conn, encryptionKey }) {
    const z = config.zalo;
    const missing = (['ZALO_APP_ID', 'ZALO_APP_SECRET', 'ZALO_OA_ID', 'ZALO_ACCESS_TOKEN', 'ZALO_REFRESH_TOKEN'] as const).filter((k) => !z[k]);
    if (missing.length) return { disabled: `${missing.join(', ')} not set` };
    const tokens = new ZaloTokens({
      appId: z.ZALO_APP_ID!,
      appSecret: z.ZALO_APP_SECRET!,
      oaId: z.ZALO_OA_ID!,
      oauthBase: z.ZALO_OAUTH_BASE.replace(/\/+$/, ''),
      initial: { access: z.ZALO_ACCESS_TOKEN!, refresh: z.ZALO_REFRESH_TOKEN! },
      conn,
      redis,
      prefix,
      encryptionKey,
      log,
    });
    return new ZnsSender(z.ZALO_ZNS_API_BASE.replace(/\/+$/, ''), tokens);
  },
};
