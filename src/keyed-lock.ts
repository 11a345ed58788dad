// A short lock per key in Redis, held across processes: taken with SET NX PX,
// kept alive by its holder while it works, released only by its owner, and
// expiring on its own if the holder dies.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from './redis.js';

const DELETE_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const EXTEND_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const TAKE_OR_RESUME = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;

/** Deletes `key` only while it still holds `value` (a lock or mark taken over by someone else stays). */
export async function deleteIfValue(redis: RedisClient, key: string, value: string): Promise<void> {
  await redis.eval(DELETE_IF, 1, key, value);
}

export class LockBusyError extends Error {
  override name = 'LockBusyError';
}

/** The holder can no longer count on its lock: it expired (Redis out of reach for too long) or another took it. */
export class LockLostError extends Error {
  override name = 'LockLostError';
}

export class KeyedLock {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** Longer than any holder keeps it; a crashed holder's lock expires. */
    private readonly ttlMs: number,
  ) {}

  async acquire(key: string, owner: string): Promise<boolean> {
    return (await this.redis.set(this.prefix + key, owner, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /**
   * Takes the lock, or keeps it when `owner` holds it already: a stable owner (a job's id) run again after its
   * process died gets its own lock back at once, where it would otherwise wait for it to expire.
   */
  async acquireOrResume(key: string, owner: string): Promise<boolean> {
    return (await this.redis.eval(TAKE_OR_RESUME, 1, this.prefix + key, owner, this.ttlMs)) === 1;
  }

  async release(key: string, owner: string): Promise<void> {
    await deleteIfValue(this.redis, this.prefix + key, owner);
  }

  /**
   * Runs `fn` holding the lock of `key`, waiting up to `waitMs` for it; throws LockBusyError after that. `lost` is
   * aborted (with a LockLostError) once the lock can no longer be counted on: a holder with several writes checks it
   * between them, so that it stops before writing alongside the next holder.
   */
  async hold<T>(key: string, fn: (lost: AbortSignal) => Promise<T>, waitMs = 5_000): Promise<T> {
    const owner = randomUUID();
    const deadline = Date.now() + waitMs;
    // When the lock's lifetime last started for sure: before the call that took or extended it.
    let confirmedAt = Date.now();
    while (!(await this.acquire(key, owner))) {
      if (Date.now() > deadline) throw new LockBusyError(`${key} is held by another writer`);
      await new Promise((r) => setTimeout(r, 20));
      confirmedAt = Date.now();
    }
    const lost = new AbortController();
    const giveUp = (why: string) => {
      clearInterval(renew);
      if (!lost.signal.aborted) lost.abort(new LockLostError(`${key}: the lock was lost while held (${why})`));
    };
    // A holder slower than the lifetime (a recount of a large campaign) keeps its lock: renewed every third of it. Not
    // confirmed for two thirds of it (Redis out of reach, a renewal still waiting), it may expire before the next
    // renewal: taken as lost, a third of the lifetime before it can expire.
    const renew = setInterval(() => {
      if (Date.now() - confirmedAt >= (2 * this.ttlMs) / 3) return giveUp('not renewed: Redis out of reach');
      const issuedAt = Date.now();
      this.redis.eval(EXTEND_IF, 1, this.prefix + key, owner, this.ttlMs).then(
        (extended) => {
          if (extended === 1) confirmedAt = Math.max(confirmedAt, issuedAt);
          else giveUp('taken over, or expired');
        },
        () => {},
      );
    }, this.ttlMs / 3);
    renew.unref();
    try {
      return await fn(lost.signal);
    } finally {
      clearInterval(renew);
      await this.release(key, owner);
    }
  }
}
