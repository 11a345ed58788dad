// The channels this build knows. Adding one: a folder under webhooks/ and one line here.
import { telegram } from '../../webhooks/telegram/index.js';
import { web } from '../../webhooks/web/index.js';
import { zalo } from '../../webhooks/zalo/index.js';
import { zns } from '../../webhooks/zalo/zns.js';
import type { ChannelPlugin } from './channel.js';
import type { NotifierPlugin } from './notifier.js';

// In the order pages offer them: Zalo first (most citizens have it).
export const CHANNEL_PLUGINS = [zalo, telegram, web] as const satisfies readonly ChannelPlugin[];

export type ChannelName = (typeof CHANNEL_PLUGINS)[number]['name'];

export const CHANNEL_NAMES = CHANNEL_PLUGINS.map((p) => p.name) as [ChannelName, ...ChannelName[]];

/** Template senders to a phone number (not chat channels). */
export const NOTIFIER_PLUGINS = [zns] as const satisfies readonly NotifierPlugin[];
