// Webhook hot path, side by side: this service against the common telegraf bot
// with a Redis session store (GET/SET per update, replies awaited inside the
// webhook). Both run the same citizen questionnaire against the same emulated
// Telegram (with a network latency per API call), with the same users.
//
//   npm run bench            (env: BENCH_USERS=50 BENCH_LATENCY_MS=50)
//
// Prints per-update webhook time, the time from a tap to the next question
// arriving at Telegram, throughput, Redis commands per update and heap, and the
// ratios baseline / ours.
import { join } from 'node:path';
import express from 'express';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Markup, Telegraf, session, type Context } from 'telegraf';
import { loadConfig } from '../src/config.js';
import { loadFlows } from '../src/engine/load.js';
import { seedCampaigns } from '../src/invitations/seed.js';
import { createService } from '../src/service.js';
import { ensureLocalServices } from '../src/services/local.js';
import { projectRoot } from '../src/services/paths.js';
import { type StoredMessage, TelegramEmulator, TelegramUser } from '../test/helpers/telegram-emulator.js';

const USERS = Number(process.env.BENCH_USERS ?? 50);
const LATENCY = Number(process.env.BENCH_LATENCY_MS ?? 50);
const SECRET = 'bench-secret';
const TOKEN = '42:BENCH';

interface Sample {
  webhookMs: number[];
  nextQuestionMs: number[];
  updates: number;
  wallMs: number;
  redisCommands: number;
  heapMb: number;
}

const flows = loadFlows(join(projectRoot, 'flows'));
const citizen = flows.latestOf('citizen-satisfaction');
// The questions a tapping respondent goes through (respondent type known, no low answers).
const asked = citizen.questions.filter((q) => q.type === 'choice' || q.type === 'yesno').filter((q) => q.id !== 'respondent_type');

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
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 1048576;
}

/** Every user taps through the survey as a person would: the next tap only after the next question arrived. */
async function drive(emu: TelegramEmulator, url: string, starts: string[], redis: Redis): Promise<Sample> {
  const s: Sample = { webhookMs: [], nextQuestionMs: [], updates: 0, wallMs: 0, redisCommands: 0, heapMb: 0 };
  const c0 = await commandsProcessed(redis);
  const t0 = performance.now();
  await Promise.all(
    starts.map(async (start, i) => {
      const u = new TelegramUser(emu, { url, secret: SECRET }, 900_000 + i);
      let last = 0;
      const step = async (act: () => Promise<{ status: number }>) => {
        const waiting = nextQuestion(emu, u.chatId, last);
        const a = performance.now();
        const r = await act();
        const b = performance.now();
        if (r.status !== 200) throw new Error(`webhook answered ${r.status}`);
        const m = await waiting;
        s.webhookMs.push(b - a);
        s.nextQuestionMs.push(performance.now() - a);
        s.updates++;
        last = m.message_id;
        return m;
      };
      let q = await step(() => u.send(`/start ${start}`));
      for (let k = 0; k < asked.length; k++) q = await step(() => u.tap(q.buttons.length >= 4 ? 4 : 1, q));
    }),
  );
  s.wallMs = performance.now() - t0;
  s.redisCommands = (await commandsProcessed(redis)) - c0;
  s.heapMb = heapMb();
  return s;
}

async function runOurs(emu: TelegramEmulator, redisUrl: string, mongoUrl: string, redis: Redis): Promise<Sample> {
  const config = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_WEBHOOK_SECRET: SECRET, TELEGRAM_API_ROOT: emu.apiRoot, TELEGRAM_SEND_RATE: '100000' });
  const service = await createService({ config, redisUrl, mongoUrl, dbName: `bench_${Date.now()}`, prefix: `bench:${Date.now()}:`, pseudonymKey: 'bench-pseudonym-key-000', encryptionKey: Buffer.alloc(32, 1), log: pino({ level: 'silent' }) });
  await seedCampaigns(service.db.models, service.flows, join(projectRoot, 'campaigns'));
  service.startWorkers();
  const addr = await service.listen(0);
  const tokens: string[] = [];
  for (let i = 0; i < USERS; i++) {
    tokens.push((await service.invitations.create({ caseCode: `B-${i}`, unit: 'PC06', field: 'can-cuoc', respondentType: 'citizen' }, { keyId: 'bench', role: 'admin' })).view.token);
  }
  const sample = await drive(emu, `http://127.0.0.1:${addr.port}/webhooks/telegram`, tokens, redis);
  await service.db.conn.dropDatabase();
  await service.close();
  return sample;
}

/** The common pattern: telegraf webhookCallback, session() with a Redis GET/SET store, replies awaited. */
async function runBaseline(emu: TelegramEmulator, redisUrl: string, redis: Redis): Promise<Sample> {
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
  const bot = new Telegraf<Context & { session: S }>(TOKEN, { telegram: { apiRoot: emu.apiRoot } });
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
    const data = (ctx.callbackQuery as { data: string }).data;
    const [i, n] = data.split(':').map(Number) as [number, number];
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
  const port = (server.address() as { port: number }).port;
  const tokens = Array.from({ length: USERS }, (_, i) => `b${i}`);
  const sample = await drive(emu, `http://127.0.0.1:${port}/webhooks/telegram`, tokens, redis);
  server.close();
  client.disconnect();
  return sample;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function main() {
  const local = await ensureLocalServices({ redis: !process.env.REDIS_URL, mongo: !process.env.MONGODB_URI });
  const redisUrl = process.env.REDIS_URL ?? local.redis!.url;
  const mongoUrl = process.env.MONGODB_URI ?? local.mongo!.url;
  const redis = new Redis(redisUrl);
  const emu = await new TelegramEmulator().start();
  emu.latencyMs = LATENCY;
  emu.setMaxListeners(0);

  console.log(`webhook benchmark: ${USERS} concurrent respondents x ${asked.length + 1} updates, Telegram API latency ${LATENCY} ms`);
  const baseline = await runBaseline(emu, redisUrl, redis);
  const ours = await runOurs(emu, redisUrl, mongoUrl, redis);

  const rows: Array<[string, (s: Sample) => number, string]> = [
    ['webhook time p50 (ms)', (s) => pct(s.webhookMs, 50), 'lower'],
    ['webhook time p99 (ms)', (s) => pct(s.webhookMs, 99), 'lower'],
    ['tap -> next question p50 (ms)', (s) => pct(s.nextQuestionMs, 50), 'lower'],
    ['tap -> next question p99 (ms)', (s) => pct(s.nextQuestionMs, 99), 'lower'],
    ['updates per second', (s) => s.updates / (s.wallMs / 1000), 'higher'],
    ['Redis commands per update (all)', (s) => s.redisCommands / s.updates, 'lower'],
    ['heap after run (MB)', (s) => s.heapMb, 'lower'],
  ];
  console.log(`\n${'metric'.padEnd(34)}${'baseline'.padStart(12)}${'ours'.padStart(12)}${'ratio'.padStart(10)}`);
  for (const [name, f, better] of rows) {
    const b = f(baseline);
    const o = f(ours);
    const ratio = better === 'lower' ? b / o : o / b;
    console.log(`${name.padEnd(34)}${b.toFixed(1).padStart(12)}${o.toFixed(1).padStart(12)}${`${ratio.toFixed(2)}x`.padStart(10)}`);
  }
  console.log('\nratio > 1: ours is better by that factor. Redis commands for ours include the BullMQ worker (send and completion jobs).');
  redis.disconnect();
  await emu.stop();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
