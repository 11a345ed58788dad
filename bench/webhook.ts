// Webhook intake, side by side: this service against the common telegraf bot
// with a Redis session store (session GET/SET per update, replies awaited in the
// handler). Each server runs in its own process (bench/target.ts); this process
// emulates Telegram (with a network latency per API call) and the respondents.
//
// Closed loop, as people answer: each respondent sends its next answer only
// after its next question has arrived, all respondents open their invitations
// at once, and the webhook is POSTed over at most 40 connections (Telegram's
// default max_connections). A non-200 answer is redelivered after 1 s, as
// Telegram does. The same load is then sent as Zalo OA events (signed, the
// code typed from the slip, taps as button payloads) and reported against
// ours on Telegram, with how many Zalo webhooks took over Zalo's 2 s. Then the
// same Telegram load to the service scaled out (two ROLE=web processes and one
// ROLE=worker), against one process, behind each balancer of BENCH_SPLIT:
// node's cluster module (round-robin over connections), deploy/nginx's nginx
// (each chat to one web process), or `chat`: each web process on a port of its
// own, the load generator sending each chat's updates to one (an ideal balancer
// routing by chat, at no cost).
// Each server first takes BENCH_WARMUP respondents unmeasured (its code compiled,
// their records written), and every server runs with the service's Node.js flags.
// Each server runs BENCH_ROUNDS times per size, the servers taking turns; the
// tables show each server's median round (this VM's figures vary by about 10 %
// from run to run).
//
//   npm run bench    (env: BENCH_SIZES=300,800 BENCH_LATENCY_MS=50 BENCH_THINK_MS=0 BENCH_ZALO=1
//                     BENCH_SPLIT=cluster,nginx (or chat; 0: none) BENCH_WARMUP=100 BENCH_WEB_PROCESSES=2 BENCH_ROUNDS=3)
//   BENCH_PROFILE=<dir>: each server writes a CPU profile (node --cpu-prof) there, and mark-<kind>-<pid>.txt, the
//   measured run's start on the profile's clock (microseconds), to cut the profile to the run or its opening burst.

import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { projectRoot } from '../src/local/paths.js';
import { ensureLocalServices } from '../src/local/servers.js';
import { SERVICE_NODE_FLAGS } from '../src/node-flags.js';
import { type StoredMessage, TelegramEmulator, TelegramUser } from '../test/helpers/telegram-emulator.js';
import { ZaloEmulator, type ZaloMessage, zaloEnv } from '../test/helpers/zalo-emulator.js';
import { machine, processCpuMs, recorder, saveResults } from './results.js';

const SIZES = (process.env.BENCH_SIZES ?? '300,800').split(',').map(Number);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 50);
const THINK = Number(process.env.BENCH_THINK_MS ?? 0);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 40);
const ZALO = process.env.BENCH_ZALO !== '0';
/** The balancers the scaled-out service runs behind (BENCH_SPLIT; the bench/target.ts child gets each as BENCH_BALANCER). */
const BALANCERS = { cluster: "node's cluster module, round-robin", nginx: 'nginx by chat (deploy/nginx)', chat: 'each chat to one process' } as const;
type Balancer = keyof typeof BALANCERS;
const SPLITS = (process.env.BENCH_SPLIT === '0' ? [] : (process.env.BENCH_SPLIT ?? 'cluster,nginx').split(',')) as Balancer[];
for (const b of SPLITS) if (!(b in BALANCERS)) throw new Error(`BENCH_SPLIT: unknown balancer ${b} (${Object.keys(BALANCERS).join(', ')})`);
/** ROLE=web processes when scaled out (BENCH_WEB_PROCESSES; the bench/target.ts child reads the same variable). */
const WEB_PROCESSES = Number(process.env.BENCH_WEB_PROCESSES ?? 2);
/** Respondents run through each server before it is measured (BENCH_WARMUP). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 100);
/** Runs of each server per size (BENCH_ROUNDS), taking turns. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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
  /** Ours: updates decided a second time because the conversation changed under them (another process saved it). */
  decidedAgain?: number;
  /** CPU of this process (emulated platform and respondents), percent of one core: near 100 means it, not the server, sets the pace. */
  generatorCpu?: number;
  /** The server's context switches during the run (its processes summed): waiting for input, and preempted. */
  switchesVoluntary?: number;
  switchesInvoluntary?: number;
  /** Scaled out: each process's CPU during the run, % of one core. */
  cpuSplit?: Record<string, number>;
  /** CPU used by redis-server during the run (ms). */
  redisCpuMs?: number;
  /** CPU used by the database (FerretDB and PostgreSQL) during the run (ms), while the service writes through jobs. */
  databaseCpuMs?: number;
}

