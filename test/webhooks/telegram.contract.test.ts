// The shared channel contract on Telegram: the real telegraf client against the emulator.

import { unreachableKey } from '../../src/outbound/rate-limit.js';
import { TEXT_LIMIT } from '../../webhooks/telegram/ops.js';
import { channelContract } from '../channels/contract.js';
import { startTestService, TEST_SECRET } from '../helpers/context.js';
import { type StoredMessage, TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

/** The emulator edits messages in place (a tapped keyboard is removed, the next question replaces the tapped one). */
const snapshot = (m: StoredMessage) => ({ text: m.text, buttons: m.buttons.map((b) => b.text), ref: { ...m, buttons: [...m.buttons] } });

channelContract<TelegramUser>('telegram', async () => {
  const emu = await new TelegramEmulator().start();
  const t = await startTestService({ name: 'telegram_contract', telegramApiRoot: emu.apiRoot });
  let chat = 61_000;
  return {
    t,
    channel: t.service.channels.find((c) => c.name === 'telegram')!,
    textLimit: TEXT_LIMIT,
    newUser() {
      const user = new TelegramUser(emu, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, chat++);
      return {
        platform: user,
        startByLink: async (token) => (await user.send(`/start ${token}`)).status,
        send: async (text) => (await user.send(text)).status,
        tap: async (label, on) => (await user.tap(label, on ? (on.ref as StoredMessage) : undefined)).status,
        messages: () => user.messages().map(snapshot),
        mark: () => user.mark(),
        since: (mark) => user.since(mark).map(snapshot),
      };
    },
    rateLimitNext: (u, seconds) =>
      emu.failures.set(u.platform.chatId, [{ code: 429, description: `Too Many Requests: retry after ${seconds}`, retryAfter: seconds }]),
    block: (u) => emu.blocked.add(u.platform.chatId),
    sendAttempts: (u) => emu.callsOf('sendMessage', u.platform.chatId),
    isUnreachable: async (u) => (await t.service.redis.exists(unreachableKey(t.prefix, 'telegram', String(u.platform.chatId)))) === 1,
    async close() {
      await t.close();
      await emu.stop();
    },
  };
});
