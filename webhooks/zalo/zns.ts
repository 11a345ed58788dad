// ZNS: approved template messages to a phone number, with the OA's tokens.
// Errors arrive as HTTP 200 with error != 0 (CHANNELS.md).
import type { SendResult } from '../../src/channels/channel.js';
import type { Notifier, NotifierPlugin, TemplateMessage } from '../../src/channels/notifier.js';
import { ZaloApi, zaloTokens } from './api.js';
import { REFUSED_PAUSE_MS } from './outbound.js';
import type { ZaloTokens } from './tokens.js';

const UNREACHABLE = new Set([-108, -114, -118, -119, -139, -141]);

export class ZnsSender implements Notifier {
  readonly name = 'zns';
  private readonly api: ZaloApi;

  constructor(apiBase: string, tokens: ZaloTokens) {
    this.api = new ZaloApi(apiBase, tokens, new Set([-124, -216, -220]));
  }

  async send(m: TemplateMessage): Promise<SendResult> {
    const a = await this.api.post('/message/template', { phone: m.phone, template_id: m.templateId, template_data: m.data, tracking_id: m.trackingId });
    if ('refused' in a) return { ok: false, kind: 'retry_after', ms: REFUSED_PAUSE_MS };
    return a.code === 0 ? { ok: true } : mapZnsError(a.code, a.message);
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
  create(deps) {
    const tokens = zaloTokens(deps, ['ZALO_APP_ID', 'ZALO_APP_SECRET', 'ZALO_OA_ID', 'ZALO_ACCESS_TOKEN', 'ZALO_REFRESH_TOKEN']);
    return 'disabled' in tokens ? tokens : new ZnsSender(deps.config.zalo.ZALO_ZNS_API_BASE, tokens);
  },
};
