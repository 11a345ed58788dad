// Per-test-file isolation: its own Redis key prefix and its own database, so
// files run in parallel and reruns start clean.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, inject } from 'vitest';
import { type App, type AppOptions, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ensureIndexes } from '../../src/db.js';
import { createApiKey, type Role } from '../../src/http/auth.js';
import { seedCampaigns } from '../../src/invitations/seed.js';
import { projectRoot } from '../../src/local/paths.js';
import { deleteKeys } from './redis-keys.js';
import { type ZaloEmulator, zaloEnv } from './zalo-emulator.js';

export { deleteKeys };

export const TEST_SECRET = 'test-webhook-secret_0123';
export const TEST_TOKEN = '123456:TEST-token_for-emulator';

export function isolation(name: string) {
  const id = `${name.replace(/\W/g, '_')}_${randomBytes(4).toString('hex')}`;
  return { prefix: `t:${id}:`, dbName: `t_${id}`.slice(0, 60) };
}

/** A Redis client for one test file under its own key prefix; after the file, its keys are deleted and the client closed. */
export function fileRedis(name: string): { prefix: string; redis: Redis } {
  const { prefix } = isolation(name);
  const redis = new Redis(inject('redisUrl'));
  afterAll(async () => {
    await deleteKeys(inject('redisUrl'), prefix);
    redis.disconnect();
  });
  return { prefix, redis };
}

export const testLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface TestServiceOptions {
  name: string;
  env?: Record<string, string>;
  telegramApiRoot?: string;
  /** Enables the Zalo channel against this emulator (with a fresh token pair unless `zaloTokens` is given). */
  zalo?: ZaloEmulator;
  zaloTokens?: { access: string; refresh: string };
  mongoUrl?: string;
  redisUrl?: string;
  workers?: boolean;
  listen?: boolean;
  seed?: boolean;
  /** The running campaign after seeding (default: the 2024 Sóc Trăng plan most tests are written against). */
  campaign?: string;
  now?: () => number;
  extra?: Partial<AppOptions>;
  /** Another process of the same deployment: its Redis prefix and database (already seeded). */
  sameAs?: TestService;
}

export interface TestService {
  service: App;
  baseUrl: string;
  prefix: string;
  dbName: string;
  key(role: Role, unit?: string, subUnits?: boolean): Promise<string>;
  close(): Promise<void>;
}

export async function startTestService(o: TestServiceOptions): Promise<TestService> {
  const { prefix, dbName } = o.sameAs ?? isolation(o.name);
  const redisUrl = o.redisUrl ?? inject('redisUrl');
  const mongoUrl = o.mongoUrl ?? inject('mongoUrl');
  const config = loadConfig({
    PUBLIC_BASE_URL: 'http://survey.test',
    ...(o.telegramApiRoot
      ? {
          TELEGRAM_BOT_TOKEN: TEST_TOKEN,
          TELEGRAM_WEBHOOK_SECRET: TEST_SECRET,
          TELEGRAM_BOT_USERNAME: 'tthc_test_bot',
          TELEGRAM_API_ROOT: o.telegramApiRoot,
          TELEGRAM_SEND_RATE: '1000',
        }
      : {}),
    ...(o.zalo ? zaloEnv(o.zalo, o.zaloTokens ?? o.zalo.issuePair()) : {}),
    ...o.env,
  });
  const service = await createApp({
    config,
    redisUrl,
    mongoUrl,
    dbName,
    prefix,
    pseudonymKey: 'test-pseudonym-key-0123456789',
    encryptionKey: Buffer.alloc(32, 7),
    log: testLog,
    ...(o.now ? { now: o.now } : {}),
    ...o.extra,
  });
  await ensureIndexes(service.db.models);
  if (o.seed !== false && !o.sameAs) await seedCampaigns(service.db.models, service.flows, join(projectRoot, 'campaigns'), o.campaign ?? 'soc-trang-2024');
  if (o.workers !== false) service.startWorkers();
  const addr = o.listen === false ? undefined : await service.listen(0);
  return {
    service,
    prefix,
    dbName,
    baseUrl: addr ? `http://127.0.0.1:${addr.port}` : '',
    key: async (role, unit, subUnits) => (await createApiKey(service.db.models, role, unit, undefined, subUnits)).key,
    async close() {
      await service.db.conn.dropDatabase().catch(() => {});
      await deleteKeys(redisUrl, prefix);
      await service.close();
    },
  };
}

/** JSON over HTTP with an API key. */
export async function api(baseUrl: string, key: string | undefined, method: string, path: string, body?: unknown) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}

export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
