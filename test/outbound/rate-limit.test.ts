// Send pacing on real Redis: the takes of one turn go together and are applied in order, as if one after another.
import { describe, expect, it, vi } from 'vitest';
import { SendLimiter } from '../../src/outbound/rate-limit.js';
import { fileRedis } from '../helpers/context.js';

const { prefix, redis } = fileRedis('rate-limit');

describe('SendLimiter', () => {
  it('takes the slots asked for in one turn in order: the global rate and each chat spacing hold, an unreachable chat is refused', async () => {
    const limiter = new SendLimiter(redis, prefix, 'telegram', { globalPerSec: 10, chatIntervalMs: 1000, chatBurst: 1 });
    await limiter.markUnreachable('gone');
    const now = Date.now();
    const waits = await Promise.all([
      limiter.take('a', true, now),
      limiter.take('gone', true, now),
      limiter.take('b', true, now),
      limiter.take('a', false, now + 200),
      limiter.take('a', true, now + 300),
    ]);
    // a goes; b waits for the global slot (100 ms); a's reply (not paced) 200 ms later goes, and uses up a's spacing, so
    // a paced send to a 100 ms after that waits for it (2 s after the first).
    expect(waits).toEqual([0, -1, 100, 0, 1700]);
  });

  it("paces every process on Redis's clock: one whose clock runs a minute ahead holds no other back", async () => {
    const limits = { globalPerSec: 10, chatIntervalMs: 1000, chatBurst: 1 };
    const [ahead, onTime] = [new SendLimiter(redis, prefix, 'zalo', limits), new SendLimiter(redis, prefix, 'zalo', limits)];
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => performance.timeOrigin + performance.now() + 60_000);
    try {
      expect(await ahead.take('c', true)).toBe(0);
    } finally {
      clock.mockRestore();
    }
    const wait = await onTime.take('d', true);
    expect(wait).toBeGreaterThanOrEqual(0);
    expect(wait).toBeLessThanOrEqual(100);
  });

  it("holds a chat's paced sends for the platform's retry-after, not its replies", async () => {
    const limiter = new SendLimiter(redis, prefix, 'telegram-pause', { globalPerSec: 1000, chatIntervalMs: 10, chatBurst: 1 });
    await limiter.pause('p', 2_000);
    const [paced, reply] = [await limiter.take('p', true), await limiter.take('p', false)];
    expect(paced).toBeGreaterThan(1_800);
    expect(paced).toBeLessThanOrEqual(2_000);
    expect(reply).toBe(0);
  });
});
