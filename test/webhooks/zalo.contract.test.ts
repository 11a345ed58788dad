// The shared channel contract on Zalo: the real axios sender against the emulator.

import { unreachableKey } from '../../src/outbound/rate-limit.js';
import { TEXT_LIMIT } from '../../webhooks/zalo/ops.js';
import { channelContract } from '../channels/contract.js';
import { startTestService } from '../helpers/context.js';
import { ZaloEmulator, type ZaloMessage, ZaloUser } from '../helpers/zalo-emulator.js';

channelContract<ZaloUser>('zalo', async () => {
  const emu = await new ZaloEmulator().start();
  const t = await startTestService({ name: 'zalo_contract', zalo: emu });
  let n = 0;
  return {
    t,
    channel: t.service.channels.find((c) => c.name === 'zalo')!,
    textLimit: TEXT_LIMIT,
    newUser() {
      // Zalo user ids exceed 2^53.
      const user = new ZaloUser(emu, `${t.baseUrl}/webhooks/zalo`, `90071992547409${String(100 + n++).padStart(5, '0')}`);
      return {
        platform: user,
        send: (text) => user.send(text),
        tap: (label, on) => user.tap(label, on ? (on.ref as ZaloMessage) : undefined),
        messages: () => user.messages().map((m) => ({ text: m.text, buttons: m.buttons.map((b) => b.title), ref: m })),
        // Zalo messages are never edited: a mark is a count.
        mark: () => user.messages().length,
        since: (mark) =>
          user
            .messages()
            .slice(mark)
            .map((m) => ({ text: m.text, buttons: m.buttons.map((b) => b.title), ref: m })),
      };
    },
    // Zalo has no retry_after: -32 (rate limit) is backed off.
    rateLimitNext: (u) => emu.failures.set(u.platform.userId, [-32]),
    block: (u) => emu.unfollowed.add(u.platform.userId),
    sendAttempts: (u) => emu.sends.filter((s) => s.user === u.platform.userId),
    isUnreachable: async (u) => (await t.service.redis.exists(unreachableKey(t.prefix, 'zalo', u.platform.userId))) === 1,
    async close() {
      await t.close();
      await emu.stop();
    },
  };
});