const REDIS_PROCESSES = ['redis-server'];
const DATABASE_PROCESSES = ['ferretdb', 'postgres'];
const BALANCER_PROCESSES = ['nginx'];

function poster(agent: Agent) {
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

/** A question (or the thanks) as the respondent sees it, whichever the platform. */
interface Seen {
  id: number;
  text: string;
  buttons: number;
}

/** One respondent on one platform: `first` and `tap` return a delivery that may be POSTed again (a redelivery, same id). */
interface BenchUser {
  next(afterId: number): Promise<Seen>;
  first(start: string): () => Promise<{ status: number }>;
  tap(on: Seen, n: number): () => Promise<{ status: number }>;
}

const isNext = (afterId: number, id: number, text: string, buttons: number) => id > afterId && (buttons > 0 || text.includes('cảm ơn'));

/**
 * One listener per emulator that hands each message to the respondent of its
 * chat. (A listener per waiting respondent made every message wake them all:
 * with 800 respondents the load generator, not the servers, set the pace.)
 */
class Waiters<M> {
  private readonly waiting = new Map<string, (m: M) => void>();
  constructor(emu: { on(event: 'message', fn: (m: M) => void): unknown }, chatOf: (m: M) => string) {
    emu.on('message', (m) => this.waiting.get(chatOf(m))?.(m));
  }
  next(chat: string, accept: (m: M) => boolean): Promise<M> {
    return new Promise((resolve) => {
      this.waiting.set(chat, (m) => {
        if (!accept(m)) return;
        this.waiting.delete(chat);
        resolve(m);
      });
    });
  }
}
const telegramWaiters = new WeakMap<TelegramEmulator, Waiters<StoredMessage>>();
const zaloWaiters = new WeakMap<ZaloEmulator, Waiters<ZaloMessage>>();

function telegramUser(emu: TelegramEmulator, hook: { url: string; secret: string; post: ReturnType<typeof poster> }, chatId: number): BenchUser {
  const u = new TelegramUser(emu, hook, chatId);
  const shown = new Map<number, StoredMessage>();
  if (!telegramWaiters.has(emu)) telegramWaiters.set(emu, new Waiters<StoredMessage>(emu, (m) => String(m.chat)));
  const waiters = telegramWaiters.get(emu)!;
  return {
    next: async (afterId) => {
      // An edit that asks the next question in the tapped message counts: `rev` rises on sends and edits.
      const m = await waiters.next(String(chatId), (x) => isNext(afterId, x.rev, x.text, x.buttons.length));
      shown.set(m.rev, { ...m });
      return { id: m.rev, text: m.text, buttons: m.buttons.length };
    },
    first: (start) => {
      const id = emu.newUpdateId();
      return () => u.send(`/start ${start}`, id);
    },
    tap: (on, n) => {
      const id = emu.newUpdateId();
      const message = shown.get(on.id)!;
      return () => u.tap(n, message, id);
    },
  };
}

function zaloUser(
  emu: ZaloEmulator,
  url: string,
  post: (url: string, headers: Record<string, string>, body: string) => Promise<{ status: number }>,
  userId: string,
): BenchUser {
  const shown = new Map<number, ZaloMessage>();
  let seq = 0;
  /** One signed event, POSTed again as it is when it was not acknowledged (Zalo redelivers the same msg_id). */
  const delivery = (text: string) => {
    const { raw, headers } = emu.sign({
      event_name: 'user_send_text',
      user_id_by_app: `a${userId}`,
      sender: { id: userId },
      recipient: { id: emu.oaId },
      message: { msg_id: `m${userId}_${++seq}`, text },
    });
    return () => post(url, headers, raw);
  };
  if (!zaloWaiters.has(emu)) zaloWaiters.set(emu, new Waiters<ZaloMessage>(emu, (m) => m.user));
  const waiters = zaloWaiters.get(emu)!;
  return {
    next: async (afterId) => {
      const m = await waiters.next(userId, (x) => isNext(afterId, x.id, x.text, x.buttons.length));
      shown.set(m.id, m);
      return { id: m.id, text: m.text, buttons: m.buttons.length };
    },
    first: (code) => delivery(code),
    tap: (on, n) => delivery(shown.get(on.id)!.buttons[n - 1]!.payload),
  };
}

async function commandsProcessed(redis: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
}

/** One respondent from /start to the thanks, each update redelivered after 1 s while it is refused; adds to `s`. */
async function survey(u: BenchUser, start: string, s: Sample): Promise<void> {
  let last = 0;
  /** One update; resolves with the next question, or undefined when stuck. */
  const step = async (act: () => Promise<{ status: number }>, first = false): Promise<Seen | undefined> => {
    const waiting = u.next(last);
    const a = performance.now();
    for (;;) {
      const r = await act().catch(() => ({ status: 0 }));
      s.webhookMs.push(performance.now() - a);
      if (r.status === 200) break;
      s.errors++;
      if (performance.now() - a > STUCK_MS) return undefined;
      await new Promise((res) => setTimeout(res, 1_000));
    }
    // The stuck timer is cleared once the question is in: thousands of 15 s timers a second, left to run out,
    // would fill the load generator's old generation and make it, not the server, pay for garbage collection.
    let timer: NodeJS.Timeout | undefined;
    const m = await Promise.race([waiting, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), STUCK_MS)))]);
    clearTimeout(timer);
    if (!m) return undefined;
    (first ? s.startMs : s.replyMs).push(performance.now() - a);
    s.updates++;
    last = m.id;
    return m;
  };
  let q = await step(u.first(start), true);
  // Until the thanks: ours also asks the optional suggestion (answered with its one button, "Bỏ qua").
  for (let k = 0; k < QUESTIONS + 2 && q && !q.text.includes('cảm ơn'); k++) {
    if (THINK) await new Promise((r) => setTimeout(r, THINK * (0.5 + Math.random())));
    q = await step(u.tap(q, q.buttons >= 4 ? 4 : 1));
  }
  if (q?.text.includes('cảm ơn')) s.completed++;
  else s.stuck++;
}

