// Webhook intake, side by side: this service against the common telegraf bot
// with a Redis session store (session GET/SET per update, replies awaited in the
// handler). Each server runs in its own process (bench/target.ts); this process
// emulates Telegram (with a network latency per API call) and the respondents.
//
// Closed loop, as people answer: each respondent sends its next answer only
// after its next question has arrived, all respondents open their invitations
// at once, and the webhook is POSTed over at most 40 connections (Telegram's
// default max_connections). A non-200 answer is redelivered after 1 s, as
// Telegram does.
//
//   npm run bench    (env: BENCH_SIZES=300,800 BENCH_LATENCY_MS=50 BENCH_THINK_MS=0)
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { projectRoot } from '../src/local/paths.js';
import { ensureLocalServices } from '../src/local/servers.js';
import { type StoredMessage, TelegramEmulator, TelegramUser } from '../test/helpers/telegram-emulator.js';

const SIZES = (process.env.BENCH_SIZES ?? '300,800').split(',').map(Number);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 50);
const THINK = Number(process.env.BENCH_THINK_MS ?? 0);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 40);
/** A respondent still waiting for a question after this long is counted stuck. */
const STUCK_MS = 15_000;
const SECRET = 'bench-secret';
const QUESTIONS = 18; // consent + 14 items + 2 observations + overall (respondent type prefilled)

interface Sample {
  startMs: number[];
  webhookMs: number[];
  replyMs: number[];
  updates: number;
  errors: number;
  completed: number;
  stuck: number;
  wallMs: number;
  redisCommands: number;
  rssMb: number;
  cpuMs: number;
  redisCalls: number;
  createMs?: number[];
  /** After the last answer, until every response was written to MongoDB. */
  drainMs?: number;
}

