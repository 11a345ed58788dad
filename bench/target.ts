// One server under test, in its own process so that the load generator and the
// emulated Telegram do not share its event loop. Started by bench/webhook.ts:
//   node dist/bench/target.js ours|zalo|split|baseline   (config in BENCH_* variables, IPC to the parent)
// "ours" takes Telegram traffic, "zalo" the same service taking signed Zalo OA events,
// "split" the same as "ours" scaled out: two ROLE=web processes behind a balancer
// (BENCH_BALANCER) and one ROLE=worker process, sharing Redis.
import cluster from 'node:cluster';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { type Context, Markup, session, Telegraf } from 'telegraf';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ensureIndexes } from '../src/db.js';
import { loadFlows } from '../src/engine/load.js';
import { loadCampaignFiles } from '../src/invitations/campaign.js';
import { seedCampaigns } from '../src/invitations/seed.js';
import { startNginx } from '../src/local/nginx.js';
import { projectRoot } from '../src/local/paths.js';
import { freePort } from '../test/helpers/ports.js';
import { deleteKeys } from '../test/helpers/redis-keys.js';

export const SECRET = 'bench-secret';
export const TOKEN = '42:BENCH';

const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is required`);
  return v;
};
const users = Number(env('BENCH_USERS'));
const apiRoot = env('BENCH_API_ROOT');
const redisUrl = env('BENCH_REDIS_URL');

const CAMPAIGN = 'soc-trang-2024';
const flows = loadFlows(join(projectRoot, 'flows'));
/** The questionnaire of the benchmark's campaign: the baseline asks the same questions. */
const citizen = flows.get(loadCampaignFiles(join(projectRoot, 'campaigns')).find((c) => c.id === CAMPAIGN)!.flows.citizen);
/** What a tapping respondent is asked (respondent type known from the invitation, no low answer). */
export const asked = citizen.questions.filter((q) => q.type === 'choice' || q.type === 'yesno').filter((q) => q.id !== 'respondent_type');

interface Ready {
  port: number;
  /** Scaled out with BENCH_BALANCER=chat: each web process's own port (the load generator routes each chat to one). */
  webPorts?: number[];
  starts: string[];
  createMs?: number[];
  /** After the warm-up: its records (ballots and openings) are written (and, scaled out, each process has started counting again). */
  mark: () => Promise<void>;
  report: () => Promise<Record<string, number>>;
}

/** The service as the benchmark runs it: one campaign, its own key prefix and database (`stamp`). */
async function openService(channel: 'telegram' | 'zalo', stamp: string) {
  const config = loadConfig(
    channel === 'telegram'
      ? { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: SECRET, TELEGRAM_API_ROOT: apiRoot, TELEGRAM_SEND_RATE: '100000' }
      : (JSON.parse(env('BENCH_ZALO_ENV')) as Record<string, string>),
  );
  return createApp({
    config,
    redisUrl,
    mongoUrl: env('BENCH_MONGO_URL'),
    dbName: `bench_${stamp}`,
    prefix: `bench:${stamp}:`,
    pseudonymKey: 'bench-pseudonym-key-000',
    encryptionKey: Buffer.alloc(32, 1),
    log: pino({ level: 'silent' }),
  });
}

type Service = Awaited<ReturnType<typeof openService>>;

/** A seeded campaign and `users` invitations: what each respondent opens (a Telegram /start token, a Zalo code from the slip). */
async function prepare(service: Service, channel: 'telegram' | 'zalo') {
  await ensureIndexes(service.db.models);
  await seedCampaigns(service.db.models, service.flows, join(projectRoot, 'campaigns'), CAMPAIGN);
  const starts: string[] = [];
  const createMs: number[] = [];
  for (let i = 0; i < users; i++) {
    const t0 = performance.now();
    const { view } = await service.invitations.create(
      { caseCode: `B-${i}`, unit: 'PC06', field: 'can-cuoc', respondentType: 'citizen' },
      { keyId: 'bench', role: 'admin' },
    );
    createMs.push(performance.now() - t0);
    starts.push(channel === 'telegram' ? view.token : view.code);
  }
  return { starts, createMs };
}

/**
 * Drops what the run left, once every process of it has stopped (workers would write again): its database and its
 * Redis keys (a few hundred thousand per run, gigabytes after a few dozen runs).
 */
async function forget(service: Service, stamp: string) {
  await service.db.conn.dropDatabase();
  await service.close();
  await deleteKeys(redisUrl, `bench:${stamp}:`);
}

/**
 * How long the records (responses, counters) lag behind the conversations: until the completion queue is drained.
 * `openings`: the openings too (follow-up jobs due now, and openings not yet due; reminders wait for days and do not count).
 */
async function drained(service: Service, { openings = false } = {}): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const counts = [await service.queues.completion.getJobCounts('waiting', 'active', 'delayed', 'prioritized')];
    if (openings) {
      const delayed = (await service.queues.followUps.getDelayed()).filter((job) => job.name === 'opened').length;
      counts.push({ delayed, ...(await service.queues.followUps.getJobCounts('waiting', 'active', 'prioritized')) });
    }
    if (counts.every((c) => Object.values(c).every((n) => n === 0))) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ours(channel: 'telegram' | 'zalo'): Promise<Ready> {
  const stamp = String(Date.now());
  const service = await openService(channel, stamp);
  const { starts, createMs } = await prepare(service, channel);
  service.startWorkers();
  const { port } = await service.listen(0);
  let retries0 = 0;
  return {
    port,
    starts,
    createMs,
    mark: async () => {
      await drained(service, { openings: true });
      retries0 = service.runner.casRetries;
    },
    report: async () => {
      const decidedAgain = service.runner.casRetries - retries0;
      const drainMs = await drained(service);
      await forget(service, stamp);
      return { drainMs, decidedAgain };
    },
  };
}

/** BENCH_WEB_PROCESSES: how many ROLE=web processes (2 by default). */
const WEB_PROCESSES = Number(process.env.BENCH_WEB_PROCESSES ?? 2);
/**
 * BENCH_BALANCER, what the web processes are behind: `cluster`, node's cluster module handing out connections
 * round-robin (all web processes on one port); `nginx`, deploy/nginx's configuration routing each chat to one web
 * process; `chat`, no balancer: each web process on a port of its own, and the load generator sends each chat's
 * updates to one of them (what an ideal balancer routing by chat would do, at no cost).
 */
const BALANCER = (process.env.BENCH_BALANCER ?? 'cluster') as 'cluster' | 'nginx' | 'chat';

/** WEB_PROCESSES ROLE=web processes behind BALANCER and one ROLE=worker (all forked with node's cluster module). */
async function split(): Promise<Ready> {
  const stamp = String(Date.now());
  const service = await openService('telegram', stamp);
  const { starts, createMs } = await prepare(service, 'telegram');
  const port = await freePort();
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const ownPorts = BALANCER === 'cluster' ? undefined : await Promise.all(Array.from({ length: WEB_PROCESSES }, () => freePort()));
  const children = ['worker', ...Array<string>(WEB_PROCESSES).fill('web')].map((role, i) =>
    cluster.fork({ BENCH_ROLE: role, BENCH_STAMP: stamp, BENCH_PORT: String(ownPorts?.[i - 1] ?? port) }),
  );
  await Promise.all(children.map((c) => new Promise((r) => c.once('message', r))));
  const nginx = BALANCER === 'nginx' ? await startNginx({ port, upstreams: ownPorts!, dir: mkdtempSync(join(tmpdir(), 'tthc-bench-nginx-')) }) : undefined;
  const webPorts = BALANCER === 'chat' ? ownPorts : undefined;
  /** Sends `message` to every child and waits for each one's answer. */
  const ask = (message: string) =>
    Promise.all(
      children.map((c) => {
        const answer = new Promise<Record<string, number>>((r) => c.once('message', r));
        c.send(message);
        return answer;
      }),
    );
  return {
    port,
    ...(webPorts ? { webPorts } : {}),
    starts,
    createMs,
    mark: async () => {
      await drained(service, { openings: true });
      await ask('mark');
    },
    report: async () => {
      // The children's figures for the run, before the records drain (as for one process).
      const each = await ask('report');
      const drainMs = await drained(service);
      // Asked to exit rather than killed: a profiled child (BENCH_PROFILE) writes its profile on exit.
      await Promise.all(
        children.map((c) => {
          const gone = new Promise((r) => c.once('exit', r));
          c.send('exit');
          return gone;
        }),
      );
      await nginx?.stop();
      await forget(service, stamp);
      // The primary's share (it accepts the connections and hands them out) is counted by the caller.
      const sum = (k: string) => each.reduce((n, e) => n + (e[k] ?? 0), 0);
      const [workerCpuMs, ...webCpuMs] = each.map((e) => e.cpuMs ?? 0);
      return {
        drainMs,
        decidedAgain: sum('decidedAgain'),
        childCpuMs: sum('cpuMs'),
        childRedisCalls: sum('redisCalls'),
        childRssMb: sum('rssMb'),
        childSwitchesVoluntary: sum('switchesVoluntary'),
        childSwitchesInvoluntary: sum('switchesInvoluntary'),
        workerCpuMs: workerCpuMs!,
        ...Object.fromEntries(webCpuMs.map((ms, i) => [`web${i + 1}CpuMs`, ms])),
      };
    },
  };
}

/** One process of the split: serves webhooks (web) or runs the queues (worker), until asked for its figures. */
async function splitChild() {
  const service = await openService('telegram', env('BENCH_STAMP'));
  if (env('BENCH_ROLE') === 'worker') service.startWorkers();
  else await service.listen(Number(env('BENCH_PORT')));
  let cpu0 = process.cpuUsage();
  let calls0 = redisCalls;
  let retries0 = 0;
  let switches0 = contextSwitches();
  process.send!('ready');
  process.on('message', (m) => {
    if (m === 'exit') process.exit(0);
    if (m === 'mark') {
      cpu0 = process.cpuUsage();
      calls0 = redisCalls;
      retries0 = service.runner.casRetries;
      switches0 = contextSwitches();
      process.send!('marked');
    }
    if (m !== 'report') return;
    const cpu = process.cpuUsage(cpu0);
    process.send!({
      cpuMs: (cpu.user + cpu.system) / 1000,
      redisCalls: redisCalls - calls0,
      rssMb: process.memoryUsage().rss / 1048576,
      decidedAgain: service.runner.casRetries - retries0,
      ...switchesSince(switches0),
    });
  });
}

/** The common pattern: telegraf webhookCallback, session() with a Redis GET/SET store, replies awaited. */
async function baseline(): Promise<Ready> {
  interface S {
    i: number;
    answers: Record<string, number | string>;
  }
  const client = new Redis(redisUrl);
  const prefix = `baseline:${Date.now()}:`;
  const store = {
    get: async (k: string) => {
      const v = await client.get(prefix + k);
      return v ? (JSON.parse(v) as S) : undefined;
    },
    set: async (k: string, v: S) => void (await client.set(prefix + k, JSON.stringify(v))),
    delete: async (k: string) => void (await client.del(prefix + k)),
  };
  const bot = new Telegraf<Context & { session: S }>(TOKEN, { telegram: { apiRoot } });
  bot.use(session({ store, defaultSession: () => ({ i: -1, answers: {} }) }));
  const ask = (ctx: Context & { session: S }) => {
    const q = asked[ctx.session.i];
    if (!q) return ctx.reply(citizen.thankYou.replace('{unitName}', 'PC06'));
    const options = citizen.optionsOf.get(q.id)!;
    return ctx.reply(q.text, Markup.inlineKeyboard(options.map((o, n) => [Markup.button.callback(o.label, `${ctx.session.i}:${n + 1}`)])));
  };
  bot.start(async (ctx) => {
    ctx.session.i = 0;
    ctx.session.answers = {};
    await ask(ctx);
  });
  bot.on('callback_query', async (ctx) => {
    const [i, n] = (ctx.callbackQuery as { data: string }).data.split(':').map(Number) as [number, number];
    await ctx.answerCbQuery();
    if (i !== ctx.session.i) return;
    const q = asked[i]!;
    const option = citizen.optionsOf.get(q.id)![n - 1]!;
    ctx.session.answers[q.id] = option.value;
    await ctx.editMessageText(`${(ctx.callbackQuery.message as { text: string }).text}\n\n✅ ${option.label}`);
    ctx.session.i++;
    await ask(ctx);
  });
  const app = express();
  app.use(await bot.createWebhook({ domain: 'bench.local', path: '/webhooks/telegram', secret_token: SECRET }));
  const server = app.listen(0);
  await new Promise((r) => server.once('listening', r));
  return {
    port: (server.address() as { port: number }).port,
    starts: Array.from({ length: users }, (_, i) => `b${i}`),
    mark: async () => {},
    report: async () => {
      await deleteKeys(redisUrl, prefix);
      return {};
    },
  };
}

// Counts the commands this process sends to Redis (each a round trip or part of a pipeline), BullMQ's included.
let redisCalls = 0;
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<typeof sendCommand>) {
  redisCalls++;
  return sendCommand.apply(this, args);
};

/** This process's context switches so far: waits for input (voluntary) and preemptions (involuntary, /proc on Linux). */
function contextSwitches(): { voluntary: number; involuntary: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { voluntary: count('voluntary_ctxt_switches'), involuntary: count('nonvoluntary_ctxt_switches') };
}

/** The switches since `from`, as report fields. */
const switchesSince = (from: { voluntary: number; involuntary: number }) => {
  const now = contextSwitches();
  return { switchesVoluntary: now.voluntary - from.voluntary, switchesInvoluntary: now.involuntary - from.involuntary };
};

if (cluster.isWorker) await splitChild();
else if (process.argv[2]) {
  const kind = process.argv[2];
  const ready = await (kind === 'baseline' ? baseline() : kind === 'split' ? split() : ours(kind === 'zalo' ? 'zalo' : 'telegram'));
  let cpu0 = process.cpuUsage();
  let calls0 = redisCalls;
  let switches0 = contextSwitches();
  process.send!({ port: ready.port, webPorts: ready.webPorts, starts: ready.starts, createMs: ready.createMs });
  process.on('message', async (m) => {
    if (m === 'mark') {
      await ready.mark();
      // Where the measured run starts on the profile's clock (microseconds, monotonic), to cut a BENCH_PROFILE to it.
      if (process.env.BENCH_PROFILE) writeFileSync(join(process.env.BENCH_PROFILE, `mark-${kind}-${process.pid}.txt`), String(process.hrtime.bigint() / 1000n));
      cpu0 = process.cpuUsage();
      calls0 = redisCalls;
      switches0 = contextSwitches();
      process.send!('marked');
    }
    if (m !== 'report') return;
    const cpu = process.cpuUsage(cpu0);
    const own = switchesSince(switches0);
    const { childCpuMs = 0, childRedisCalls = 0, childRssMb = 0, childSwitchesVoluntary = 0, childSwitchesInvoluntary = 0, ...report } = await ready.report();
    const ownCpuMs = (cpu.user + cpu.system) / 1000;
    const extra = {
      cpuMs: ownCpuMs + childCpuMs,
      primaryCpuMs: ownCpuMs,
      redisCalls: redisCalls - calls0 + childRedisCalls,
      switchesVoluntary: own.switchesVoluntary + childSwitchesVoluntary,
      switchesInvoluntary: own.switchesInvoluntary + childSwitchesInvoluntary,
      ...report,
    };
    (globalThis as { gc?: () => void }).gc?.();
    process.send!({ heapMb: process.memoryUsage().heapUsed / 1048576, rssMb: process.memoryUsage().rss / 1048576 + childRssMb, ...extra }, () =>
      process.exit(0),
    );
  });
}
