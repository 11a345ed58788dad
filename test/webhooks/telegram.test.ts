// Telegram end to end: real telegraf client, real Redis and MongoDB-compatible
// server, Telegram emulated at its HTTP boundary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unreachableKey } from '../../src/outbound/rate-limit.js';
import { api, eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

let emu: TelegramEmulator;
let t: TestService;
let officerKey: string;
let chatSeq = 5000;

beforeAll(async () => {
  emu = await new TelegramEmulator().start();
  t = await startTestService({ name: 'telegram', telegramApiRoot: emu.apiRoot });
  officerKey = await t.key('officer', 'PC08');
});
afterAll(async () => {
  await t.close();
  await emu.stop();
});

const hook = () => ({ url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET });
const newUser = () => new TelegramUser(emu, hook(), chatSeq++);

async function invite(caseCode: string, extra: Record<string, unknown> = {}) {
  const r = await api(t.baseUrl, officerKey, 'POST', '/api/invitations', { caseCode, unit: 'PC08', field: 'dang-ky-xe', ...extra });
  expect(r.status).toBe(201);
  return r.body as { id: string; token: string; code: string; links: { telegram: string } };
}

/** Answers the current question by tapping (or typing) and waits for the next question (or the thanks). */
async function answer(u: TelegramUser, how: { tap: string | number } | { type: string }) {
  const mark = u.mark();
  const r = 'tap' in how ? await u.tap(how.tap) : await u.send(how.type);
  expect(r.status).toBe(200);
  await u.waitFor(() => u.since(mark).some((x) => x.buttons.length > 0 || x.text.includes('cảm ơn')), 'the next question');
  return r;
}

describe('Telegram: a citizen takes the whole survey', () => {
  it('from /start <token> through every question to one response in MongoDB', async () => {
    const inv = await invite('BKS-65A-123.45', { respondentType: 'citizen' });
    expect(inv.links.telegram).toBe(`https://t.me/tthc_test_bot?start=${inv.token}`);
    const u = newUser();

    expect((await u.send(`/start ${inv.token}`)).status).toBe(200);
    await u.waitForText('Kính chào');
    expect(u.lastWithButtons()!.buttons.map((b) => b.text)).toEqual(['Đồng ý tham gia']);
    expect(u.lastWithButtons()!.text).toContain('Phòng Cảnh sát giao thông (PC08)');

    const consentMsg = u.lastWithButtons()!;
    const sent = emu.callsOf('sendMessage', u.chatId).length;
    const tapResult = await answer(u, { tap: 'Đồng ý tham gia' });
    // The tap was acknowledged in the webhook answer, and the tapped message now shows the choice and asks the next
    // question (respondent type was known from the invitation: the scale starts at once): one edit, no new message.
    expect(tapResult.body).toMatchObject({ method: 'answerCallbackQuery' });
    await u.waitForText('Nơi tiếp nhận hồ sơ dễ tìm');
    expect(consentMsg.text).toMatch(/^✅ Đồng ý tham gia\n\n.*Nơi tiếp nhận hồ sơ dễ tìm/s);
    expect(consentMsg.buttons.map((b) => b.text)).toContain('Rất hài lòng');
    expect(emu.callsOf('sendMessage', u.chatId).length).toBe(sent);
    for (let i = 0; i < 7; i++) await answer(u, { tap: 'Rất hài lòng' });
    for (let i = 0; i < 3; i++) await answer(u, { type: i === 0 ? 'hai long' : '4' });
    const typedOver = u.messages().findLast((m) => m.text.includes('Cán bộ tuân thủ đúng quy định'));
    for (let i = 0; i < 4; i++) await answer(u, { tap: 5 });
    await answer(u, { tap: 'Không' });
    await answer(u, { type: 'không' });
    await answer(u, { tap: 'Hài lòng' });
    await answer(u, { type: 'Cán bộ nhiệt tình' });
    await u.waitForText('Xin chân thành cảm ơn');

    // A typed answer retired the keyboard of the question it answered.
    expect(typedOver?.buttons ?? []).toEqual([]);
    expect(emu.callsOf('answerCallbackQuery').length).toBeGreaterThanOrEqual(13);

    const { Response } = t.service.db.models;
    const resp = await eventually(() => Response.findOne({ invitationId: inv.id }).lean(), 'the response');
    expect(resp.channel).toBe('telegram');
    expect(resp.respondent).not.toContain(String(u.chatId));
    expect(Object.fromEntries(resp.answers.map((a) => [a.q, a.value]))).toMatchObject({
      consent: 'agree',
      respondent_type: 'citizen',
      access_location: 5,
      proc_deadline: 5,
      officer_courtesy: 4,
      officer_compliance: 4,
      result_on_time: 5,
      obs_harassment: 'no',
      obs_extra_payment: 'no',
      overall: 4,
      suggestion: 'Cán bộ nhiệt tình',
    });
    expect(resp.answers).toHaveLength(20);
    await eventually(async () => (await api(t.baseUrl, officerKey, 'GET', `/api/invitations/${inv.id}`)).body.status === 'completed', 'invitation completed');
  });

  it('a typed short code from the slip opens the survey too', async () => {
    const inv = await invite('CODE-1');
    const u = newUser();
    await u.send(`${inv.code.slice(0, 4).toLowerCase()} ${inv.code.slice(4)}`);
    await u.waitForText('Kính chào');
  });
});

describe('Telegram webhook: bad requests change nothing', () => {
  it('rejects a wrong or missing secret with 401', async () => {
    const u = newUser();
    const wrong = await u.deliver(
      { update_id: 1, message: { message_id: 1, chat: { id: u.chatId }, text: '/start' } },
      { 'x-telegram-bot-api-secret-token': 'wrong' },
    );
    expect(wrong.status).toBe(401);
    const missing = await fetch(hook().url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as any).error.code).toBe('bad_secret');
    await new Promise((r) => setTimeout(r, 200));
    expect(u.messages()).toEqual([]);
  });

  it('answers 400 to a body that is not an update and 413 to one over 1 MB', async () => {
    const post = (body: string) =>
      fetch(hook().url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TEST_SECRET }, body });
    expect((await post('{not json')).status).toBe(400);
    const notUpdate = await post(JSON.stringify({ hello: 'world' }));
    expect(notUpdate.status).toBe(400);
    expect(((await notUpdate.json()) as any).error.code).toBe('bad_update');
    const big = await post(JSON.stringify({ update_id: 9, message: { message_id: 1, chat: { id: 1 }, text: 'x'.repeat(1_100_000) } }));
    expect(big.status).toBe(413);
  });

  it('acknowledges a redelivered update_id and ignores it', async () => {
    const u = newUser();
    const inv = await invite('DUP-1');
    await u.send(`/start ${inv.token}`, 900_001);
    await u.waitForText('Kính chào');
    const consent = { ...u.lastWithButtons()!, buttons: [...u.lastWithButtons()!.buttons] };
    await u.tap(1, consent, 900_002);
    await u.waitForText('Ông/bà thực hiện thủ tục');
    const mark = u.mark();
    // Telegram did not get our answer in time and sends the same updates again.
    expect((await u.send(`/start ${inv.token}`, 900_001)).status).toBe(200);
    expect((await u.tap(1, consent, 900_002)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(u.since(mark)).toEqual([]);
  });
});

