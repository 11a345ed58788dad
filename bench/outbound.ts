// Outbound at the platform's limit: N messages to N chats through the outbound
// queue, against an emulated Telegram that enforces 30 messages/s for the bot
// and 1/s per chat (429 with retry_after beyond them), 50 ms per call. Then the
// same with 20 % of the calls failing before anything is sent (502s and dropped
// connections). Reports the achieved rate against the limit, the 429s, and
// whether every message arrived exactly once. Then again with two service
// processes sending from the same queue: the limit holds across them. The
// emulator runs in a process of its own.
//
//   npm run bench:outbound    (env: OUTBOUND_MESSAGES=10000, about 20 minutes; TELEGRAM_SEND_RATE to try another pacing)

import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ensureLocalServices } from '../src/local/servers.js';
import { deleteKeys } from '../test/helpers/redis-keys.js';
import { TelegramEmulator } from '../test/helpers/telegram-emulator.js';
import { saveResults } from './results.js';

const N = Number(process.env.OUTBOUND_MESSAGES ?? 10_000);
const LIMIT = 30;

const telegramEnv = { TELEGRAM_BOT_TOKEN: '42:BENCH', TELEGRAM_WEBHOOK_SECRET: 'bench-secret' };

interface Urls {
  redis: string;
  mongo: string;
}

/** One service instance with its queue workers, on the scenario's Redis keys and database. */
async function instance(apiRoot: string, stamp: string, urls: Urls) {
  const app = await createApp({
    config: loadConfig({
      ...telegramEnv,
      TELEGRAM_API_ROOT: apiRoot,
      ...(process.env.TELEGRAM_SEND_RATE ? { TELEGRAM_SEND_RATE: process.env.TELEGRAM_SEND_RATE } : {}),
    }),
    redisUrl: urls.redis,
    mongoUrl: urls.mongo,
    dbName: `bench_out_${stamp}`,
    prefix: `bench-out:${stamp}:`,
    pseudonymKey: 'bench-pseudonym-key-000',
    encryptionKey: Buffer.alloc(32, 1),
    log: pino({ level: 'silent' }),
  });
  app.startWorkers();
  return app;
}