/** Telegram's side: a pool of 40 connections to the webhook. */
function poster(connections: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  return (url: string, headers: Record<string, string>, body: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
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

async function run(kind: 'ours' | 'baseline', users: number, emu: TelegramEmulator, urls: { redis: string; mongo: string }, redis: Redis): Promise<Sample> {
  const child = fork(join(projectRoot, 'dist/bench/target.js'), [kind], {
    execArgv: ['--expose-gc', ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [])],
    env: { ...process.env, BENCH_USERS: String(users), BENCH_API_ROOT: emu.apiRoot, BENCH_REDIS_URL: urls.redis, BENCH_MONGO_URL: urls.mongo },
  });
  const ready = await new Promise<{ port: number; starts: string[]; createMs?: number[] }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number; starts: string[] }));
    child.once('exit', (code) => reject(new Error(`${kind} target exited with ${code}`)));
  });
  const post = poster(CONNECTIONS);
  const url = `http://127.0.0.1:${ready.port}/webhooks/telegram`;
  const s: Sample = {
    startMs: [],
    webhookMs: [],
    replyMs: [],
    updates: 0,
    errors: 0,
    completed: 0,
    stuck: 0,
    wallMs: 0,
    redisCommands: 0,
    rssMb: 0,
    cpuMs: 0,
    redisCalls: 0,
  };
  if (ready.createMs) s.createMs = ready.createMs;
  const c0 = await commandsProcessed(redis);
  const t0 = performance.now();
  const base = (kind === 'ours' ? 1_000_000 : 2_000_000) + users * 10;
  await Promise.all(
    ready.starts.map(async (start, i) => {
      const u = new TelegramUser(emu, { url, secret: SECRET, post }, base + i);
      let last = 0;
      /** One update, redelivered after 1 s while it is refused; resolves with the next question, or undefined when stuck. */
      const step = async (act: () => Promise<{ status: number }>, first = false): Promise<StoredMessage | undefined> => {
        const waiting = nextQuestion(emu, u.chatId, last);
        const a = performance.now();
        for (;;) {
          const r = await act().catch(() => ({ status: 0 }));
          s.webhookMs.push(performance.now() - a);
          if (r.status === 200) break;
          s.errors++;
          if (performance.now() - a > STUCK_MS) return undefined;
          await new Promise((res) => setTimeout(res, 1_000));
        }
        const m = await Promise.race([waiting, new Promise<undefined>((res) => setTimeout(() => res(undefined), STUCK_MS))]);
        if (!m) return undefined;
        (first ? s.startMs : s.replyMs).push(performance.now() - a);
        s.updates++;
        last = m.message_id;
        return m;
      };
      const startId = emu.newUpdateId();
      let q = await step(() => u.send(`/start ${start}`, startId), true);
      // Until the thanks: ours also asks the optional suggestion (answered with its one button, "Bỏ qua").
      for (let k = 0; k < QUESTIONS + 2 && q && !q.text.includes('cảm ơn'); k++) {
        if (THINK) await new Promise((r) => setTimeout(r, THINK * (0.5 + Math.random())));
        const on = q;
        const id = emu.newUpdateId();
        q = await step(() => u.tap(on.buttons.length >= 4 ? 4 : 1, on, id));
      }
      if (q?.text.includes('cảm ơn')) s.completed++;
      else s.stuck++;
    }),
  );
  s.wallMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 500)); // trailing edits and jobs
  s.redisCommands = (await commandsProcessed(redis)) - c0;
  child.send('report');
  const report = await new Promise<Record<string, number>>((resolve) => child.once('message', (m) => resolve(m as Record<string, number>)));
  Object.assign(s, { rssMb: report.rssMb!, cpuMs: report.cpuMs!, redisCalls: report.redisCalls!, drainMs: report.drainMs ?? 0 });
  await new Promise((r) => child.once('exit', r));
  return s;
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return Number.NaN;
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

  const lines: string[] = [];
  const say = (l = '') => {
    console.log(l);
    lines.push(l);
  };
  say(
    `${new Date().toISOString().slice(0, 10)}  ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`,
  );
  say(`database: ${local.mongo?.kind ?? 'MONGODB_URI'}; Telegram API latency ${LATENCY} ms; ${CONNECTIONS} webhook connections; think time ${THINK} ms`);
  const table = (title: string, baseline: Sample, ours: Sample, rows: Array<[string, (s: Sample) => number, 'lower' | 'higher' | 'none']>) => {
    say();
    say(`${title.padEnd(40)}${'baseline'.padStart(10)}${'ours'.padStart(10)}${'ratio'.padStart(9)}`);
    for (const [name, f, better] of rows) {
      const b = f(baseline);
      const o = f(ours);
      const ratio = better === 'none' ? '' : `${(better === 'lower' ? b / o : o / b).toFixed(2)}x`;
      say(`${name.padEnd(40)}${b.toFixed(1).padStart(10)}${o.toFixed(1).padStart(10)}${ratio.padStart(9)}`);
    }
  };

  for (const users of SIZES) {
    const baseline = await run('baseline', users, emu, urls, redis);
    const ours = await run('ours', users, emu, urls, redis);
    table(`closed loop, ${users} respondents at once`, baseline, ours, [
      ['surveys completed', (s) => s.completed, 'none'],
      ['respondents stuck (no question in 15 s)', (s) => s.stuck, 'none'],
      ['webhook answers not 200 (redelivered)', (s) => s.errors, 'none'],
      ['updates per second', (s) => s.updates / (s.wallMs / 1000), 'higher'],
      ['/start -> first question p50 (ms)', (s) => pct(s.startMs, 50), 'lower'],
      ['/start -> first question p99 (ms)', (s) => pct(s.startMs, 99), 'lower'],
      ['answer -> next question p50 (ms)', (s) => pct(s.replyMs, 50), 'lower'],
      ['answer -> next question p99 (ms)', (s) => pct(s.replyMs, 99), 'lower'],
      ['webhook answered p99 (ms)', (s) => pct(s.webhookMs, 99), 'lower'],
      ['server CPU per update (ms)', (s) => s.cpuMs / s.updates, 'lower'],
      ['Redis calls per update (client)', (s) => s.redisCalls / s.updates, 'lower'],
      ['Redis commands per update (server)', (s) => s.redisCommands / s.updates, 'lower'],
      ['server RSS after run (MB)', (s) => s.rssMb, 'lower'],
    ]);
    say(`responses all in MongoDB (ours) ${((ours.drainMs ?? 0) / 1000).toFixed(1)} s after the last answer`);
    if (ours.createMs?.length)
      say(
        `creating an invitation (ours, one after another, ${ours.createMs.length}): p50 ${pct(ours.createMs, 50).toFixed(1)} ms, p99 ${pct(ours.createMs, 99).toFixed(1)} ms`,
      );
  }
  say();
  say('ratio > 1: ours is better by that factor. The baseline answers the webhook before it has saved the session; ours answers after the');
  say('compare-and-set save, and also writes responses and counters to MongoDB (through jobs) and schedules reminders. Client calls are');
  say('the commands the server process sends (a Lua script is one); server commands also count those run inside scripts and BullMQ.');
  const dir = join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `webhook-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.txt`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  console.log(`\nwritten to ${file}`);
  redis.disconnect();
  await emu.stop();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
