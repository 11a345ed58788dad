// The Telegram channel: POST /webhooks/telegram, inline keyboards, telegraf's API client.
import type { ChannelPlugin } from '../../src/channels/channel.js';
import { checkSecret, parseUpdate } from './inbound.js';
import { type TelegramOp, telegramOp } from './ops.js';
import { createTelegramClient, TelegramSender } from './outbound.js';
import { parseCallbackData, renderTelegram } from './render.js';

export const telegram: ChannelPlugin<'telegram'> = {
  name: 'telegram',
  display: { title: 'Telegram', sendsCode: false },
  handle: (config) => `@${config.telegramUsername ?? 'bot'}`,
  link: (config, inv) => (config.telegramUsername ? `https://t.me/${config.telegramUsername}?start=${inv.token}` : null),
  preview: (outputs) =>
    renderTelegram(outputs).flatMap((op) =>
      op.m === 'send' ? [{ text: op.text, buttons: (op.keyboard ?? []).map((k) => ({ title: k.text, value: k.data })) }] : [],
    ),
  tapOf: parseCallbackData,
  create({ config, redis, prefix }) {
    const tg = config.telegram;
    if (!tg) return { disabled: config.telegramDisabledReason ?? 'not configured' };
    const sender = new TelegramSender(createTelegramClient(tg.token, tg.apiRoot, tg.sendTimeoutMs), redis, prefix);
    return {
      name: 'telegram',
      opSchema: telegramOp,
      limits: { globalPerSec: tg.sendRate, chatIntervalMs: tg.chatIntervalMs, chatBurst: 3 },
      render: renderTelegram,
      send: (chat: string, op: TelegramOp) => sender.send(chat, op),
      // Marking the answered question does not hold back the next question (an edit that asks it does).
      concurrent: (op: TelegramOp) => op.m === 'edit' && !op.keyboard,
      inbound: { checkHeaders: (headers) => checkSecret(headers, tg.webhookSecret), parse: parseUpdate },
    };
  },
};