const emptySample = (): Sample => ({
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
});

interface Platforms {
  telegram: TelegramEmulator;
  zalo: ZaloEmulator;
}

/** A server under test; `split-<balancer>`, the service scaled out behind that balancer. */
type Kind = 'ours' | 'baseline' | 'zalo' | `split-${Balancer}`;

async function run(kind: Kind, round: number, users: number, emus: Platforms, urls: { redis: string; mongo: string }, redis: Redis): Promise<Sample> {
  const zaloConfig = kind === 'zalo' ? { BENCH_ZALO_ENV: JSON.stringify({ ...zaloEnv(emus.zalo, emus.zalo.issuePair()), ZALO_SEND_RATE: '100000' }) } : {};
  const balancer = kind.startsWith('split-') ? (kind.slice('split-'.length) as Balancer) : undefined;
  const child = fork(join(projectRoot, 'dist/bench/target.js'), [balancer ? 'split' : kind], {
    // Every server (the baseline too) with the service's Node.js flags: a flag is not what sets them apart.
    execArgv: ['--expose-gc', ...SERVICE_NODE_FLAGS, ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [])],
    env: {
      ...process.env,
      BENCH_USERS: String(users + WARMUP),
      BENCH_API_ROOT: emus.telegram.apiRoot,
      BENCH_REDIS_URL: urls.redis,
      BENCH_MONGO_URL: urls.mongo,
      ...(balancer ? { BENCH_BALANCER: balancer } : {}),
      ...zaloConfig,
    },
  });
  type TargetReady = { port: number; webPorts?: number[]; starts: string[]; createMs?: number[] };
  const ready = await new Promise<TargetReady>((resolve, reject) => {
    child.once('message', (m) => resolve(m as TargetReady));
    child.once('exit', (code) => reject(new Error(`${kind} target exited with ${code}`)));
  });
  // Where each respondent's updates go: the server (or its balancer), or behind `chat` the web process of its chat.
  const ports = ready.webPorts ?? [ready.port];
  const urlOf = (i: number) => `http://127.0.0.1:${ports[i % ports.length]}/webhooks/${kind === 'zalo' ? 'zalo' : 'telegram'}`;
  /** The 40 connections, shared among the ports. */
  const connections = () => ports.map(() => new Agent({ keepAlive: true, maxSockets: Math.ceil(CONNECTIONS / ports.length) }));
  const s = emptySample();
  if (ready.createMs) s.createMs = ready.createMs;
  // Chat ids of their own per server, size and round (the emulator keeps each chat's messages).
  const base =
    { ours: 1_000_000, baseline: 2_000_000, zalo: 3_000_000, 'split-cluster': 4_000_000, 'split-nginx': 5_000_000, 'split-chat': 6_000_000 }[kind] +
    round * 100_000 +
    users * 10;
  const respondent = (i: number, pools: Agent[]) => {
    const [url, post] = [urlOf(i), poster(pools[i % ports.length]!)];
    return kind === 'zalo' ? zaloUser(emus.zalo, url, post, `900719925474${base + i}`) : telegramUser(emus.telegram, { url, secret: SECRET, post }, base + i);
  };
  // Warm-up: the first respondents run through the server unmeasured, so that each process's code is compiled
  // (JIT) before the run, as in a service that has been up for a while; its records drain before the run starts.
  // The run opens connections of its own: the warm-up's sit idle while its records drain, and the server closing one
  // idle past its keep-alive timeout as the run reuses it would count as a refused update.
  const warmupPools = connections();
  const warmup = ready.starts.slice(0, WARMUP);
  await Promise.all(warmup.map((start, i) => survey(respondent(i, warmupPools), start, emptySample())));
  for (const pool of warmupPools) pool.destroy();
  child.send('mark');
  await new Promise((r) => child.once('message', r));
  const pools = connections();
  const c0 = await commandsProcessed(redis);
  const cpu0 = process.cpuUsage();
  const redisCpu0 = processCpuMs(REDIS_PROCESSES);
  const databaseCpu0 = processCpuMs(DATABASE_PROCESSES);
  const balancerCpu0 = processCpuMs(BALANCER_PROCESSES);
  const t0 = performance.now();
  await Promise.all(ready.starts.slice(WARMUP).map((start, i) => survey(respondent(WARMUP + i, pools), start, s)));
  s.wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  s.generatorCpu = ((cpu.user + cpu.system) / 1000 / s.wallMs) * 100;
  s.redisCpuMs = processCpuMs(REDIS_PROCESSES) - redisCpu0;
  s.databaseCpuMs = processCpuMs(DATABASE_PROCESSES) - databaseCpu0;
  // nginx is part of the scaled-out service: its CPU counts with the service's (as the cluster primary's does).
  const balancerCpuMs = processCpuMs(BALANCER_PROCESSES) - balancerCpu0;
  await new Promise((r) => setTimeout(r, 500)); // trailing edits and jobs
  s.redisCommands = (await commandsProcessed(redis)) - c0;
  child.send('report');
  const report = await new Promise<Record<string, number>>((resolve) => child.once('message', (m) => resolve(m as Record<string, number>)));
  Object.assign(s, {
    rssMb: report.rssMb!,
    cpuMs: report.cpuMs! + balancerCpuMs,
    redisCalls: report.redisCalls!,
    drainMs: report.drainMs ?? 0,
    decidedAgain: report.decidedAgain ?? 0,
    switchesVoluntary: report.switchesVoluntary ?? 0,
    switchesInvoluntary: report.switchesInvoluntary ?? 0,
  });
  if (balancer) {
    s.cpuSplit = Object.fromEntries(
      Object.entries(report)
        .filter(([k]) => /^(primary|web\d+|worker)CpuMs$/.test(k))
        .map(([k, ms]) => [k.replace('CpuMs', ''), (ms / s.wallMs) * 100]),
    );
    if (balancer === 'nginx') s.cpuSplit.nginx = (balancerCpuMs / s.wallMs) * 100;
  }
  await new Promise((r) => child.once('exit', r));
  // The run's chats are done with: the load generator's heap stays as small in the last run as in the first.
  emus.telegram.messages.clear();
  emus.zalo.messages.clear();
  emus.zalo.sends.length = 0;
  return s;
}

