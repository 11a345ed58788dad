// Replies keep their order per chat when the platform refuses one for a while
// (5xx, 429), also when the chat's next update is handled by another process:
// the reply that had to wait is queued, and the later ones queue behind it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

let emu: TelegramEmulator;
let a: TestService;
let b: TestService;
let officer: string;
let chat = 77_000;

beforeAll(async () => {
  emu = await new TelegramEmulator().start();
  a = await startTestService({ name: 'reply_order', telegramApiRoot: emu.apiRoot });
  b = await startTestService({ name: 'reply_order', telegramApiRoot: emu.apiRoot, sameAs: a });
  officer = await a.key('officer', 'PC08');
});
afterAll(async () => {
  await b.service.close();
  await a.close();
  await emu.stop();
});

/** A chat whose updates reach process A or B as the test says (a balancer in front of two web processes). */
function user() {
  const c = chat++;
  const via = (t: TestService) => new TelegramUser(emu, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, c);
  return { onA: via(a), onB: via(b), chatId: c };
}

const callsOf = (chatId: number) =>
  emu.calls
    .filter((c) => Number(c.payload.chat_id) === chatId && c.method !== 'answerCallbackQuery')
    .map((c) => `${c.method} ${String(c.payload.text ?? '').split('\n')[0]}`);

async function opened() {
  const inv = await api(a.baseUrl, officer, 'POST', '/api/invitations', { caseCode: `ORD-${chat}`, unit: 'PC08', field: 'dang-ky-xe' });
  const u = user();
  await u.onA.send(`/start ${inv.body.token}`);
  await u.onA.waitForText('Kính chào');
  return u;
}

describe('replies of one chat stay in order', () => {
  it.each([
    ['a 5xx', { code: 502, description: 'Bad Gateway' }],
    ['a 429 with retry_after', { code: 429, description: 'Too Many Requests: retry after 1', retryAfter: 1 }],
  ])(
    'after %s, across two processes, each exactly once',
    async (_name, failure) => {
      const u = await opened();
      emu.failures.set(u.chatId, [failure]);
      const mark = u.onA.mark();
      // Process A takes the tap; Telegram refuses the next question, so A queues it.
      expect((await u.onA.tap('Đồng ý tham gia')).status).toBe(200);
      // The respondent, seeing nothing, writes again: process B answers, and its reply must wait behind A's.
      await new Promise((r) => setTimeout(r, 50));
      expect((await u.onB.send('/help')).status).toBe(200);
      await u.onA.waitForText('Hướng dẫn', mark, 15_000);
      await new Promise((r) => setTimeout(r, 300));
      const question = 'editMessageText ✅ Đồng ý tham gia';
      expect(callsOf(u.chatId)).toEqual([
        expect.stringMatching(/^sendMessage Kính chào/),
        question, // refused
        question, // queued, sent
        expect.stringMatching(/^sendMessage Hướng dẫn/),
        'editMessageReplyMarkup ',
      ]);
      // Once the queue is through, replies go direct again.
      const direct = u.onB.mark();
      await u.onB.tap('Người dân');
      await u.onB.waitForText('Nơi tiếp nhận hồ sơ dễ tìm', direct);
    },
    30_000,
  );
});
