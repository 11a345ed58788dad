// Send pacing on real Redis: the takes of one turn go together and are applied in order, as if one after another.
import { describe, expect, it, vi } from 'vitest';
import { SendLimiter, SLOT_TOLERANCE_MS } from '../../src/outbound/rate-limit.js';
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
    // a goes; b waits for the global slot (100 ms, less the tolerance); a's reply (not paced) 200 ms later goes, and uses up a's spacing, so
    // a paced send to a 100 ms after that waits for it (2 s after the first).
    expect(waits).toEqual([0, -1, 100 - SLOT_TOLERANCE_MS, 0, 1700]);
  });

  it('keeps the schedule when the waiting sends wake a little late, with no burst', async () => {
    const limiter = new SendLimiter(redis, prefix, 'schedule', { globalPerSec: 10, chatIntervalMs: 1000, chatBurst: 1 });
    const start = Date.now();
    const granted: number[] = [];
    for (let t = start, chat = 0; granted.length < 21; chat++) {
      // Each send sleeps through its wait and wakes 3 ms late (a busy event loop), then asks again.
      for (let wait = await limiter.take(`c${chat}`, true, t); wait > 0; wait = await limiter.take(`c${chat}`, true, t)) t += wait + 3;
      granted.push(t);
    }
    // On schedule: the 21st slot 2 s after the first (late wake-ups pushing each slot back would make it 2.06 s).
    expect(granted.at(-1)! - start).toBeLessThanOrEqual(2_000);
    // The platform's side: 11 sends in a row never within a second, less the tolerance (no burst).
    for (let i = 10; i < granted.length; i++) expect(granted[i]! - granted[i - 10]!).toBeGreaterThanOrEqual(1_000 - SLOT_TOLERANCE_MS);
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
