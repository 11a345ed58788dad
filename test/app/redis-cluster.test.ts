// The service on a Redis Cluster of three masters (REDIS_URL=redis-cluster://...),
// started locally by src/local/redis-cluster.ts. Every script and transaction
// touches one slot (a CROSSSLOT error would fail the webhook or the job), and
// the keys spread over the nodes. Skipped only where redis-server cannot be had.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationStore } from '../../src/conversations/store.js';
import { type LocalCluster, startRedisCluster } from '../../src/local/redis-cluster.js';
import { LocalServiceError } from '../../src/local/servers.js';
import { SendLimiter, SLOT_TOLERANCE_MS } from '../../src/outbound/rate-limit.js';
import { IntakePressure } from '../../src/queues/intake-pressure.js';
import { createRedis } from '../../src/redis.js';
import { api, eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { heldWorkers } from '../helpers/held-workers.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

let cluster: LocalCluster | undefined;
let unavailable = '';
let emu: TelegramEmulator;
let t: TestService;
let other: TestService;
let officerKey: string;
let chatSeq = 88_000;

beforeAll(async () => {
  try {
    cluster = await startRedisCluster();
  } catch (err) {
    if (!(err instanceof LocalServiceError)) throw err;
    unavailable = err.message;
    return;
  }
  emu = await new TelegramEmulator().start();
  t = await startTestService({ name: 'cluster', redisUrl: cluster.url, telegramApiRoot: emu.apiRoot });
  // A second process of the same deployment, on the same cluster.
  other = await startTestService({ name: 'cluster', redisUrl: cluster.url, telegramApiRoot: emu.apiRoot, sameAs: t });
  officerKey = await t.key('officer', 'PC08');
}, 60_000);

afterAll(async () => {
  if (!cluster) return;
  await other.service.close();
  await t.service.db.conn.dropDatabase().catch(() => {});
  await deleteClusterKeys(cluster, t.prefix);
  await t.service.close();
  await emu.stop();
});

/** Keys under a prefix, per node (a cluster answers SCAN for its own slots only). */
async function keysPerNode(c: LocalCluster, prefix: string): Promise<string[][]> {
  return Promise.all(
    c.ports.map(async (port) => {
      const r = new Redis({ port, host: '127.0.0.1' });
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      r.disconnect();
      return keys;
    }),
  );
}

async function deleteClusterKeys(c: LocalCluster, prefix: string) {
  const perNode = await keysPerNode(c, prefix);
  await Promise.all(
    c.ports.map(async (port, i) => {
      const r = new Redis({ port, host: '127.0.0.1' });
      for (const key of perNode[i]!) await r.unlink(key);
      r.disconnect();
    }),
  );
}

const hook = (s: TestService) => ({ url: `${s.baseUrl}/webhooks/telegram`, secret: TEST_SECRET });

async function invite(caseCode: string) {
  const r = await api(t.baseUrl, officerKey, 'POST', '/api/invitations', { caseCode, unit: 'PC08', field: 'dang-ky-xe', respondentType: 'citizen' });
  expect(r.status).toBe(201);
  return r.body as { id: string; token: string; code: string };
}

describe('on a Redis Cluster of three masters', () => {
  it('a survey runs from /start to its record in MongoDB, across two processes, and a redelivered update changes nothing', async (ctx) => {
    if (!cluster) return ctx.skip(unavailable);
    const inv = await invite('CLUSTER-1');
    // The same chat through each process (a load balancer does not keep a chat on one).
    const chat = chatSeq++;
    const [u, v] = [new TelegramUser(emu, hook(t), chat), new TelegramUser(emu, hook(other), chat)];
    expect((await u.send(`/start ${inv.token}`)).status).toBe(200);
    await u.waitForText('Kính chào');
    let step = 0;
    const answer = async (tap: string | number) => {
      const via = step++ % 2 ? v : u;
      const mark = u.mark();
      expect((await via.tap(tap)).status).toBe(200);
      await u.waitFor(() => u.since(mark).some((m) => m.buttons.length > 0 || m.text.includes('cảm ơn')), 'the next question');
    };
    await answer('Đồng ý tham gia');
    // Telegram redelivers an update it thinks was lost: the same update id, to the other process.
    const before = emu.calls.length;
    const last = u.lastWithButtons()!;
    const updateId = emu.newUpdateId();
    const asked = u.mark();
    expect((await v.tap('Rất hài lòng', last, updateId)).status).toBe(200);
    await u.waitFor(() => u.since(asked).some((m) => m.buttons.length > 0), 'the next question');
    expect((await u.tap('Rất hài lòng', last, updateId)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    const edits = emu.calls.slice(before).filter((c) => c.method === 'editMessageText' || c.method === 'sendMessage');
    expect(edits).toHaveLength(1);
    for (let i = 0; i < 6; i++) await answer('Rất hài lòng');
    for (let i = 0; i < 7; i++) await answer(5);
    await answer('Không');
    const mark = u.mark();
    await u.send('không');
    await u.waitFor(() => u.since(mark).some((m) => m.buttons.length > 0), 'the next question');
    await answer('Hài lòng');
    await u.send('Tốt');
    await u.waitForText('Xin chân thành cảm ơn');

    // The completion job ran on the cluster (BullMQ under its hash-tagged prefix).
    const { Response } = t.service.db.models;
    const resp = await eventually(() => Response.findOne({ invitationId: inv.id }).lean(), 'the response');
    expect(resp.answers.length).toBeGreaterThan(15);
    await eventually(async () => (await api(t.baseUrl, officerKey, 'GET', `/api/invitations/${inv.id}`)).body.status === 'completed', 'completed');
  });

  it('spreads the keys over the nodes, each queue and each chat bucket within one slot', async (ctx) => {
    if (!cluster) return ctx.skip(unavailable);
    for (let i = 0; i < 6; i++) {
      const inv = await invite(`CLUSTER-SPREAD-${i}`);
      const u = new TelegramUser(emu, hook(i % 2 ? t : other), chatSeq++);
      await u.send(`/start ${inv.token}`);
      await u.waitForText('Kính chào');
    }
    const perNode = await keysPerNode(cluster, t.prefix);
    expect(perNode.filter((keys) => keys.some((k) => k.includes(':conv:'))).length).toBeGreaterThanOrEqual(2);
    expect(perNode.filter((keys) => keys.some((k) => k.includes('{bull:'))).length).toBeGreaterThanOrEqual(2);
  });

  it('wrong codes lock a chat out, and the lock holds for every process', async (ctx) => {
    if (!cluster) return ctx.skip(unavailable);
    const chat = chatSeq++;
    const [u, v] = [new TelegramUser(emu, hook(t), chat), new TelegramUser(emu, hook(other), chat)];
    for (let i = 0; i < 5; i++) {
      const mark = u.mark();
      await (i % 2 ? v : u).send(`/start ZZZZ${i}9`);
      await u.waitFor(() => u.since(mark).length > 0, 'the answer to a wrong code');
    }
    await u.waitForText('nhập sai mã nhiều lần');
    const inv = await invite('CLUSTER-LOCKED');
    const mark = u.mark();
    await v.send(`/start ${inv.token}`);
    const [reply] = await u.waitFor(() => u.since(mark).length > 0, 'the refusal');
    expect(reply!.text).not.toContain('Kính chào');
  });

  it('owed replies are found in every bucket, oldest first, and settled', async (ctx) => {
    if (!cluster) return ctx.skip(unavailable);
    const redis = createRedis(cluster.url, { enableAutoPipelining: true });
    const store = new ConversationStore(redis, { prefix: `${t.prefix}owed:`, sessionTtlMs: 60_000 });
    const convs = Array.from({ length: 40 }, (_, i) => `telegram:${900_000 + i}`);
    for (const [i, conv] of convs.entries()) expect((await store.save(conv, 0, {}, `ev-${i}`, 1_000 + i)).ok).toBe(true);
    expect(await store.unsent(2_000)).toEqual(convs);
    expect(await store.unsent(1_004, 3)).toEqual(convs.slice(0, 3));
    await Promise.all(convs.slice(0, 30).map((c, i) => store.replySettled(c, 1_000 + i)));
    expect(await store.unsent(2_000)).toEqual(convs.slice(30));
    redis.disconnect();
  });

  it('send pacing holds across processes', async (ctx) => {
    if (!cluster) return ctx.skip(unavailable);
    const clients = [createRedis(cluster.url), createRedis(cluster.url)];
    const limits = { globalPerSec: 10, chatIntervalMs: 1000, chatBurst: 1 };
    const limiters = clients.map((r) => new SendLimiter(r, `${t.prefix}pace:`, 'telegram', limits));
    const now = Date.now();
    const waits = await Promise.all(Array.from({ length: 10 }, (_, i) => limiters[i % 2]!.take(`chat-${i}`, true, now)));
    // 10/s with no burst: one send now, the others spaced 100 ms apart (each may go 5 ms early), whichever process asked.
    expect(waits.filter((w) => w === 0)).toHaveLength(1);
    expect(waits.filter((w) => w > 0).sort((a, b) => a - b)[0]).toBe(100 - SLOT_TOLERANCE_MS);
    await limiters[0]!.markUnreachable('chat-x');
    expect(await limiters[1]!.isUnreachable('chat-x')).toBe(true);
    expect(await limiters[1]!.take('chat-x', true, now)).toBe(-1);
    for (const c of clients) c.disconnect();
  });

  it('the intake rate is shared across processes', async (ctx) => {
    if (!cluster) return ctx.skip(unavailable);
    const clients = [createRedis(cluster.url), createRedis(cluster.url)];
    let now = 5_000_000;
    const [web, worker] = clients.map((r) => new IntakePressure(r, `${t.prefix}intake:`, { busyRate: 50, now: () => now }));
    // Only a process with workers to hold back reads the rate.
    const held = heldWorkers();
    worker!.defer([held]);
    for (let i = 0; i < 15; i++) web!.note();
    await web!.tick();
    now += 100;
    await worker!.tick();
    // 15 in the first tenth of a quarter second: 60 a second, busy from 50.
    expect(worker!.rate).toBe(60);
    expect(held.paused).toBe(true);
    for (const c of clients) c.disconnect();
  });
});