describe('Telegram: what a respondent sees in edge cases', () => {
  it('a stale button gets a polite answer and changes nothing', async () => {
    const u = newUser();
    const inv = await invite('STALE-1');
    await u.send(`/start ${inv.token}`);
    await u.waitForText('Kính chào');
    const consent = u.lastWithButtons()!;
    const snapshot = { ...consent, buttons: [...consent.buttons] };
    await answer(u, { tap: 1 });
    await u.waitForText('Ông/bà thực hiện thủ tục');
    const before = u.mark();
    const stale = await u.tap(1, snapshot);
    expect(stale.body).toMatchObject({ method: 'answerCallbackQuery' });
    // The current question is asked again, with its keyboard, under the note.
    await u.waitForText('Câu hỏi đó đã được trả lời', before);
    expect(u.last()!.text).toMatch(/^Câu hỏi đó đã được trả lời.*\n\nÔng\/bà thực hiện thủ tục/s);
    expect(u.last()!.buttons.map((b) => b.text)).toEqual(['Người dân', 'Đại diện tổ chức, doanh nghiệp', '« Quay lại']);
    await answer(u, { tap: 'Người dân' });
    await u.waitForText('Nơi tiếp nhận hồ sơ dễ tìm', before);
  });

  it('a tapped question the user deleted: the next question comes as a new message', async () => {
    const u = newUser();
    const inv = await invite('DELETED-1', { respondentType: 'citizen' });
    await u.send(`/start ${inv.token}`);
    await u.waitForText('Kính chào');
    const consent = u.lastWithButtons()!;
    const snapshot = { ...consent, buttons: [...consent.buttons] };
    emu.messages.set(u.chatId, []); // the user cleared the chat
    await u.tap(1, snapshot);
    const [next] = await u.waitForText('Nơi tiếp nhận hồ sơ dễ tìm');
    expect(next!.message_id).not.toBe(consent.message_id);
    expect(next!.buttons.map((b) => b.text)).toContain('Rất hài lòng');
  });

  it('unknown and used tokens get clear Vietnamese messages', async () => {
    const u = newUser();
    await u.send('/start AAAAAAAAAAAAAAAAAAAAAA');
    await u.waitForText('Mã khảo sát không đúng');
    await u.send('/start');
    await u.waitForText('quét mã QR hoặc gõ mã khảo sát');
    await u.send('xin chào');
    await eventually(async () => u.messages().filter((m) => m.text.includes('quét mã QR')).length === 2, 'how-to message again');

    const inv = await invite('USED-1', { respondentType: 'organization' });
    const v = newUser();
    await v.send(`/start ${inv.token}`);
    await v.waitForText('Kính chào');
    for (const text of ['1', ...Array(14).fill('3'), '2', '2', '3', '/skip']) await answer(v, { type: text });
    await v.waitForText('Xin chân thành cảm ơn');
    await eventually(async () => (await api(t.baseUrl, officerKey, 'GET', `/api/invitations/${inv.id}`)).body.status === 'completed', 'completed');
    const w = newUser();
    await w.send(`/start ${inv.token}`);
    await w.waitForText('đã được trả lời');
  });

  it('a user who blocked the bot is marked unreachable and not retried', async () => {
    const u = newUser();
    emu.blocked.add(u.chatId);
    const inv = await invite('BLOCK-1');
    await u.send(`/start ${inv.token}`);
    await eventually(() => t.service.redis.exists(unreachableKey(t.prefix, 'telegram', String(u.chatId))).then((n) => n === 1), 'unreachable mark');
    await new Promise((r) => setTimeout(r, 300));
    expect(emu.callsOf('sendMessage', u.chatId)).toHaveLength(1);
  });

  it('a 429 is honoured: the message goes out after retry_after', async () => {
    const u = newUser();
    emu.failures.set(u.chatId, [{ code: 429, description: 'Too Many Requests: retry after 1', retryAfter: 1 }]);
    const inv = await invite('RATE-1');
    const t0 = Date.now();
    await u.send(`/start ${inv.token}`);
    await u.waitForText('Kính chào', 0, 10_000);
    const calls = emu.callsOf('sendMessage', u.chatId);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(950);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
  });
});

