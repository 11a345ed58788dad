// Faults with private servers started by this file: MongoDB down at
// completion, Redis down and back for readiness, a shutdown while MongoDB hangs.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { InboundEvent } from '../../src/conversations/runner.js';
import { LOCAL_POSTGRES, type ServiceHandle, startMongo, startRedis } from '../../src/local/servers.js';
import { checkCounters } from '../../src/responses/counters.js';
import { api, eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { freePort } from '../helpers/ports.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  // Each bounded: a service that hangs on a jammed server must not keep the private servers after it from stopping.
  for (const c of cleanups.reverse()) await Promise.race([c().catch(() => {}), new Promise((r) => setTimeout(r, 15_000))]);
}, 120_000);

/**
 * A server of this test only, on a free port, that it stops and starts again with the same data. A private FerretDB
 * stores into the checkout's PostgreSQL, as the shared one does: the outage is the server's, the storage stays.
 */
async function privateServer(kind: 'redis' | 'mongo') {
  const dir = mkdtempSync(join(tmpdir(), `tthc-${kind}-`));
  const port = await freePort();
  const start = () => (kind === 'redis' ? startRedis({ port, dir }) : startMongo({ port, dir, postgres: LOCAL_POSTGRES }));
  let handle: ServiceHandle = await start();
  cleanups.push(() => handle.stop());
  return {
    url: handle.url,
    /** Freezes the server (SIGSTOP): it still accepts connections and answers nothing, as a hung server does. */
    freeze: (on: boolean) => process.kill(Number(readFileSync(handle.pidFile, 'utf8').trim()), on ? 'SIGSTOP' : 'SIGCONT'),
    stop: () => handle.stop(),
    restart: async () => {
      handle = await start();
    },
  };
}

describe('MongoDB outage at completion', () => {
  it('thanks the respondent at once and writes exactly one response when MongoDB is back', async () => {
    const mongo = await privateServer('mongo');
    const t: TestService = await startTestService({ name: 'mongo_outage', mongoUrl: `${mongo.url}/outage`, listen: false });
    cleanups.push(() => t.close());

    const { view } = await t.service.invitations.create({ caseCode: 'OUT-1', unit: 'PC07', field: 'pccc' }, { keyId: 't', role: 'admin' });
    const ev = (rest: Record<string, unknown>) => ({ channel: 'telegram', userKey: 'outage-user', ...rest }) as InboundEvent;
    await t.service.runner.handle(ev({ kind: 'start', token: view.token }));
    for (const text of ['1', '1', ...Array(14).fill('3'), '2', '2', '3']) await t.service.runner.handle(ev({ kind: 'text', text }));

    await mongo.stop();
    const last = await t.service.runner.handle(ev({ kind: 'text', text: '/skip' }));
    expect(last.events).toContainEqual({ type: 'completed' });
    expect(last.outputs.at(-1)).toMatchObject({ type: 'text', text: expect.stringContaining('cảm ơn') });
    // The completion waits in the queue while MongoDB is down.
    await new Promise((r) => setTimeout(r, 1500));
    const job = await t.service.queues.completion.getJob(`complete-${view.id}`);
    expect(await job!.getState()).not.toBe('completed');

    await mongo.restart();
    const { Response } = t.service.db.models;
    await eventually(async () => (await Response.countDocuments({ invitationId: view.id })) === 1, 'the response after MongoDB returned', 60_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(await Response.countDocuments({ invitationId: view.id })).toBe(1);
  }, 90_000);
});

describe('MongoDB down for 30 s while surveys complete', () => {
  it('every respondent is thanked at once, every completion lands once it returns; readiness names it, hung or down', async () => {
    const mongo = await privateServer('mongo');
    const t: TestService = await startTestService({ name: 'mongo_30s', mongoUrl: `${mongo.url}/thirty` });
    cleanups.push(() => t.close());
    const users = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const { view } = await t.service.invitations.create(
          { caseCode: `DOWN30-${i}`, unit: 'PC07', field: 'pccc', respondentType: 'citizen' },
          { keyId: 't', role: 'admin' },
        );
        const ev = (rest: Record<string, unknown>) => ({ channel: 'telegram', userKey: `down30-${i}`, ...rest }) as InboundEvent;
        await t.service.runner.handle(ev({ kind: 'start', token: view.token }));
        for (const text of ['1', ...Array(14).fill(String(3 + (i % 3))), '2', '2', '4']) await t.service.runner.handle(ev({ kind: 'text', text }));
        return { id: view.id, ev };
      }),
    );
    const readiness = () => api(t.baseUrl, undefined, 'GET', '/readyz');

    // Hung (accepting connections, answering nothing): readiness says so within its 2 s bound.
    mongo.freeze(true);
    const t0 = Date.now();
    const hung = await readiness();
    mongo.freeze(false);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(hung.status).toBe(503);
    expect(hung.body.error.message).toMatch(/^mongodb down: no answer within 2000 ms/);
    await eventually(async () => (await readiness()).status === 200, 'ready again');

    // Down for 30 s, while the surveys complete one after another.
    await mongo.stop();
    const down = Date.now();
    for (const u of users) {
      const t1 = Date.now();
      const last = await t.service.runner.handle(u.ev({ kind: 'text', text: '/skip' }));
      expect(Date.now() - t1).toBeLessThan(1_000);
      expect(last.outputs.at(-1)).toMatchObject({ type: 'text', text: expect.stringContaining('cảm ơn') });
      await new Promise((r) => setTimeout(r, 1_200));
    }
    expect((await readiness()).body.error.message).toMatch(/mongodb down/);
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - down))));

    await mongo.restart();
    // The jobs wait out their backoff (up to a minute); a loaded test machine need not wait for it.
    for (const j of await t.service.queues.completion.getDelayed()) await j.promote().catch(() => {});
    const { Response } = t.service.db.models;
    await eventually(async () => (await Response.countDocuments({ caseCode: /^DOWN30-/ })) === 20, 'the 20 responses', 60_000);
    await eventually(async () => (await Response.countDocuments({ caseCode: /^DOWN30-/, countersApplied: true })) === 20, 'their counters', 30_000);
    // A counter write cut off by the outage leaves its pending mark; the repair recounts it (after 20 s, checked every 10 s).
    await eventually(async () => (await Response.countDocuments({ countersPending: true })) === 0, 'no counters pending', 60_000);
    expect((await checkCounters(t.service.db.models, 'soc-trang-2024')).mismatches).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    expect(await Response.countDocuments({ caseCode: /^DOWN30-/ })).toBe(20);
  }, 150_000);
});

