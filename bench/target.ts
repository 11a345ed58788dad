// One server under test, in its own process so that the load generator and the
// emulated Telegram do not share its event loop. Started by bench/webhook.ts:
//   node dist/bench/target.js ours|zalo|baseline   (config in BENCH_* variables, IPC to the parent)
// "ours" takes Telegram traffic, "zalo" the same service taking signed Zalo OA events.
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
import { projectRoot } from '../src/local/paths.js';

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
  starts: string[];
  createMs?: number[];
  report: () => Promise<Record<string, number>>;
}

async function ours(channel: 'telegram' | 'zalo'): Promise<Ready> {
  const config = loadConfig(
    channel === 'telegram'
      ? { TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: SECRET, TELEGRAM_API_ROOT: apiRoot, TELEGRAM_SEND_RATE: '100000' }
      : (JSON.parse(env('BENCH_ZALO_ENV')) as Record<string, string>),
  );
  const stamp = Date.now();
  const service = await createApp({
    config,
    redisUrl,
    mongoUrl: env('BENCH_MONGO_URL'),
    dbName: `bench_${stamp}`,
    prefix: `bench:${stamp}:`,
    pseudonymKey: 'bench-pseudonym-key-000',
    encryptionKey: Buffer.alloc(32, 1),
    log: pino({ level: 'silent' }),
  });
  await ensureIndexes(service.db.models);
  await seedCampaigns(service.db.models, service.flows, join(projectRoot, 'campaigns'), CAMPAIGN);
  service.startWorkers();
  const { port } = await service.listen(0);
  const starts: string[] = [];
  const createMs: number[] = [];
  for (let i = 0; i < users; i++) {
    const t0 = performance.now();
    const { view } = await service.invitations.create(
      { caseCode: `B-${i}`, unit: 'PC06', field: 'can-cuoc', respondentType: 'citizen' },
      { keyId: 'bench', role: 'admin' },
    );
    createMs.push(performance.now() - t0);
    // A Telegram respondent opens the deep link (/start <token>); a Zalo one sends the code from the slip.
    starts.push(channel === 'telegram' ? view.token : view.code);
  }
  return {
    port,
    starts,
    createMs,
    report: async () => {
      // How long the records (responses, counters) lag behind the conversations: the completion queue drains.
      const t0 = performance.now();
      for (;;) {
        const c = await service.queues.completion.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if (Object.values(c).every((n) => n === 0)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const drainMs = performance.now() - t0;
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const sum = Number(new RegExp(`webhook_handle_seconds_sum\\{channel="${channel}"\\} ([\\d.e-]+)`).exec(metrics)?.[1]);
      const count = Number(new RegExp(`webhook_handle_seconds_count\\{channel="${channel}"\\} (\\d+)`).exec(metrics)?.[1]);
      await service.db.conn.dropDatabase();
      return { runnerMeanMs: (sum / count) * 1000, drainMs };
    },
  };
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
  return { port: (server.address() as { port: number }).port, starts: Array.from({ length: users }, (_, i) => `b${i}`), report: async () => ({}) };
}

// Counts the commands this process sends to Redis (each a round trip or part of a pipeline), BullMQ's included.
let redisCalls = 0;
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<typeof sendCommand>) {
  redisCalls++;
  return sendCommand.apply(this, args);
};

if (process.argv[2]) {
  const kind = process.argv[2];
  const ready = await (kind === 'baseline' ? baseline() : ours(kind === 'zalo' ? 'zalo' : 'telegram'));
  const cpu0 = process.cpuUsage();
  const calls0 = redisCalls;
  process.send!({ port: ready.port, starts: ready.starts, createMs: ready.createMs });
  process.on('message', async (m) => {
    if (m !== 'report') return;
    const cpu = process.cpuUsage(cpu0);
    const extra = { cpuMs: (cpu.user + cpu.system) / 1000, redisCalls: redisCalls - calls0, ...(await ready.report()) };
    (globalThis as { gc?: () => void }).gc?.();
    process.send!({ heapMb: process.memoryUsage().heapUsed / 1048576, rssMb: process.memoryUsage().rss / 1048576, ...extra }, () => process.exit(0));
  });
}
