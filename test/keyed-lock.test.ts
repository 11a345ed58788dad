// The Redis lock the write turns and the invitation and audit-item writers hold across processes.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { KeyedLock, LockLostError } from '../src/keyed-lock.js';
import { RedisLink } from './helpers/redis-link.js';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.disconnect());

describe('a keyed lock', () => {
  it('stays held by a holder slower than its lifetime: another writer waits until it is done', async () => {
    const prefix = `t_lock:${process.pid}:`;
    const a = new KeyedLock(redis, prefix, 300);
    const b = new KeyedLock(redis, prefix, 300);
    const order: string[] = [];
    const slow = a.hold('counters', async (lost) => {
      order.push('slow begins');
      await new Promise((r) => setTimeout(r, 1_000));
      // Renewed all along: never taken as lost.
      expect(lost.aborted).toBe(false);
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

  it("tells its holder when another took it (it expired meanwhile), and leaves the other's lock alone", async () => {
    const prefix = `t_lock:${process.pid}:taken:`;
    const lock = new KeyedLock(redis, prefix, 300);
    const reason = await lock.hold('counters', async (lost) => {
      await redis.set(`${prefix}counters`, 'another-holder', 'PX', 5_000);
      await new Promise((r) => setTimeout(r, 250));
      expect(lost.aborted).toBe(true);
      expect(() => lost.throwIfAborted()).toThrow(LockLostError);
      return lost.reason as Error;
    });
    expect(reason.message).toContain('taken over');
    expect(await redis.get(`${prefix}counters`)).toBe('another-holder');
  });

  it('tells its holder when it cannot be renewed (Redis out of reach), a third of its lifetime before it could expire', async () => {
    const link = await RedisLink.open(inject('redisUrl'));
    const through = new Redis(link.url);
    through.on('error', () => {}); // the cut, reported by the renewal
    const prefix = `t_lock:${process.pid}:unreachable:`;
    const lock = new KeyedLock(through, prefix, 600);
    const seen = await lock.hold('counters', async (lost) => {
      const t0 = Date.now();
      link.down();
      await new Promise<void>((r) => lost.addEventListener('abort', () => r()));
      const at = Date.now() - t0;
      link.restore();
      return { at, reason: lost.reason as Error };
    });
    // Renewed at 200 ms (before the cut), then not: given up at 600 ms at the latest, while the lock lives until 800 ms.
    expect(seen.at).toBeLessThan(600);
    expect(seen.reason).toBeInstanceOf(LockLostError);
    expect(seen.reason.message).toContain('Redis out of reach');
    through.disconnect();
    await link.close();
  });

  it('is taken back at once by the same owner (a job run again after its process died), never by another', async () => {
    const prefix = `t_lock:${process.pid}:resume:`;
    const lock = new KeyedLock(redis, prefix, 60_000);
    expect(await lock.acquireOrResume('telegram:42', 'job-7')).toBe(true);
    // The process sending job 7 is killed; the job runs again elsewhere: its chat is not silent until the lock expires.
    await redis.pexpire(`${prefix}telegram:42`, 5_000);
    expect(await lock.acquireOrResume('telegram:42', 'job-7')).toBe(true);
    expect(await redis.pttl(`${prefix}telegram:42`)).toBeGreaterThan(50_000);
    // Another job of the chat still waits for it.
    expect(await lock.acquireOrResume('telegram:42', 'job-8')).toBe(false);
    await lock.release('telegram:42', 'job-7');
    expect(await lock.acquireOrResume('telegram:42', 'job-8')).toBe(true);
    await lock.release('telegram:42', 'job-8');
  });
});
