// A full run over every channel, logged at debug level through the production
// logger: no secret, token, phone number, chat id, code or API key in the lines.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { api, eventually, startTestService, TEST_SECRET, TEST_TOKEN, type TestService } from '../helpers/context.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';
import { ZaloEmulator, ZaloUser } from '../helpers/zalo-emulator.js';

const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(String(chunk));
    done();
  },
});
let tg: TelegramEmulator;
let zalo: ZaloEmulator;
let t: TestService;
const zaloTokens = { access: '', refresh: '' };

beforeAll(async () => {
  [tg, zalo] = await Promise.all([new TelegramEmulator().start(), new ZaloEmulator().start()]);
  Object.assign(zaloTokens, zalo.issuePair());
  t = await startTestService({ name: 'logs', telegramApiRoot: tg.apiRoot, zalo, zaloTokens, extra: { log: createLogger('debug', false, sink) } });
});
afterAll(async () => {
  await t.close();
  await Promise.all([tg.stop(), zalo.stop()]);
});

describe('logs', () => {
  it('carry no secret and no personal data after surveys on Telegram, Zalo and an expired Zalo token', async () => {
    const officerKey = await t.key('officer', 'PC08');
    const invite = async (caseCode: string) =>
      (
        await api(t.baseUrl, officerKey, 'POST', '/api/invitations', {
          caseCode,
          unit: 'PC08',
          field: 'dang-ky-xe',
          phone: '0912 345 678',
          respondentType: 'citizen',
        })
      ).body;
    const a = await invite('LOG-1');
    const b = await invite('LOG-2');
    const tu = new TelegramUser(tg, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, 73_100_421);
    await tu.send(`/start ${a.token}`);
    await tu.waitForText('Kính chào');
    const consented = tu.mark();
    await tu.tap('Đồng ý tham gia');
    // The reply goes out after the webhook's answer: the first question, asked in place of the consent.
    await tu.waitFor(() => tu.since(consented).some((m) => m.buttons.some((b) => b.text === 'Hài lòng')), 'the first question');
    await tu.send('ABCD2345');
    // A blocked chat and an unknown command, so the error paths log too.
    tg.blocked.add(73_100_421);
    await tu.tap('Hài lòng', tu.lastWithButtons());
    const zu = new ZaloUser(zalo, `${t.baseUrl}/webhooks/zalo`, '9007199254740993555');
    zalo.expireAccessTokens();
    await zu.send(`ma ${b.code}`);
    await zu.waitForText('Kính chào');
    await zu.tap('Đồng ý tham gia');
    // A forged webhook, a wrong secret, and a bad API key.
    await fetch(`${t.baseUrl}/webhooks/telegram`, { method: 'POST', headers: { 'x-telegram-bot-api-secret-token': 'wrong-secret-value' }, body: '{}' });
    await api(t.baseUrl, `${officerKey.slice(0, 13)}${'y'.repeat(32)}`, 'GET', '/api/me');
    await eventually(async () => lines.length > 0, 'some log lines');
    await new Promise((r) => setTimeout(r, 500));

    const log = lines.join('');
    const secrets: Record<string, string> = {
      'bot token': TEST_TOKEN,
      'bot token secret part': TEST_TOKEN.split(':')[1]!,
      'webhook secret': TEST_SECRET,
      'Zalo access token': zaloTokens.access,
      'Zalo refresh token': zaloTokens.refresh,
      'Zalo app secret': zalo.appSecret,
      'OA secret key': zalo.oaSecretKey,
      'API key secret': officerKey.split('.')[1]!,
      phone: '912345678',
      'Telegram chat id': '73100421',
      'Zalo user id': '9007199254740993555',
      'invitation token': a.token,
      'invitation code': b.code,
    };
    const found = Object.entries(secrets).filter(([, v]) => log.includes(v));
    expect(found.map(([k]) => k)).toEqual([]);
    // The log still says what happened.
    expect(log).toContain('chat unreachable; no further sends');
    expect(log).toContain('Zalo access token refreshed');
  }, 60_000);
});
