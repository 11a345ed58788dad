// Openings are queued in batches after the webhook's answer; one that meets
// Redis out of reach is queued once Redis is back, once.
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Opening } from '../../src/queues/jobs.js';
import { OpenedBatches } from '../../src/queues/opened-batches.js';
import { Queues } from '../../src/queues/queues.js';
import { deleteKeys, isolation } from '../helpers/context.js';
import { RedisLink } from '../helpers/redis-link.js';

const { prefix } = isolation('opened_batches');
afterAll(() => deleteKeys(inject('redisUrl'), prefix));

const opening = (i: number): Opening => ({ ref: `inv-${i}`, channel: 'telegram', userKey: `chat-${i}`, at: 1_000 + i });

/** Every opening the queue holds, by job. */
async function queued(queues: Queues): Promise<Opening[][]> {
  const jobs = await queues.followUps.getJobs(['delayed', 'waiting']);
  return jobs.filter((j) => j.name === 'opened').map((j) => (j.data as { openings: Opening[] }).openings);
}

describe('openings queued in batches', () => {
  it('a burst makes a few jobs, each opening in one of them once', async () => {
    const queues = new Queues(inject('redisUrl'), `${prefix}burst:`, () => {});
    await queues.ready();
    const tracked: Promise<void>[] = [];
    const batches = new OpenedBatches(
      (b, id) => queues.addOpenings(b, id),
      (queued) => tracked.push(queued),
    );
    for (let i = 0; i < 50; i++) batches.add(opening(i));
    await Promise.all(tracked);
    const jobs = await queued(queues);
    expect(jobs.length).toBeLessThanOrEqual(2);
    expect(
      jobs
        .flat()
        .map((o) => o.ref)
        .sort(),
    ).toEqual(Array.from({ length: 50 }, (_, i) => `inv-${i}`).sort());
    await queues.close();
  });

  it('an opening that meets Redis out of reach is queued once it is back, once', async () => {
    const link = await RedisLink.open(inject('redisUrl'));
    const queues = new Queues(link.url, `${prefix}blip:`, () => {});
    await queues.ready();
    const tracked: Promise<void>[] = [];
    const batches = new OpenedBatches(
      (b, id) => queues.addOpenings(b, id),
      (queued) => tracked.push(queued),
    );
    link.down();
    setTimeout(() => link.restore(), 1_500);
    const started = Date.now();
    batches.add(opening(7));
    await Promise.all(tracked);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(await queued(queues)).toEqual([[opening(7)]]);
    await queues.close();
    await link.close();
  });
});
