// One outbound job per chat at a time: the queue worker runs many jobs at once,
// and two of one chat (a reply that waited, and the one queued behind it)
// must not overtake each other.
import { KeyedLock } from '../keyed-lock.js';
import type { RedisClient } from '../redis.js';

export class ChatLock {
  private readonly lock: KeyedLock;

  /** `ttlMs`: longer than any job holds it. */
  constructor(redis: RedisClient, prefix: string, ttlMs = 60_000) {
    this.lock = new KeyedLock(redis, `${prefix}outlock:`, ttlMs);
  }

  /** `owner`: the job, whatever run of it (a job run again after its process died takes its lock back at once). */
  acquire(channel: string, chat: string, owner: string): Promise<boolean> {
    return this.lock.acquireOrResume(`${channel}:${chat}`, owner);
  }

  release(channel: string, chat: string, owner: string): Promise<void> {
    return this.lock.release(`${channel}:${chat}`, owner);
  }
}