describe('npm run telegram:set-webhook', () => {
  it('registers PUBLIC_BASE_URL/webhooks/telegram with the secret and the update types', async () => {
    const { execFile } = await import('node:child_process');
    const { join } = await import('node:path');
    const { projectRoot } = await import('../../src/local/paths.js');
    const env = {
      ...process.env,
      TELEGRAM_BOT_TOKEN: '123456:TEST-token',
      TELEGRAM_WEBHOOK_SECRET: 'hook_secret-1',
      TELEGRAM_API_ROOT: emu.apiRoot,
      PUBLIC_BASE_URL: 'https://survey.example.vn',
    };
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [join(projectRoot, 'dist/scripts/telegram-set-webhook.js')], { env }, (err, stdout, stderr) =>
        err ? reject(new Error(stderr)) : resolve(stdout),
      ),
    );
    expect(out).toContain('webhook set: https://survey.example.vn/webhooks/telegram');
    expect(emu.webhook).toEqual({ url: 'https://survey.example.vn/webhooks/telegram', secret: 'hook_secret-1', allowedUpdates: ['message', 'callback_query'] });
    // The token never appears in what the script prints.
    expect(out).not.toContain('TEST-token');
  });
});

describe('Telegram outages', () => {
  it('a 5xx is retried with backoff, and a later reply waits behind it', async () => {
    const u = newUser();
    const inv = await invite('RETRY-1');
    await u.send(`/start ${inv.token}`);
    await u.waitForText('Kính chào');
    emu.failures.set(u.chatId, [{ code: 502, description: 'Bad Gateway' }]);
    const mark = u.mark();
    await u.tap(1);
    // The respondent, seeing nothing yet, asks for help: that reply must come after the question it follows.
    await u.send('/help');
    await u.waitForText('Hướng dẫn', mark, 15_000);
    // The next question replaces the tapped one: the failed try, its retry, then the help (which retires the older keyboard).
    const calls = () =>
      emu.calls.filter((c) => Number(c.payload.chat_id) === u.chatId).map((c) => `${c.method} ${String(c.payload.text ?? '').slice(0, 9)}`.trim());
    await eventually(async () => calls().length >= 5, 'the older keyboard retired');
    expect(calls()).toEqual([
      'sendMessage Kính chào',
      'editMessageText ✅ Đồng ý',
      'editMessageText ✅ Đồng ý',
      'sendMessage Hướng dẫn',
      'editMessageReplyMarkup',
    ]);
  }, 30_000);
});

