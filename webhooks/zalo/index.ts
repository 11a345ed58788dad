// The Zalo Official Account channel. Only its start link exists so far: the
// citizen opens the OA chat and sends the short code (Zalo passes no deep-link
// payload to the webhook; see ../../../shared/CHANNELS.md). The webhook,
// rendering and sender come with the Zalo issue.
import type { ChannelPlugin } from '../../src/channels/channel.js';

export const zalo: ChannelPlugin<'zalo'> = {
  name: 'zalo',
  display: { title: 'Zalo', sendsCode: true },
  handle: (config) => `"${config.zalo.ZALO_OA_NAME ?? 'Công an tỉnh'}"`,
  link: (config) => (config.zalo.ZALO_OA_ID ? `https://zalo.me/${config.zalo.ZALO_OA_ID}` : null),
  create: () => ({ disabled: 'not implemented yet' }),
};
