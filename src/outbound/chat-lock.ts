// One outbound job per chat at a time: the queue worker runs many jobs at once,
// and two of one chat (a reply that waited, and the one queued behind it)
// must not overtake each other.
import type { RedisClient } from '../redis.js';

const DELETE_IF = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Deletes `key` only while it still holds `value` (a lock or mark taken over by someone else stays). */
export async function deleteIfValue(redis: RedisClient, key: string, value: string): Promise<void> {
  await redis.eval(DELETE_IF, 1, key, value);
}

export class ChatLock {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** Longer than any job holds it; a crashed holder's lock expires. */
    private readonly ttlMs = 60_000,
  ) {}

  private key(channel: string, chat: string) {
    return `${this.prefix}outlock:${channel}:${chat}`;
  }

  async acquire(channel: string, chat: string, owner: string): Promise<boolean> {
    return (await this.redis.set(this.key(channel, chat), owner, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  async release(channel: string, chat: string, owner: string): Promise<void> {
    await deleteIfValue(this.redis, this.key(channel, chat), owner);
  }
}
