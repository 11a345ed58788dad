// Replies of a chat that could not go at once (a 429, a network error) wait in
// the outbound queue; the chat's later replies must queue behind them, from
// this process or any other. The mark names the chat's last queued reply job.
// The conversation store's save returns it with the save (see SAVE in
// ../conversations/store.ts), so the webhook path pays no extra round trip.
import { deleteIfValue } from '../keyed-lock.js';
import type { RedisClient } from '../redis.js';
import { chatTag } from '../slots.js';

/** The mark of a conversation (`channel:userKey`) whose replies are held in the queue. */
export const heldKey = (prefix: string, conv: string) => `${prefix}held:${chatTag(conv)}:${conv}`;

export class HeldReplies {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** Longer than a queued reply waits (retries included); a mark left by a lost job expires. */
    private readonly ttlMs = 3_600_000,
  ) {}

  /** `jobId` is now the chat's last queued reply: later replies go behind it. */
  async hold(conv: string, jobId: string): Promise<void> {
    await this.redis.set(heldKey(this.prefix, conv), jobId, 'PX', this.ttlMs);
  }

  /** The queued reply `jobId` went out (or never will): unless a later one was queued behind it, replies go direct again. */
  async release(conv: string, jobId: string): Promise<void> {
    await deleteIfValue(this.redis, heldKey(this.prefix, conv), jobId);
  }
}
