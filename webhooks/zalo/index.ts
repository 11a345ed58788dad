// The Zalo Official Account channel: POST /webhooks/zalo (signed), button
// templates, sends over axios with token refresh. The citizen starts by
// sending the short code (no deep-link payload reaches the webhook; see
// ../../../shared/CHANNELS.md).
import type { ChannelPlugin } from '../../src/channels/channel.js';
import { zaloTokens } from './api.js';
import { parseZaloWebhook } from './inbound.js';
import { type ZaloOp, zaloOp } from './ops.js';
import { ZaloSender } from './outbound.js';
import { parseButtonPayload, renderZalo } from './render.js';

const REQUIRED = ['ZALO_APP_ID', 'ZALO_APP_SECRET', 'ZALO_OA_ID', 'ZALO_OA_SECRET_KEY', 'ZALO_ACCESS_TOKEN', 'ZALO_REFRESH_TOKEN'] as const;

export const zalo: ChannelPlugin<'zalo'> = {
  name: 'zalo',
  display: { title: 'Zalo', sendsCode: true },
  handle: (config) => `"${config.zalo.ZALO_OA_NAME ?? 'Công an tỉnh'}"`,
  link: (config) => (config.zalo.ZALO_OA_ID ? `https://zalo.me/${config.zalo.ZALO_OA_ID}` : null),
  preview: (outputs) => renderZalo(outputs).map((op) => ({ text: op.text, buttons: (op.buttons ?? []).map((b) => ({ title: b.title, value: b.payload })) })),
  tapOf: parseButtonPayload,
  create(deps) {
    const { config } = deps;
    const z = config.zalo;
    const tokens = zaloTokens(deps, REQUIRED);
    if ('disabled' in tokens) return tokens;
    const sender = new ZaloSender(z.ZALO_OA_API_BASE, tokens);
    const secrets = { appId: z.ZALO_APP_ID!, oaSecretKey: z.ZALO_OA_SECRET_KEY! };
    return {
      name: 'zalo',
      opSchema: zaloOp,
      // ZALO_SEND_RATE for the whole app (the limiter is in Redis, so across processes); Zalo gives no per-chat limit, 1/s is kept for sends we start.
      limits: { globalPerSec: config.zaloSendRate, chatIntervalMs: 1_000, chatBurst: 3 },
      // Zalo waits about 2 s for the answer.
      webhookTimeoutMs: 1_500,
      render: (outputs) => renderZalo(outputs),
      send: (user: string, op: ZaloOp) => sender.send(user, op),
      concurrent: () => false,
      inbound: { parse: (raw, headers) => parseZaloWebhook(raw, headers, secrets) },
      trouble: async () => tokens.trouble(),
    };
  },
};
