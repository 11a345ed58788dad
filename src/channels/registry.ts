// The channels this build knows. Adding one: a folder under webhooks/ and one line here.
import { telegram } from '../../webhooks/telegram/index.js';
import { zalo } from '../../webhooks/zalo/index.js';
import type { ChannelPlugin } from './channel.js';

// In the order pages offer them: Zalo first (most citizens have it).
export const CHANNEL_PLUGINS = [zalo, telegram] as const satisfies readonly ChannelPlugin[];

export type ChannelName = (typeof CHANNEL_PLUGINS)[number]['name'];

export const CHANNEL_NAMES = CHANNEL_PLUGINS.map((p) => p.name) as [ChannelName, ...ChannelName[]];
