// The service is SIGKILLed (or shut down with SIGTERM) in the middle of 200
// conversations (100 on Telegram, 100 on Zalo) and started again. The emulated platforms redeliver what was not
// acknowledged, as Telegram and Zalo do. Every conversation finishes, every
// answer is stored once, every reply that was due arrives, and the report
// counters equal a recount.
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { unsentKey } from '../../src/conversations/store.js';
import { openDatabase } from '../../src/db.js';
import { createApiKey } from '../../src/http/auth.js';
import { checkCounters } from '../../src/responses/counters.js';
import { childEnv, startService } from '../helpers/child-service.js';
import { api, eventually, isolation, TEST_SECRET } from '../helpers/context.js';
import { freePort } from '../helpers/ports.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';
import { ZaloEmulator, ZaloUser, zaloEnv } from '../helpers/zalo-emulator.js';

const PER_CHANNEL = 100;
const LEVEL_LABEL: Record<number, string> = { 3: 'Bình thường', 4: 'Hài lòng', 5: 'Rất hài lòng' };

/** A question as the respondent sees it, whichever the platform: its button labels, and how to tap one. */
interface Shown {
  text: string;
  buttons: string[];
  tap(label: string, deliveryId: number): Promise<number>;
}

/** One respondent: `next` waits for the question after `mark`; `open` starts the survey. */
interface Respondent {
  /** The conversation key (channel:user). */
  conv: string;
  mark(): number;
  /** The last messages, for a failure's message. */
  describe(): string;
  next(mark: number): Shown | undefined;
  open(deliveryId: number): Promise<number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a respondent taps: their level on the scales, "no" to the observations, skip what may be skipped, else the first choice. */
function choose(q: Shown, level: number): string {
  for (const label of [LEVEL_LABEL[level]!, 'Đồng ý tham gia', 'Không', 'Bỏ qua']) if (q.buttons.includes(label)) return label;
  const first = q.buttons.find((b) => b !== '« Quay lại');
  if (!first) throw new Error(`no button to tap: ${q.text.slice(0, 80)}`);
  return first;
}

describe('the service stopped in the middle of 200 conversations and started again', () => {
  it.each([
    ['killed (SIGKILL)', 'SIGKILL'],
    ['shut down (SIGTERM)', 'SIGTERM'],
  ] as const)(
    '%s: every conversation finishes, answers stored once, replies sent, counters equal a recount',
    async (_name, signal) => {
      const tg = await new TelegramEmulator().start();
      const zalo = await new ZaloEmulator().start();
      tg.nextUpdateId = Date.now(); // npm start's process uses the default prefix: ids of earlier runs stay seen
      const { dbName } = isolation('crash_load');
      const env = {
        ...childEnv(dbName, tg.apiRoot),
        TELEGRAM_SEND_RATE: '1000',
        LOG_LEVEL: 'info',
        ...zaloEnv(zalo, zalo.issuePair()),
      };
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      let child = await startService(port, env);
      const db = await openDatabase(`${inject('mongoUrl')}/${dbName}`);
      try {
        const { key } = await createApiKey(db.models, 'officer', 'PC06');
        const run = Date.now() % 1_000_000_000;
        const people = await Promise.all(
          Array.from({ length: PER_CHANNEL * 2 }, async (_, i) => {
            const inv = (
              await api(base, key, 'POST', '/api/invitations', { caseCode: `KILL-${i}`, unit: 'PC06', field: 'can-cuoc', respondentType: 'citizen' })
            ).body as { id: string; token: string; code: string };
            return {
              i,
              inv,
              level: 3 + (i % 3),
              who: i < PER_CHANNEL ? telegramRespondent(tg, base, 900_000_000 + run + i, inv.token) : zaloRespondent(zalo, base, `77${run}${i}`, inv.code),
            };
          }),
        );

        let answered = 0;
        let restarted: Promise<void> | undefined;
        /** Delivers until acknowledged (a platform redelivers what got no 200), then waits for what comes next. */
        const step = async (who: Respondent, deliver: (id: number) => Promise<number>): Promise<Shown> => {
          const mark = who.mark();
          const id = tg.newUpdateId();
          for (let tries = 0; (await deliver(id).catch(() => 0)) !== 200; tries++) {
            if (tries > 200) throw new Error('never acknowledged');
            await sleep(300);
          }
          // A reply lost with the process is asked again by the restarted one (owed for 20 s, checked every 5 s).
          const next = await eventually(async () => who.next(mark), 'the next question', 60_000).catch((err: Error) => {
            throw new Error(`${who.conv} after ${answered} answers (mark ${mark}): ${err.message}; seen: ${who.describe()}`);
          });
          if (++answered === 1200) restarted = kill();
          return next;
        };
        const kill = async () => {
          const t0 = Date.now();
          const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
          child.kill(signal);
          const code = await exited;
          // A graceful shutdown finishes what is in flight (replies, jobs) and exits cleanly within 10 s.
          if (signal === 'SIGTERM') expect({ code, withinMs: Date.now() - t0 < 10_000 }, child.output().slice(-3000)).toEqual({ code: 0, withinMs: true });
          // How long each shutdown phase took (printed: the soak's one figure worth watching).
          if (signal === 'SIGTERM') console.info(/.*service closed.*/.exec(child.output())?.[0]);
          child = await startService(port, env);
        };

        await Promise.all(
          people.map(async ({ who, level }) => {
            let q = await step(who, (id) => who.open(id));
            while (!q.text.includes('cảm ơn')) {
              const label = choose(q, level);
              q = await step(who, (id) => q.tap(label, id));
            }
          }),
        );
        expect(restarted).toBeDefined();
        await restarted;

        // Every survey stored once, with the answers the respondent gave. A completion job the killed process held runs
        // again once found stalled (its lock expires after 30 s, stalled jobs are looked for every 30 s), and records wait
        // while intake is busy: up to about a minute after the kill, then the backlog, on a machine the other tests share.
        const { Response } = db.models;
        await eventually(async () => (await Response.countDocuments({ caseCode: /^KILL-/ })) === PER_CHANNEL * 2, '200 responses', 120_000);
        const responses = await Response.find({ caseCode: /^KILL-/ }).lean();
        for (const r of responses) {
          const level = 3 + (Number(r.caseCode!.slice(5)) % 3);
          const scale = r.answers.filter((a) => typeof a.value === 'number');
          expect(scale.length, r.caseCode!).toBeGreaterThanOrEqual(12);
          expect(
            scale.filter((a) => a.value !== level),
            r.caseCode!,
          ).toEqual([]);
          expect(Object.fromEntries(r.answers.map((a) => [a.q, a.value]))).toMatchObject({ consent: 'agree', obs_harassment: 'no', obs_extra_payment: 'no' });
        }
        // Counters a killed process claimed but may not have written are recounted (after 20 s): they equal a recount.
        // A completion job the killed process held runs again once BullMQ finds it stalled (its lock expires after 30 s).
        const uncounted = { $or: [{ countersPending: true }, { countersApplied: false }] };
        await eventually(async () => (await Response.countDocuments({ caseCode: /^KILL-/, ...uncounted })) === 0, 'every response counted', 90_000);
        expect((await checkCounters(db.models, responses[0]!.campaign)).mismatches).toEqual([]);
        // And no reply is still owed (one a stopped process had in hand is sent by the restarted one within ~25 s).
        const redis = new Redis(inject('redisUrl'));
        const stillOwed = async () => {
          const marks = await Promise.all(people.map((p) => redis.zscore(unsentKey('tthc:', p.who.conv), p.who.conv)));
          return people.filter((_, i) => marks[i] !== null).map((p) => p.who.conv);
        };
        await eventually(async () => (await stillOwed()).length === 0, 'no reply owed', 40_000).catch(() => {});
        expect(await stillOwed()).toEqual([]);
        redis.disconnect();
      } finally {
        child.kill('SIGTERM');
        await db.conn.dropDatabase();
        await db.close();
        await tg.stop();
        await zalo.stop();
      }
    },
    300_000,
  );
});

function telegramRespondent(emu: TelegramEmulator, base: string, chatId: number, token: string): Respondent {
  const u = new TelegramUser(emu, { url: `${base}/webhooks/telegram`, secret: TEST_SECRET }, chatId);
  return {
    conv: `telegram:${chatId}`,
    describe: () =>
      JSON.stringify(
        u
          .messages()
          .slice(-3)
          .map((m) => [m.rev, m.text.slice(0, 50), m.buttons.length]),
      ),
    mark: () => u.mark(),
    next(mark) {
      const m = u.since(mark).findLast((x) => x.buttons.length > 0 || x.text.includes('cảm ơn'));
      if (!m) return undefined;
      const seen = { ...m, buttons: [...m.buttons] };
      return {
        text: m.text,
        buttons: m.buttons.map((b) => b.text),
        tap: async (label, id) => (await u.tap(label, seen, id)).status,
      };
    },
    open: async (id) => (await u.send(`/start ${token}`, id)).status,
  };
}

function zaloRespondent(emu: ZaloEmulator, base: string, userId: string, code: string): Respondent {
  const u = new ZaloUser(emu, `${base}/webhooks/zalo`, userId);
  return {
    conv: `zalo:${userId}`,
    describe: () =>
      JSON.stringify(
        u
          .messages()
          .slice(-3)
          .map((m) => [m.text.slice(0, 50), m.buttons.length]),
      ),
    mark: () => u.messages().length,
    next(mark) {
      const m = u
        .messages()
        .slice(mark)
        .findLast((x) => x.buttons.length > 0 || x.text.includes('cảm ơn'));
      if (!m) return undefined;
      return {
        text: m.text,
        buttons: m.buttons.map((b) => b.title),
        // Zalo redelivers an event with its msg_id: the same id for each try.
        tap: (label, id) => u.send(m.buttons.find((b) => b.title === label)!.payload, `k${userId}_${id}`),
      };
    },
    open: (id) => u.send(code, `k${userId}_${id}`),
  };
}
