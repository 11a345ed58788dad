// Redis out of reach for two seconds (a failover, the network between blinking)
// around a reply: once while it is on its way to Telegram, once before it could
// take its pacing slot. The respondent gets the next question once, within
// seconds, not twice and not only when the recovery of replies owed (15 s
// here) would have asked it again.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { unsentKey } from '../../src/conversations/store.js';
import { globalRateKey } from '../../src/outbound/rate-limit.js';
import { api, eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { RedisLink } from '../helpers/redis-link.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

const NEXT_QUESTION = 'Phần 1/5. Tiếp cận dịch vụ';
let link: RedisLink;
let emu: TelegramEmulator;
let t: TestService;
let officerKey: string;
/** The test's own connection, straight to Redis. */
let redis: Redis;

beforeAll(async () => {
  link = await RedisLink.open(inject('redisUrl'));
  emu = await new TelegramEmulator().start();
  t = await startTestService({ name: 'redis_blip', redisUrl: link.url, telegramApiRoot: emu.apiRoot, extra: { unsentAfterMs: 15_000 } });
  officerKey = await t.key('officer', 'PC06');
  redis = new Redis(inject('redisUrl'));
});

afterAll(async () => {
  link.restore();
  redis.disconnect();
  await t.close();
  await emu.stop();
  await link.close();
});

/** A respondent at the survey's first question, whose replies from now on take 800 ms to reach Telegram (their edits recorded then). */
async function respondent(chat: number) {
  const inv = (
    await api(t.baseUrl, officerKey, 'POST', '/api/invitations', { caseCode: `BLIP-${chat}`, unit: 'PC06', field: 'can-cuoc', respondentType: 'citizen' })
  ).body as { token: string };
  const u = new TelegramUser(emu, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, chat);
  expect((await u.send(`/start ${inv.token}`)).status).toBe(200);
  await u.waitFor((msgs) => msgs.some((m) => m.buttons.some((b) => b.text === 'Đồng ý tham gia')), 'the consent question');
  emu.chatLatencyMs.set(chat, 800);
  return u;
}

/** Taps consent, then cuts Redis for 2 s, `afterMs` after the webhook has answered. */
async function tapThroughBlip(u: TelegramUser, afterMs: number) {
  expect((await u.tap('Đồng ý tham gia')).status).toBe(200);
  const tappedAt = Date.now();
  await new Promise((r) => setTimeout(r, afterMs));
  link.down();
  const restoredAt = Date.now() + 2_000;
  setTimeout(() => link.restore(), 2_000);
  return { tappedAt, restoredAt };
}

/** The next question arrives once, and no reply is left owed (so no recovery asks it again). */
async function expectAskedOnce(u: TelegramUser, before: number) {
  await eventually(
    async () => (await redis.zscore(unsentKey(t.prefix, `telegram:${u.chatId}`), `telegram:${u.chatId}`)) === null,
    'the reply settled once Redis is back',
    10_000,
  );
  expect(await t.service.runner.recoverUnsent(Date.now() + 1)).toBe(0);
  await new Promise((r) => setTimeout(r, 500));
  expect(u.since(before).filter((m) => m.text.includes(NEXT_QUESTION))).toHaveLength(1);
}

describe('Redis out of reach while a reply is sent', () => {
  it('a question sent while Redis is cut is settled once it is back, and is not asked again', async () => {
    const u = await respondent(61_001);
    const before = u.mark();
    // The reply has its pacing slot and is on its way to Telegram (800 ms) when Redis goes.
    const { restoredAt } = await tapThroughBlip(u, 300);
    await u.waitForText(NEXT_QUESTION, before, 14_000);
    expect(emu.callsOf('editMessageText', u.chatId)[0]!.at).toBeLessThan(restoredAt);
    await expectAskedOnce(u, before);
  });

  it('a reply that could not even take its pacing slot is queued once Redis is back, and arrives within seconds', async () => {
    const u = await respondent(61_002);
    const before = u.mark();
    // The bot's next send slot is 500 ms away: the reply waits for it, and takes it again once Redis is cut.
    await redis.set(globalRateKey(t.prefix, 'telegram'), String(Date.now() + 500), 'PX', 60_000);
    const { tappedAt } = await tapThroughBlip(u, 100);
    await u.waitForText(NEXT_QUESTION, before, 14_000);
    // Redis was back 2 s after the tap: the reply tried again meanwhile (about 4-5 s here; the recovery, 15 s at least).
    expect(Date.now() - tappedAt).toBeLessThan(12_000);
    await expectAskedOnce(u, before);
  });
});