type Row = [string, (s: Sample) => number, 'lower' | 'higher' | 'none'];

const updatesPerSecond = (s: Sample) => s.updates / (s.wallMs / 1000);
/** The round with the median updates per second (of an even number, the lower of the two middle ones). */
const medianRound = (rounds: Sample[]) => [...rounds].sort((a, b) => updatesPerSecond(a) - updatesPerSecond(b))[Math.floor((rounds.length - 1) / 2)]!;

const pct = (xs: number[], p: number) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const ROWS: Row[] = [
  ['surveys completed', (s) => s.completed, 'none'],
  ['respondents stuck (no question in 15 s)', (s) => s.stuck, 'none'],
  ['webhook answers not 200 (redelivered)', (s) => s.errors, 'none'],
  ['updates per second', updatesPerSecond, 'higher'],
  ['/start -> first question p50 (ms)', (s) => pct(s.startMs, 50), 'lower'],
  ['/start -> first question p99 (ms)', (s) => pct(s.startMs, 99), 'lower'],
  ['answer -> next question p50 (ms)', (s) => pct(s.replyMs, 50), 'lower'],
  ['answer -> next question p99 (ms)', (s) => pct(s.replyMs, 99), 'lower'],
  ['webhook answered p99 (ms)', (s) => pct(s.webhookMs, 99), 'lower'],
  ['server CPU per update (ms)', (s) => s.cpuMs / s.updates, 'lower'],
  ['Redis calls per update (client)', (s) => s.redisCalls / s.updates, 'lower'],
  ['Redis commands per update (server)', (s) => s.redisCommands / s.updates, 'lower'],
  ['switches per 100 updates: idle waits', (s) => ((s.switchesVoluntary ?? 0) / s.updates) * 100, 'lower'],
  ['switches per 100 updates: preempted', (s) => ((s.switchesInvoluntary ?? 0) / s.updates) * 100, 'lower'],
  ['updates decided again (%)', (s) => ((s.decidedAgain ?? 0) / s.updates) * 100, 'none'],
  ['server RSS after run (MB)', (s) => s.rssMb, 'lower'],
  ['load generator CPU (% of one core)', (s) => s.generatorCpu ?? 0, 'none'],
  ['Redis server CPU (% of one core)', (s) => ((s.redisCpuMs ?? 0) / s.wallMs) * 100, 'none'],
  ['database CPU during the run (% of one core)', (s) => ((s.databaseCpuMs ?? 0) / s.wallMs) * 100, 'none'],
];

