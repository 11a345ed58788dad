// A master of the Redis Cluster dies mid-survey (SIGKILL): its replica takes
// over within seconds, and every survey goes on to its record in MongoDB, once.
// The master killed is the one holding the completion queue, so the ballots
// queued before the kill must come back from its replica. Meanwhile Telegram
// is refused (503) and redelivers, as it does. Skipped only where
// redis-server cannot be had.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, nodeDir, startRedisCluster, stopRedisCluster, WITH_REPLICAS } from '../../src/local/redis-cluster.js';
import { LocalServiceError } from '../../src/local/servers.js';
import { QUEUE } from '../../src/queues/jobs.js';
import { queuePrefix } from '../../src/queues/queues.js';
import { api, eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

let cluster: LocalCluster | undefined;
let unavailable = '';
let emu: TelegramEmulator;
let t: TestService;
let officerKey: string;

beforeAll(async () => {
  try {
    // Fresh each time: the failover leaves the cluster with a dead node.
    cluster = await startRedisCluster(() => {}, WITH_REPLICAS, true);
  } catch (err) {
    if (!(err instanceof LocalServiceError)) throw err;
    unavailable = err.message;
    return;
  }
  emu = await new TelegramEmulator().start();
  t = await startTestService({ name: 'failover', redisUrl: cluster.url, telegramApiRoot: emu.apiRoot });
  officerKey = await t.key('officer', 'PC08');
}, 60_000);

afterAll(async () => {
  if (!cluster) return;
  await t.service.db.conn.dropDatabase().catch(() => {});
  await t.service.close();
  await emu.stop();
  await stopRedisCluster(WITH_REPLICAS);
});

/** What the respondent does at each step of the questionnaire (version 2). */
type Step = { tap: string | number } | { text: string };
const SURVEY: Step[] = [
  { tap: 'Đồng ý tham gia' },
  ...Array.from({ length: 7 }, () => ({ tap: 'Rất hài lòng' })),
  ...Array.from({ length: 7 }, () => ({ tap: 5 })),
  { tap: 'Không' },
  { text: 'không' },
  { tap: 'Hài lòng' },
  { text: 'Tốt' },
];

/** The master serving a key's slot, by port. */
async function masterOf(key: string): Promise<number> {
  const r = new Redis({ port: WITH_REPLICAS.masters[0]!, host: '127.0.0.1' });
  try {
    const slot = (await r.call('CLUSTER', 'KEYSLOT', key)) as number;
    const ranges = (await r.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    return ranges.find(([from, to]) => slot >= from && slot <= to)![2][1];
  } finally {
    r.disconnect();
  }
}

describe('on a Redis Cluster whose master dies', () => {
  it('the replica takes over, and every survey still ends with its ballot recorded once', async (ctx) => {
    if (!cluster) return ctx.skip(unavailable);
    const users = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const inv = (
          await api(t.baseUrl, officerKey, 'POST', '/api/invitations', {
            caseCode: `FAILOVER-${i}`,
            unit: 'PC08',
            field: 'dang-ky-xe',
            respondentType: 'citizen',
          })
        ).body;
        const u = new TelegramUser(emu, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, 77_000 + i);
        return { inv: inv as { id: string; token: string }, u };
      }),
    );
    /**
     * The message showing the question the service is at, or 'thanked' once the survey is over. Found by the question's
     * text: during a failover a reply can arrive late, or twice, so the newest message is not always the current one.
     */
    const showing = async (u: TelegramUser) => {
      const { conversation, outputs } = await t.service.runner.current({ channel: 'telegram', userKey: String(u.chatId) });
      if (conversation.s?.status === 'completed') return u.messages().some((m) => m.text.includes('Xin chân thành cảm ơn')) && 'thanked';
      const q = outputs.find((o) => o.type === 'question');
      return q && [...u.messages()].reverse().find((m) => m.buttons.length > 0 && m.text.includes(q.text));
    };
    /** One step, delivered again (same update id) until the service accepts it, then the next question on screen. */
    const take = async (u: TelegramUser, step: Step | { start: string }) => {
      const updateId = emu.newUpdateId();
      const question = 'tap' in step ? await eventually(() => showing(u), `chat ${u.chatId}: the question on screen`, 30_000) : undefined;
      const deliver = () =>
        'start' in step
          ? u.send(`/start ${step.start}`, updateId)
          : 'text' in step
            ? u.send(step.text, updateId)
            : u.tap(step.tap, question as ReturnType<TelegramUser['lastWithButtons']>, updateId);
      await eventually(async () => (await deliver()).status === 200, `chat ${u.chatId}: the update accepted`, 30_000);
      await eventually(() => showing(u), `chat ${u.chatId}: the next question on screen`, 30_000);
    };
    const answer = async (u: TelegramUser, steps: Step[]) => {
      for (const step of steps) await take(u, step);
    };
    // Every survey begun; four completed (their ballots queued), the others halfway.
    await Promise.all(users.map(({ u, inv }) => take(u, { start: inv.token })));
    await Promise.all(users.map(({ u }, i) => answer(u, i < 4 ? SURVEY : SURVEY.slice(0, 8))));

    const victim = await masterOf(`${queuePrefix(t.prefix, QUEUE.completion)}:x`);
    const pid = Number(readFileSync(join(nodeDir(victim), 'redis.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();

    // The other respondents go on answering through the failover.
    await Promise.all(users.slice(4).map(({ u }) => answer(u, SURVEY.slice(8))));
    for (const { u } of users) expect(await showing(u)).toBe('thanked');
    // The replica is the master of those slots now.
    expect(await masterOf(`${queuePrefix(t.prefix, QUEUE.completion)}:x`)).not.toBe(victim);

    const { Response, Invitation } = t.service.db.models;
    const ids = users.map(({ inv }) => inv.id);
    await eventually(
      async () => (await Invitation.countDocuments({ _id: { $in: ids }, status: 'completed' })) === ids.length,
      'every invitation completed',
      // A ballot whose job was running when the master died waits for its lock to expire and the stalled-job check: ~40 s.
      180_000,
    );
    const responses = await Response.find({ invitationId: { $in: ids } }).lean();
    expect(responses.map((r) => r.invitationId).sort()).toEqual([...ids].sort());
    for (const r of responses) expect(r.answers.length).toBeGreaterThan(15);
    console.log(`failover: every survey recorded ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the master was killed`);
  }, 260_000);
});