describe('Telegram not answering (timeouts)', () => {
  let slow: TestService;
  let key: string;
  beforeAll(async () => {
    slow = await startTestService({ name: 'telegram-timeouts', telegramApiRoot: emu.apiRoot, env: { TELEGRAM_SEND_TIMEOUT_MS: '1000' } });
    key = await slow.key('officer', 'PC08');
  });
  afterAll(() => slow.close());

  it.each(['lost', 'applied'] as const)(
    'a call whose answer never comes (%s on the way) is retried: the respondent sees the next question once, and the survey goes on',
    async (stall) => {
      const u = new TelegramUser(emu, { url: `${slow.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, chatSeq++);
      const inv = (await api(slow.baseUrl, key, 'POST', '/api/invitations', { caseCode: `TIMEOUT-${stall}`, unit: 'PC08', field: 'dang-ky-xe' })).body as {
        token: string;
      };
      await u.send(`/start ${inv.token}`);
      await u.waitForText('Kính chào');
      const mark = u.mark();
      emu.stalls.set(u.chatId, [stall]);
      // The edit that asks the next question gets no answer; the webhook is still answered (the reply waits in the queue).
      expect((await u.tap(1)).status).toBe(200);
      const next = 'tư cách nào';
      await u.waitForText(next, mark, 15_000);
      const edits = () => emu.calls.filter((c) => Number(c.payload.chat_id) === u.chatId && c.method === 'editMessageText');
      await eventually(async () => edits().length >= 2, 'the retry');
      // One message on screen, asking the next question once (a retried edit already applied is "not modified").
      expect(u.messages().map((m) => m.text.includes(next))).toEqual([true]);
      expect(emu.calls.filter((c) => Number(c.payload.chat_id) === u.chatId && c.method === 'sendMessage')).toHaveLength(1);
      const after = u.mark();
      expect((await u.tap(1)).status).toBe(200);
      await u.waitFor(() => u.since(after).some((m) => m.buttons.length > 0), 'the question after it');
    },
    30_000,
  );

  it('a sendMessage lost on the way is sent again, once', async () => {
    const u = new TelegramUser(emu, { url: `${slow.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, chatSeq++);
    emu.stalls.set(u.chatId, ['lost']);
    const mark = u.mark();
    expect((await u.send('/help')).status).toBe(200);
    await u.waitForText('Xin chào', mark, 15_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(u.messages().filter((m) => m.text.includes('Xin chào'))).toHaveLength(1);
    expect(emu.callsOf('sendMessage', u.chatId)).toHaveLength(2);
  }, 30_000);
});

describe('Telegram: queued sends of one chat', () => {
  it('run one job at a time, in order, even with many worker slots', async () => {
    const u = newUser();
    emu.chatLatencyMs.set(u.chatId, 200);
    const chat = String(u.chatId);
    await t.service.queues.addOutbound({
      channel: 'telegram',
      chat,
      reply: false,
      ops: [
        { m: 'send', text: 'A1' },
        { m: 'send', text: 'A2' },
      ],
    });
    await t.service.queues.addOutbound({ channel: 'telegram', chat, reply: false, ops: [{ m: 'send', text: 'B1' }] });
    await u.waitFor((m) => m.length === 3, 'three messages', 15_000);
    expect(u.messages().map((m) => m.text)).toEqual(['A1', 'A2', 'B1']);
  });

  const queuedSend = (u: TelegramUser, reply: boolean) =>
    t.service.queues.addOutbound({ channel: 'telegram', chat: String(u.chatId), reply, ops: [{ m: 'send', text: 'Nhắc nhở' }] });
  const badGateways = (u: TelegramUser, n: number) =>
    emu.failures.set(
      u.chatId,
      Array.from({ length: n }, () => ({ code: 502, description: 'Bad Gateway' })),
    );

  it('a send that fails once is tried again at once, not after a backoff', async () => {
    const u = newUser();
    badGateways(u, 1);
    const job = await queuedSend(u, false);
    await u.waitFor((m) => m.length === 1, 'the message');
    await eventually(async () => (await job.getState()) === 'completed', 'the job done');
    // Done in its first attempt: no failure recorded, no backoff waited.
    expect((await t.service.queues.outbound.getJob(job.id!))?.failedReason).toBeUndefined();
    expect(u.messages().map((m) => m.text)).toEqual(['Nhắc nhở']);
  });

  it('a send Telegram keeps answering with 5xx is tried again past the first minutes of the outage, and arrives once', async () => {
    const u = newUser();
    // 17 calls failing, two per attempt: 9 attempts, whose backoffs add up to 3 minutes, where 8 attempts in all used
    // to give up after about 2. A queued reply, so that no per-chat spacing slows the test.
    badGateways(u, 17);
    const job = await queuedSend(u, true);
    // Each attempt waits its backoff (1 s, 2 s, ... a minute): promoted here, so that minutes of outage pass in seconds.
    await eventually(
      async () => {
        const state = await job.getState();
        expect(state).not.toBe('failed');
        if (state === 'delayed') await job.promote().catch(() => {});
        return u.messages().length > 0;
      },
      'the send after 17 failures',
      30_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(u.messages().map((m) => m.text)).toEqual(['Nhắc nhở']);
    expect(emu.failures.get(u.chatId)).toEqual([]);
  });
});

describe('Telegram under load', () => {
  it('50 concurrent conversations complete with all answers intact', async () => {
    const users = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => ({ u: newUser(), inv: await invite(`LOAD-${i}`, { respondentType: 'citizen' }), level: (i % 5) + 1 })),
    );
    await Promise.all(
      users.map(async ({ u, inv, level }) => {
        await u.send(`/start ${inv.token}`);
        await u.waitForText('Kính chào');
        await answer(u, { tap: 1 });
        for (let q = 0; q < 14; q++) await answer(u, { tap: level });
        await answer(u, { tap: 'Không' });
        await answer(u, { tap: 'Không' });
        await answer(u, { tap: level });
        if (level <= 2) await answer(u, { type: `Lý do ${u.chatId}` });
        await u.tap('Bỏ qua');
        await u.waitForText('Xin chân thành cảm ơn');
      }),
    );
    const { Response } = t.service.db.models;
    await eventually(async () => (await Response.countDocuments({ caseCode: /^LOAD-/ })) === 50, '50 responses', 30_000);
    const responses = await Response.find({ caseCode: /^LOAD-/ }).lean();
    for (const r of responses) {
      const i = Number(r.caseCode!.slice(5));
      const level = (i % 5) + 1;
      const values = Object.fromEntries(r.answers.map((a) => [a.q, a.value]));
      expect(values.overall).toBe(level);
      expect(r.answers.filter((a) => typeof a.value === 'number' && a.value === level).length).toBe(15);
      if (level <= 2) expect(values.unsatisfied_reason).toMatch(/^Lý do \d+$/);
    }
  }, 120_000);
});

describe('Telegram: first contact (what a citizen meets)', () => {
  /** Through every question to the optional suggestion, tapping. */
  async function toLastQuestion(caseCode: string) {
    const inv = await invite(caseCode, { respondentType: 'citizen' });
    const u = newUser();
    await u.send(`/start ${inv.token}`);
    await u.waitForText('Kính chào');
    await answer(u, { tap: 1 });
    for (let q = 0; q < 14; q++) await answer(u, { tap: 4 });
    await answer(u, { tap: 'Không' });
    await answer(u, { tap: 'Không' });
    await answer(u, { tap: 4 });
    await u.waitForText('Ông/bà có góp ý gì');
    return { inv, u, last: u.lastWithButtons()! };
  }

  it('answered by "Bỏ qua", the last question keeps no keyboard, and old taps get one answer at most', async () => {
    const { u, last } = await toLastQuestion('FC-SKIP');
    const snapshot = { ...last, buttons: [...last.buttons] };
    await u.tap('Bỏ qua');
    await u.waitForText('Xin chân thành cảm ơn');
    await eventually(async () => last.buttons.length === 0, 'the keyboard of the last question removed');
    expect(u.messages().filter((m) => m.buttons.length > 0)).toEqual([]);
    const before = u.mark();
    for (let i = 0; i < 21; i++) expect((await u.tap('Bỏ qua', snapshot)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(u.since(before).length).toBeLessThanOrEqual(1);
  });

  it('answered by typing, the last question keeps no keyboard either', async () => {
    const { u, last } = await toLastQuestion('FC-TYPE');
    await u.send('Nên có thêm chỗ ngồi');
    await u.waitForText('Xin chân thành cảm ơn');
    await eventually(async () => last.buttons.length === 0, 'the keyboard of the last question removed');
    expect(u.messages().filter((m) => m.buttons.length > 0)).toEqual([]);
  });

  it('offers "Quay lại" as a button from the second question on', async () => {
    const inv = await invite('FC-BACK', { respondentType: 'citizen' });
    const u = newUser();
    await u.send(`/start ${inv.token}`);
    await u.waitForText('Kính chào');
    expect(u.lastWithButtons()!.buttons.map((b) => b.text)).not.toContain('« Quay lại');
    await answer(u, { tap: 1 });
    await answer(u, { tap: 'Hài lòng' });
    const before = u.mark();
    await u.tap('« Quay lại');
    await u.waitForText('Nơi tiếp nhận hồ sơ dễ tìm', before);
  });

  it('after "dừng", opening the survey again resumes where it stopped, answers kept', async () => {
    const inv = await invite('FC-STOP', { respondentType: 'citizen' });
    const u = newUser();
    await u.send(`/start ${inv.token}`);
    await u.waitForText('Kính chào');
    await answer(u, { tap: 1 });
    await answer(u, { tap: 'Hài lòng' });
    await u.send('/stop');
    await u.waitForText('gửi lại mã khảo sát hoặc quét lại mã QR');
    const before = u.mark();
    await u.send(`/start ${inv.token}`);
    await u.waitForText('tiếp tục khảo sát từ câu đã dừng', before);
    expect(u.last()!.text).toContain('Nơi tiếp nhận có đủ chỗ ngồi');
  });

  it('a code-like text that is no code says where the code is on the slip', async () => {
    const u = newUser();
    await u.send('ABCD1234');
    await u.waitForText('in dưới mã QR trên phiếu');
  });
});
