// Webhook hot path, side by side: this service against the common telegraf bot
// with a Redis session store (session GET/SET per update, replies awaited in the
// handler). Each server runs in its own process (bench/target.ts); this process
// emulates Telegram (with a network latency per API call) and the respondents,
// who tap through the citizen questionnaire like people: the next tap only after
// the next question has arrived.
//
//   npm run bench            (env: BENCH_USERS=50 BENCH_LATENCY_MS=50)
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { projectRoot } from '../src/local/paths.js';
import { ensureLocalServices } from '../src/local/servers.js';
import { type StoredMessage, TelegramEmulator, TelegramUser } from '../test/helpers/telegram-emulator.js';

const USERS = Number(process.env.BENCH_USERS ?? 50);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 50);
/** Respondents read before tapping: the latency table is taken at the same, realistic load for both. */
const THINK = Number(process.env.BENCH_THINK_MS ?? 300);
const SECRET = 'bench-secret';
const QUESTIONS = 18; // consent + 14 items + 2 observations + overall (respondent type prefilled)

interface Sample {
  /** /start with the invitation token: ours looks the invitation up in MongoDB; the baseline has no invitations. */
  startMs: number[];
  /** Taps, the hot path. */
  webhookMs: number[];
  nextQuestionMs: number[];
  updates: number;
  wallMs: number;
  redisCommands: number;
  heapMb: number;
  rssMb: number;
  cpuMs: number;
  redisCalls: number;
}

function nextQuestion(emu: TelegramEmulator, chat: number, afterId: number): Promise<StoredMessage> {
  return new Promise((resolve) => {
    const on = (m: StoredMessage) => {
      if (m.chat === chat && m.message_id > afterId && (m.buttons.length > 0 || m.text.includes('cảm ơn'))) {
        emu.off('message', on);
        resolve(m);
      }
    };
    emu.on('message', on);
  });
}

async function commandsProcessed(redis: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
}

