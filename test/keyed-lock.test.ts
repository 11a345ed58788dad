// The Redis lock the write turns and the invitation and audit-item writers hold across processes.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KeyedLock } from '../src/keyed-lock.js';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.disconnect());

describe('a keyed lock', () => {
  it('stays held by a holder slower than its lifetime: another writer waits until it is done', async () => {
    const prefix = `t_lock:${process.pid}:`;
    const a = new KeyedLock(redis, prefix, 300);
    const b = new KeyedLock(redis, prefix, 300);
    const order: string[] = [];
    const slow = a.hold('counters', async () => {
      order.push('slow begins');
      await new Promise((r) => setTimeout(r, 1_000));
      order.push('slow ends');
    });
    await new Promise((r) => setTimeout(r, 50));
    await b.hold('counters', async () => void order.push('other'), 5_000);
    await slow;
    expect(order).toEqual(['slow begins', 'slow ends', 'other']);
    // Released: nothing left behind.
    expect(await redis.exists(`${prefix}counters`)).toBe(0);
  });

  it('of a holder that died expires on its own', async () => {
    const prefix = `t_lock:${process.pid}:dead:`;
    const lock = new KeyedLock(redis, prefix, 300);
    await lock.acquire('counters', 'a-process-since-killed');
    const t0 = Date.now();
    await lock.hold('counters', async () => {}, 5_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
  });
});