describe('MongoDB down when a citizen opens the survey', () => {
  it('/start is answered from Redis; the opening and the response land once MongoDB returns', async () => {
    const mongo = await privateServer('mongo');
    const t: TestService = await startTestService({ name: 'mongo_down_open', mongoUrl: `${mongo.url}/opening`, listen: false });
    cleanups.push(() => t.close());
    const { view } = await t.service.invitations.create(
      { caseCode: 'OPEN-1', unit: 'PC07', field: 'pccc', respondentType: 'citizen' },
      { keyId: 't', role: 'admin' },
    );

    await mongo.stop();
    const ev = (rest: Record<string, unknown>) => ({ channel: 'telegram', userKey: 'down-opener', ...rest }) as InboundEvent;
    const t0 = Date.now();
    const first = await t.service.runner.handle(ev({ kind: 'start', token: view.token }));
    expect(Date.now() - t0).toBeLessThan(500);
    expect(first.outputs[0]).toMatchObject({ type: 'question', questionId: 'consent' });
    for (const text of ['1', ...Array(14).fill('4'), '2', '2', '4']) await t.service.runner.handle(ev({ kind: 'text', text }));
    const last = await t.service.runner.handle(ev({ kind: 'text', text: '/skip' }));
    expect(last.events).toContainEqual({ type: 'completed' });

    await mongo.restart();
    // The jobs wait out their backoff (up to a minute); a loaded test machine need not wait for it.
    for (const q of [t.service.queues.completion, t.service.queues.followUps]) for (const j of await q.getDelayed()) await j.promote().catch(() => {});
    const { Response, Invitation } = t.service.db.models;
    await eventually(async () => (await Invitation.findById(view.id).lean())?.status === 'completed', 'the invitation completed', 60_000);
    expect(await Response.countDocuments({ invitationId: view.id })).toBe(1);
    // Recorded a second after the opening, so it may land after the completion: it is recorded all the same.
    const opened = await eventually(async () => (await Invitation.findById(view.id).lean())?.openedAt, 'the opening recorded', 30_000);
    expect(opened).toBeInstanceOf(Date);
  }, 90_000);
});