async function run(kind: 'ours' | 'baseline', emu: TelegramEmulator, urls: { redis: string; mongo: string }, redis: Redis, thinkMs: number): Promise<Sample> {
  const child = fork(join(projectRoot, 'dist/bench/target.js'), [kind], {
    execArgv: ['--expose-gc', ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [])],
    env: { ...process.env, BENCH_USERS: String(USERS), BENCH_API_ROOT: emu.apiRoot, BENCH_REDIS_URL: urls.redis, BENCH_MONGO_URL: urls.mongo },
  });
  const ready = await new Promise<{ port: number; starts: string[] }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number; starts: string[] }));
    child.once('exit', (code) => reject(new Error(`${kind} target exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${ready.port}/webhooks/telegram`;
  const s: Sample = { startMs: [], webhookMs: [], nextQuestionMs: [], updates: 0, wallMs: 0, redisCommands: 0, heapMb: 0, rssMb: 0, cpuMs: 0, redisCalls: 0 };
  const c0 = await commandsProcessed(redis);
  const t0 = performance.now();
  await Promise.all(
    ready.starts.map(async (start, i) => {
      const u = new TelegramUser(emu, { url, secret: SECRET }, (kind === 'ours' ? 1_000_000 : 2_000_000) + i);
      let last = 0;
      const step = async (act: () => Promise<{ status: number }>, start = false) => {
        const waiting = nextQuestion(emu, u.chatId, last);
        const a = performance.now();
        const r = await act();
        const b = performance.now();
        if (r.status !== 200) throw new Error(`${kind}: webhook answered ${r.status}`);
        const m = await waiting;
        if (start) s.startMs.push(performance.now() - a);
        else {
          s.webhookMs.push(b - a);
          s.nextQuestionMs.push(performance.now() - a);
        }
        s.updates++;
        last = m.message_id;
        return m;
      };
      let q = await step(() => u.send(`/start ${start}`), true);
      for (let k = 0; k < QUESTIONS; k++) {
        if (thinkMs) await new Promise((r) => setTimeout(r, thinkMs * (0.5 + Math.random())));
        q = await step(() => u.tap(q.buttons.length >= 4 ? 4 : 1, q));
      }
    }),
  );
  s.wallMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 300)); // let trailing edits and completion jobs finish before counting
  s.redisCommands = (await commandsProcessed(redis)) - c0;
  child.send('report');
  const report = await new Promise<Record<string, number>>((resolve) => child.once('message', (m) => resolve(m as Record<string, number>)));
  s.heapMb = report.heapMb!;
  s.rssMb = report.rssMb!;
  s.cpuMs = report.cpuMs!;
  s.redisCalls = report.redisCalls!;
  if (report.runnerMeanMs) console.log(`${kind}: mean time in the conversation runner ${report.runnerMeanMs.toFixed(2)} ms`);
  await new Promise((r) => child.once('exit', r));
  return s;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function main() {
  const local = await ensureLocalServices({ redis: !process.env.REDIS_URL, mongo: !process.env.MONGODB_URI });
  const urls = { redis: process.env.REDIS_URL ?? local.redis!.url, mongo: process.env.MONGODB_URI ?? local.mongo!.url };
  const redis = new Redis(urls.redis);
  const emu = await new TelegramEmulator().start();
  emu.latencyMs = LATENCY;
  emu.setMaxListeners(0);

  console.log(`webhook benchmark: ${USERS} concurrent respondents x ${QUESTIONS + 1} updates, Telegram API latency ${LATENCY} ms`);
  const table = (title: string, baseline: Sample, ours: Sample, rows: Array<[string, (s: Sample) => number, 'lower' | 'higher']>) => {
    console.log(`\n${title.padEnd(36)}${'baseline'.padStart(10)}${'ours'.padStart(10)}${'ratio'.padStart(9)}`);
    for (const [name, f, better] of rows) {
      const b = f(baseline);
      const o = f(ours);
      console.log(
        `${name.padEnd(36)}${b.toFixed(1).padStart(10)}${o.toFixed(1).padStart(10)}${`${(better === 'lower' ? b / o : o / b).toFixed(2)}x`.padStart(9)}`,
      );
    }
  };

  const paced = { baseline: await run('baseline', emu, urls, redis, THINK), ours: await run('ours', emu, urls, redis, THINK) };
  table(`latency, respondents think ${THINK} ms`, paced.baseline, paced.ours, [
    ['updates per second (offered)', (s) => s.updates / (s.wallMs / 1000), 'higher'],
    ['/start -> first question p50 (ms)', (s) => pct(s.startMs, 50), 'lower'],
    ['tap: webhook answered p50 (ms)', (s) => pct(s.webhookMs, 50), 'lower'],
    ['tap: webhook answered p99 (ms)', (s) => pct(s.webhookMs, 99), 'lower'],
    ['tap -> next question p50 (ms)', (s) => pct(s.nextQuestionMs, 50), 'lower'],
    ['tap -> next question p99 (ms)', (s) => pct(s.nextQuestionMs, 99), 'lower'],
  ]);

  const flat = { baseline: await run('baseline', emu, urls, redis, 0), ours: await run('ours', emu, urls, redis, 0) };
  table('saturation, no think time', flat.baseline, flat.ours, [
    ['updates per second', (s) => s.updates / (s.wallMs / 1000), 'higher'],
    ['tap -> next question p50 (ms)', (s) => pct(s.nextQuestionMs, 50), 'lower'],
    ['tap -> next question p99 (ms)', (s) => pct(s.nextQuestionMs, 99), 'lower'],
    ['server CPU per update (ms)', (s) => s.cpuMs / s.updates, 'lower'],
    ['Redis calls per update (client)', (s) => s.redisCalls / s.updates, 'lower'],
    ['Redis commands per update (server)', (s) => s.redisCommands / s.updates, 'lower'],
    ['server heap after run (MB)', (s) => s.heapMb, 'lower'],
    ['server RSS after run (MB)', (s) => s.rssMb, 'lower'],
  ]);
  console.log(
    '\nratio > 1: ours is better by that factor. The baseline answers the webhook before it has saved the session (telegraf answers the callback\n' +
      'inside the webhook reply, then edits, replies and saves): fast, but a quick second tap can read the old session. Ours answers after the\n' +
      'compare-and-set save. Client calls are the commands the server process sends (a Lua script is one); server commands also count\n' +
      'those run inside scripts. Ours include BullMQ (completion and reminder jobs) and the send pacing.',
  );
  redis.disconnect();
  await emu.stop();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