/** Another service process sending from the same queue (`outbound.js worker`), until asked to exit. */
async function otherProcess(apiRoot: string, stamp: string, urls: Urls): Promise<ChildProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['worker'], {
    env: { ...process.env, BENCH_API_ROOT: apiRoot, BENCH_STAMP: stamp, BENCH_URLS: JSON.stringify(urls) },
  });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the other service process exited with ${code}`)));
  });
  return child;
}

/**
 * Telegram, emulated in a process of its own (as the real one runs elsewhere): the service's busy moments do not
 * delay its clock, which would squeeze the calls waiting in it into a burst it then counts against the limit.
 */
async function platformProcess(failureRate: number): Promise<{ child: ChildProcess; apiRoot: string }> {
  const child = fork(fileURLToPath(import.meta.url), ['platform'], { env: { ...process.env, BENCH_FAILURE_RATE: String(failureRate) } });
  const apiRoot = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { apiRoot: string }).apiRoot));
    child.once('exit', (code) => reject(new Error(`the emulator process exited with ${code}`)));
  });
  return { child, apiRoot };
}

interface PlatformReport {
  /** When each message was delivered, in order (the emulator's Date.now()). */
  delivered: number[];
  /** Messages per chat of the run's chats. */
  perChat: number[];
  tooMany: number;
}

/** Asks the emulator process; it answers the next message. */
function ask<T>(child: ChildProcess, question: { ask: 'count' } | { ask: 'report'; chats: number[] }): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(question);
  });
}

async function scenario(name: string, failureRate: number, processes: number, urls: Urls) {
  const platform = await platformProcess(failureRate);
  const stamp = String(Date.now());
  // Service processes on one Redis and database, each with its workers: the limit is shared through Redis.
  const app = await instance(platform.apiRoot, stamp, urls);
  const others = await Promise.all(Array.from({ length: processes - 1 }, () => otherProcess(platform.apiRoot, stamp, urls)));
  const chats = Array.from({ length: N }, (_, i) => 7_000_000 + i);
  for (let i = 0; i < N; i += 200) {
    await Promise.all(
      chats
        .slice(i, i + 200)
        .map((chat) => app.queues.addOutbound({ channel: 'telegram', chat: String(chat), reply: false, ops: [{ m: 'send', text: `Nhắc nhở ${chat}` }] })),
    );
  }
  const deadline = Date.now() + (N / 10) * 1000 + 60_000;
  while ((await ask<number>(platform.child, { ask: 'count' })) < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 2_000)); // anything sent twice would show now
  const { delivered, perChat, tooMany } = await ask<PlatformReport>(platform.child, { ask: 'report', chats });
  const seconds = (delivered.at(-1)! - delivered[0]!) / 1000;
  const rate = (delivered.length - 1) / seconds;
  // The margin left under the limit: the shortest time any LIMIT + 1 deliveries in a row took (under 1 s is a 429).
  let tightestMs = Number.POSITIVE_INFINITY;
  for (let i = LIMIT; i < delivered.length; i++) tightestMs = Math.min(tightestMs, delivered[i]! - delivered[i - LIMIT]!);
  await Promise.all(
    [...others, platform.child].map((child) => {
      const gone = new Promise((r) => child.once('exit', r));
      child.send('exit');
      return gone;
    }),
  );
  await app.db.conn.dropDatabase();
  await deleteKeys(urls.redis, `bench-out:${stamp}:`);
  await app.close();
  return {
    name,
    delivered: delivered.length,
    once: perChat.filter((n) => n === 1).length,
    twice: perChat.filter((n) => n > 1).length,
    missing: perChat.filter((n) => n === 0).length,
    seconds,
    rate,
    ratio: rate / LIMIT,
    tooMany,
    tightestMs,
  };
}

async function main() {
  const local = await ensureLocalServices({ redis: !process.env.REDIS_URL, mongo: !process.env.MONGODB_URI });
  const urls = { redis: process.env.REDIS_URL ?? local.redis!.url, mongo: process.env.MONGODB_URI ?? local.mongo!.url };
  const pacing = process.env.TELEGRAM_SEND_RATE ?? `${loadConfig(telegramEnv).telegram!.sendRate} (default)`;
  const lines = [
    `${new Date().toISOString().slice(0, 10)}  ${N} messages to ${N} chats; Telegram emulated at ${LIMIT}/s and 1/s per chat, 50 ms per call; TELEGRAM_SEND_RATE ${pacing}`,
  ];
  for (const [name, failureRate, processes] of [
    ['no failures', 0, 1],
    ['20 % of calls failing', 0.2, 1],
    ['two service processes', 0, 2],
  ] as const) {
    const r = await scenario(name, failureRate, processes, urls);
    lines.push(
      `${r.name.padEnd(24)} delivered ${r.delivered}/${N} (once ${r.once}, twice ${r.twice}, missing ${r.missing}) in ${r.seconds.toFixed(1)} s: ${r.rate.toFixed(1)} msg/s = ${r.ratio.toFixed(2)} of the limit; 429s ${r.tooMany}; ${LIMIT + 1} in a row took ${r.tightestMs} ms at the least`,
    );
    console.log(lines.at(-1));
  }
  saveResults('outbound', lines);
  process.exit(0);
}

async function worker() {
  const app = await instance(process.env.BENCH_API_ROOT!, process.env.BENCH_STAMP!, JSON.parse(process.env.BENCH_URLS!) as Urls);
  process.on('message', async () => {
    await app.close();
    process.exit(0);
  });
  process.send!('ready');
}

async function platform() {
  const emu = await new TelegramEmulator().start();
  emu.recordCalls = false;
  emu.latencyMs = 50;
  emu.limits = { perSecond: LIMIT, perChatPerSecond: 1 };
  emu.failureRate = Number(process.env.BENCH_FAILURE_RATE);
  const delivered: number[] = [];
  emu.on('message', () => delivered.push(Date.now()));
  process.on('message', async (m: 'exit' | { ask: 'count' } | { ask: 'report'; chats: number[] }) => {
    if (m === 'exit') {
      await emu.stop();
      process.exit(0);
    }
    if (m.ask === 'count') process.send!(delivered.length);
    else process.send!({ delivered, perChat: m.chats.map((c) => emu.chat(c).length), tooMany: emu.tooMany } satisfies PlatformReport);
  });
  process.send!({ apiRoot: emu.apiRoot });
}

const role = { worker, platform }[process.argv[2] as 'worker' | 'platform'] ?? main;
role().catch((err) => {
  console.error(err);
  process.exit(1);
});