async function main() {
  const local = await ensureLocalServices({ redis: !process.env.REDIS_URL, mongo: !process.env.MONGODB_URI });
  const urls = { redis: process.env.REDIS_URL ?? local.redis!.url, mongo: process.env.MONGODB_URI ?? local.mongo!.url };
  const redis = new Redis(urls.redis);
  const emus: Platforms = { telegram: await new TelegramEmulator().start(), zalo: await new ZaloEmulator().start() };
  for (const emu of [emus.telegram, emus.zalo]) {
    emu.latencyMs = LATENCY;
    emu.setMaxListeners(0);
  }
  emus.telegram.recordCalls = false;

  const { lines, say } = recorder();
  say(machine());
  say(
    `database: ${local.mongo?.kind ?? 'MONGODB_URI'}; Telegram and Zalo API latency ${LATENCY} ms; ${CONNECTIONS} webhook connections; think time ${THINK} ms`,
  );
  const table = (title: string, baseline: Sample, ours: Sample, rows: Row[], names = ['baseline', 'ours']) => {
    say();
    say(`${title.padEnd(40)}${names[0]!.padStart(10)}${names[1]!.padStart(10)}${'ratio'.padStart(9)}`);
    for (const [name, f, better] of rows) {
      const b = f(baseline);
      const o = f(ours);
      const ratio = better === 'none' ? '' : `${(better === 'lower' ? b / o : o / b).toFixed(2)}x`;
      say(`${name.padEnd(40)}${b.toFixed(1).padStart(10)}${o.toFixed(1).padStart(10)}${ratio.padStart(9)}`);
    }
  };

  const kinds: Kind[] = ['baseline', 'ours', ...(ZALO ? (['zalo'] as const) : []), ...SPLITS.map((b) => `split-${b}` as const)];
  for (const users of SIZES) {
    const rounds = new Map<Kind, Sample[]>(kinds.map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++) for (const kind of kinds) rounds.get(kind)!.push(await run(kind, round, users, emus, urls, redis));
    const median = (kind: Kind) => (rounds.has(kind) ? medianRound(rounds.get(kind)!) : undefined);
    const [baseline, ours, zalo] = [median('baseline')!, median('ours')!, median('zalo')];
    say();
    say(`updates per second by round, ${users} respondents (tables: each server's median round)`);
    for (const [kind, samples] of rounds) say(`  ${kind.padEnd(14)}${samples.map((x) => updatesPerSecond(x).toFixed(0).padStart(7)).join('')}`);
    table(`closed loop, ${users} respondents at once`, baseline, ours, ROWS);
    say(`responses all in MongoDB (ours) ${((ours.drainMs ?? 0) / 1000).toFixed(1)} s after the last answer`);
    if (ours.createMs?.length)
      say(
        `creating an invitation (ours, one after another, ${ours.createMs.length}): p50 ${pct(ours.createMs, 50).toFixed(1)} ms, p99 ${pct(ours.createMs, 99).toFixed(1)} ms`,
      );
    if (zalo) {
      table(
        `the same load as signed Zalo OA events, ${users}`,
        ours,
        zalo,
        [
          ...ROWS,
          ['webhook answers over 2 s (Zalo waits ~2 s)', (s) => s.webhookMs.filter((ms) => ms > 2_000).length, 'none'],
          ['webhook answered max (ms)', (s) => Math.max(...s.webhookMs), 'lower'],
        ],
        ['telegram', 'zalo'],
      );
    }
    for (const balancer of SPLITS) {
      const split = median(`split-${balancer}`)!;
      say();
      say(`scaled out: ${WEB_PROCESSES} web + 1 worker processes behind ${BALANCERS[balancer]}, ${users} respondents`);
      table('', ours, split, ROWS, ['1 process', `${WEB_PROCESSES}web+1wk`]);
      say(`responses all in MongoDB (scaled out) ${((split.drainMs ?? 0) / 1000).toFixed(1)} s after the last answer`);
      say(
        `CPU split during the run (% of one core): ${Object.entries(split.cpuSplit ?? {})
          .map(([p, pct]) => `${p} ${pct.toFixed(0)}`)
          .join(', ')}; one process: ${((ours.cpuMs / ours.wallMs) * 100).toFixed(0)}`,
      );
    }
  }
  say();
  say('ratio > 1: ours (or, in the Zalo tables, Zalo; in the scaled-out tables, the three processes) is better by that factor.');
  say('Scaled out, CPU, Redis calls and RSS are the sums over the processes (the cluster primary that hands out connections, and');
  say('nginx, included).');
  say('Ours against the baseline: the baseline answers the webhook before it has saved the session; ours answers after the');
  say('compare-and-set save, and also writes responses and counters to MongoDB (through jobs) and schedules reminders. Client calls are');
  say('the commands the server process sends (a Lua script is one); server commands also count those run inside scripts and BullMQ.');
  say("Decided again: the process's copy of the conversation was behind (the chat's last update went to another process), so");
  say('its save was refused and the update decided again on the stored one: one more Redis round trip.');
  say("Switches: the server's main threads leaving the CPU (/proc), to wait for input with nothing else to do (idle waits), or");
  say('taken off it while runnable (preempted). Many per update: its processes run in short slices, taking turns on the cores.');
  console.log(`\nwritten to ${saveResults('webhook', lines)}`);
  redis.disconnect();
  await Promise.all([emus.telegram.stop(), emus.zalo.stop()]);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