describe('Telegram webhook while Redis is down', () => {
  it('answers 503 so Telegram retries, applies nothing, and the retry works once Redis is back; sessions survive a restart', async () => {
    const redis = await privateServer('redis');
    const emu = await new TelegramEmulator().start();
    cleanups.push(() => emu.stop());
    const t = await startTestService({ name: 'tg_redis_down', redisUrl: redis.url, telegramApiRoot: emu.apiRoot });
    cleanups.push(() => t.close());
    const { view } = await t.service.invitations.create({ caseCode: 'DOWN-1', unit: 'PC07', field: 'pccc' }, { keyId: 't', role: 'admin' });
    const u = new TelegramUser(emu, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, 4242);

    await redis.stop();
    const down = await u.send(`/start ${view.token}`, 77);
    expect(down.status).toBe(503);
    await new Promise((r) => setTimeout(r, 300));
    expect(u.messages()).toEqual([]);

    await redis.restart();
    // Telegram redelivers the same update.
    await eventually(async () => (await u.send(`/start ${view.token}`, 77)).status === 200, 'the redelivery accepted', 20_000);
    await u.waitForText('Kính chào');
    expect(u.messages().filter((m) => m.text.includes('Kính chào'))).toHaveLength(1);

    // Redis restarts in the middle of the survey: the session was on disk (AOF), so the answer
    // refused during the outage and redelivered after it goes on from the same question.
    expect((await u.tap('Đồng ý tham gia', u.lastWithButtons(), 78)).status).toBe(200);
    await u.waitForText('Ông/bà thực hiện thủ tục với tư cách nào?');
    const question = u.lastWithButtons()!;
    await redis.stop();
    expect((await u.tap('Người dân', question, 79)).status).toBe(503);
    await redis.restart();
    await eventually(async () => (await u.tap('Người dân', question, 79)).status === 200, 'the redelivered answer accepted', 20_000);
    await u.waitForText('Phần 1/5');
    expect(u.messages().some((m) => /chưa bắt đầu|không tìm thấy/i.test(m.text))).toBe(false);
  }, 60_000);
});

describe('readiness', () => {
  it('goes 503 naming Redis when it stops, and back to 200 when it returns', async () => {
    const redis = await privateServer('redis');
    const t = await startTestService({ name: 'ready', redisUrl: redis.url, workers: false });
    cleanups.push(() => t.close());

    expect((await api(t.baseUrl, undefined, 'GET', '/readyz')).status).toBe(200);
    await redis.stop();
    const down = await eventually(async () => {
      const r = await api(t.baseUrl, undefined, 'GET', '/readyz');
      return r.status === 503 && r;
    }, 'readyz 503');
    expect(down.body.error.message).toMatch(/^redis down/);
    expect(down.body.checks).toMatchObject({ mongodb: 'ok' });
    expect((await api(t.baseUrl, undefined, 'GET', '/healthz')).status).toBe(200);

    await redis.restart();
    await eventually(async () => (await api(t.baseUrl, undefined, 'GET', '/readyz')).status === 200, 'readyz 200 again', 20_000);
  }, 60_000);

  it('shuts down within 10 s even while Redis is down', async () => {
    const redis = await privateServer('redis');
    const t = await startTestService({ name: 'close_down', redisUrl: redis.url });
    await t.service.db.conn.dropDatabase();
    await redis.stop();
    const t0 = Date.now();
    await t.service.close();
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 30_000);
});

describe('shutdown while MongoDB hangs', () => {
  it('a ballot cut short is logged as such, not as failed, and is recorded by the next process', async () => {
    const mongo = await privateServer('mongo');
    const lines: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const t: TestService = await startTestService({ name: 'mongo_hung_close', mongoUrl: `${mongo.url}/hung`, listen: false, extra: { log } });
    const { view } = await t.service.invitations.create({ caseCode: 'HUNG-1', unit: 'PC07', field: 'pccc' }, { keyId: 't', role: 'admin' });
    const ev = (rest: Record<string, unknown>) => ({ channel: 'telegram', userKey: 'hung-user', ...rest }) as InboundEvent;
    await t.service.runner.handle(ev({ kind: 'start', token: view.token }));
    for (const text of ['1', '1', ...Array(14).fill('3'), '2', '2', '3']) await t.service.runner.handle(ev({ kind: 'text', text }));

    // MongoDB hangs as the last answer's ballot is being recorded, and the service is stopped meanwhile.
    mongo.freeze(true);
    const last = await t.service.runner.handle(ev({ kind: 'text', text: '/skip' }));
    expect(last.events).toContainEqual({ type: 'completed' });
    const job = await eventually(async () => {
      const j = await t.service.queues.completion.getJob(`complete-${view.id}`);
      return j && (await j.getState()) === 'active' ? j : undefined;
    }, 'the ballot being recorded');
    await t.service.close();
    mongo.freeze(false);
    await eventually(async () => lines.some((l) => /cut short by the shutdown/.test(l.msg)), 'the log of the job cut short', 30_000);
    expect(lines.filter((l) => l.msg === 'job failed')).toEqual([]);
    expect(lines.find((l) => /cut short by the shutdown/.test(l.msg))!.level).toBe(30); // info

    // The next process records it.
    const next = await startTestService({ name: 'mongo_hung_close', mongoUrl: `${mongo.url}/hung`, sameAs: t, listen: false });
    cleanups.push(() => next.close());
    for (const j of await next.service.queues.completion.getDelayed()) await j.promote().catch(() => {});
    await eventually(async () => (await next.service.db.models.Response.countDocuments({ invitationId: view.id })) === 1, 'the response', 60_000);
    expect(job.id).toBe(`complete-${view.id}`);
  }, 120_000);
});
