import type { RedisClient } from '../redis.js';
import { chatTag } from '../slots.js';

/** Locks a chat user out after too many wrong survey codes (brute-force guard). */
export class GuessLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly opts = { maxWrong: 5, windowSec: 600, lockSec: 900 },
  ) {}

  private keys(who: string) {
    // One slot for both (they change in one transaction): the tag of the chat, as `who` is one.
    const tag = chatTag(who);
    return { count: `${this.prefix}guess:${tag}:${who}`, lock: `${this.prefix}guess-lock:${tag}:${who}` };
  }

  /** The key that exists while `who` is locked out (its TTL is what is left). */
  lockKey(who: string) {
    return this.keys(who).lock;
  }

  /** Counts a wrong code; returns the lock-out minutes if this one locked the user out. */
  async wrong(who: string): Promise<number> {
    const k = this.keys(who);
    const [[, n]] = (await this.redis.multi().incr(k.count).expire(k.count, this.opts.windowSec, 'NX').exec()) as [[null, number]];
    if (n < this.opts.maxWrong) return 0;
    await this.redis.multi().set(k.lock, '1', 'EX', this.opts.lockSec).del(k.count).exec();
    return Math.ceil(this.opts.lockSec / 60);
  }

  /**
   * Counts one code typed from a client address (right or wrong: a page that
   * drops its cookie starts as a new browser, the address stays). Returns
   * false beyond `max` in the window. Generous: many citizens share an
   * address behind a carrier's NAT.
   */
  async attemptFrom(address: string, max = 60, windowSec = 600): Promise<boolean> {
    const key = `${this.prefix}code-tries:${address}`;
    const [[, n]] = (await this.redis.multi().incr(key).expire(key, windowSec, 'NX').exec()) as [[null, number]];
    return n <= max;
  }
}
