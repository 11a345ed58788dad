import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { clusterTarget } from '../src/redis.js';

describe('configuration', () => {
  it('starts with no variables at all, on defaults, with channels disabled and said why', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      role: 'all',
      redisUrl: undefined,
      mongodbUri: undefined,
      telegram: undefined,
      publicBaseUrl: 'http://localhost:3000',
      intakeBusyRate: 200,
      completionConcurrency: 8,
    });
    expect(c.telegramDisabledReason).toBe('TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET not set');
  });

  it('names every wrong variable and what is wrong with it', () => {
    let err: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        ROLE: 'boss',
        REDIS_URL: 'localhost:6379',
        TELEGRAM_WEBHOOK_SECRET: 'has spaces!',
        DATA_ENCRYPTION_KEY: 'short',
        INTAKE_BUSY_RATE: '-5',
        COMPLETION_CONCURRENCY: '2.5',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/PORT: .*\(got "eighty"\)/);
    expect(msg).toMatch(/ROLE: .*"web".*\(got "boss"\)/);
    expect(msg).toMatch(/REDIS_URL: must be redis:\/\/, rediss:\/\/, or redis-cluster:\/\/host:port,host:port/);
    expect(msg).toMatch(/TELEGRAM_WEBHOOK_SECRET: must be 1-256 characters/);
    expect(msg).toMatch(/DATA_ENCRYPTION_KEY: must be 32 bytes/);
    expect(msg).toMatch(/INTAKE_BUSY_RATE: must be 0 \(never\) or a positive number \(got "-5"\)/);
    expect(msg).toMatch(/COMPLETION_CONCURRENCY: must be a whole number from 1 to 64 \(got "2.5"\)/);
    // Secrets are never echoed back.
    expect(msg).not.toContain('has spaces!');
    expect(msg).not.toContain('short');
  });

  it('in production (the image sets NODE_ENV) wants its public address, the servers and the shared keys, each named', () => {
    const all = {
      NODE_ENV: 'production',
      PUBLIC_BASE_URL: 'https://khaosat.congan.example.vn',
      REDIS_URL: 'redis://redis:6379',
      MONGODB_URI: 'mongodb://mongo:27017/tthc',
      PSEUDONYM_KEY: 'a-long-enough-pseudonym-key',
      DATA_ENCRYPTION_KEY: 'ab'.repeat(32),
    };
    expect(loadConfig(all)).toMatchObject({ redisUrl: 'redis://redis:6379', mongodbUri: 'mongodb://mongo:27017/tthc' });
    const { PSEUDONYM_KEY: _p, DATA_ENCRYPTION_KEY: _d, MONGODB_URI: _m, PUBLIC_BASE_URL: _u, ...some } = all;
    const refused = () => loadConfig(some);
    expect(refused).toThrow(ConfigError);
    expect(refused).toThrow(/MONGODB_URI: must be set when NODE_ENV=production/);
    expect(refused).toThrow(/PSEUDONYM_KEY: must be set when NODE_ENV=production \(every process must pseudonymize with the same key\)/);
    expect(refused).toThrow(/DATA_ENCRYPTION_KEY: must be set when NODE_ENV=production/);
    expect(refused).toThrow(/PUBLIC_BASE_URL: must be set when NODE_ENV=production \(the links and QR codes/);
    expect(refused).not.toThrow(/REDIS_URL/);
    // Outside production every one of them stays optional (local servers, local keys).
    expect(() => loadConfig({ NODE_ENV: 'test' })).not.toThrow();
  });

  it('takes a Redis Cluster as redis-cluster://host:port,host:port, and refuses a malformed one', () => {
    expect(loadConfig({ REDIS_URL: 'redis-cluster://10.0.0.1:6379,10.0.0.2:6380' }).redisUrl).toBe('redis-cluster://10.0.0.1:6379,10.0.0.2:6380');
    expect(clusterTarget('rediss-cluster://app:p%40ss@a.example:7000,[::1]:7001')).toEqual({
      nodes: [
        { host: 'a.example', port: 7000 },
        { host: '::1', port: 7001 },
      ],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    expect(clusterTarget('redis://localhost:6379')).toBeUndefined();
    for (const bad of ['redis-cluster://a:1,b', 'redis-cluster://a:1/2', 'redis-cluster://', 'redis-cluster://a:99999']) {
      expect(() => loadConfig({ REDIS_URL: bad }), bad).toThrow(/REDIS_URL: must be redis:\/\//);
    }
  });

  it('enables Telegram only with both the token and the webhook secret', () => {
    expect(loadConfig({ TELEGRAM_BOT_TOKEN: '1:abc' }).telegramDisabledReason).toBe('TELEGRAM_WEBHOOK_SECRET not set');
    const c = loadConfig({ TELEGRAM_BOT_TOKEN: '1:abc', TELEGRAM_WEBHOOK_SECRET: 's_1', TELEGRAM_API_ROOT: 'http://127.0.0.1:9/' });
    expect(c.telegram).toMatchObject({
      token: '1:abc',
      webhookSecret: 's_1',
      apiRoot: 'http://127.0.0.1:9',
      sendRate: 29,
      chatIntervalMs: 1000,
      sendTimeoutMs: 15_000,
    });
  });

  it('accepts a 32-byte key as hex or base64', () => {
    expect(loadConfig({ DATA_ENCRYPTION_KEY: 'ab'.repeat(32) }).dataEncryptionKey).toHaveLength(32);
    expect(loadConfig({ DATA_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') }).dataEncryptionKey).toHaveLength(32);
  });
});
