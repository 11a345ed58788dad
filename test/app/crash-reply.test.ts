// A reply owed when the process dies: the service is SIGKILLed after saving an
// answer and before its reply reached Telegram; started again, it sends the
// current question (the respondent is not left waiting for a message that was lost).
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { unsentKey } from '../../src/conversations/store.js';
import { openDatabase } from '../../src/db.js';
import { createApiKey } from '../../src/http/auth.js';
import { childEnv, startService } from '../helpers/child-service.js';
import { api, eventually, isolation, TEST_SECRET } from '../helpers/context.js';
import { freePort } from '../helpers/ports.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

describe('a reply lost with its process', () => {
  it('is sent when the service is started again', async () => {
    const emu = await new TelegramEmulator().start();
    // The default prefix outlives this run: update ids it has seen before would be taken as redeliveries.
    emu.nextUpdateId = Date.now();
    const { dbName } = isolation('crash_reply');
    // npm start's process uses the default key prefix.
    const prefix = 'tthc:';
    const env = {
      ...childEnv(dbName, emu.apiRoot),
    };
    const port = await freePort();
    let child = await startService(port, env);
    const db = await openDatabase(`${inject('mongoUrl')}/${dbName}`);
    const { key } = await createApiKey(db.models, 'officer', 'PC06');
    const inv = (
      await api(`http://127.0.0.1:${port}`, key, 'POST', '/api/invitations', {
        caseCode: 'CRASH-1',
        unit: 'PC06',
        field: 'can-cuoc',
        respondentType: 'citizen',
      })
    ).body;

    // A chat id of its own: the default prefix is shared with the other runs of npm start's process.
    const chat = 880_000_000 + Math.floor(Math.random() * 1_000_000);
    const u = new TelegramUser(emu, { url: `http://127.0.0.1:${port}/webhooks/telegram`, secret: TEST_SECRET }, chat);
    expect(inv.token, JSON.stringify(inv)).toBeTruthy();
    expect((await u.send(`/start ${inv.token}`)).status).toBe(200);
    await u.waitForText('Kính chào');
    // Telegram is slow for this chat now: the reply to the next answer is still on its way when the process dies.
    emu.chatLatencyMs.set(chat, 60_000);
    expect((await u.tap('Đồng ý tham gia')).status).toBe(200);
    const redis = new Redis(inject('redisUrl'));
    await eventually(async () => (await redis.zscore(unsentKey(prefix, `telegram:${chat}`), `telegram:${chat}`)) !== null, 'the reply owed');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    emu.chatLatencyMs.delete(chat);
    const before = u.mark();

    child = await startService(port, env);
    // The conversation saved the answer; the question that followed it is sent again.
    const question = 'Ông/bà đã nộp hồ sơ theo hình thức nào?';
    const resent = (await u.waitForText(question, before, 40_000)).find((m) => m.text.includes(question))!;
    expect(resent.buttons.length).toBeGreaterThan(0);
    // The mark goes once the question is queued (cleared in a batch a few milliseconds later).
    await eventually(async () => (await redis.zscore(unsentKey(prefix, `telegram:${chat}`), `telegram:${chat}`)) === null, 'the mark cleared', 5_000);
    // And the survey goes on from there.
    expect((await u.tap('Dịch vụ công trực tuyến', resent)).status).toBe(200);
    await u.waitForText('Phần 1/5', before);
    child.kill('SIGTERM');
    redis.disconnect();
    await db.conn.dropDatabase();
    await db.close();
    await emu.stop();
  }, 120_000);
});
