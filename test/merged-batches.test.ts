import { describe, expect, it } from 'vitest';
import { MergedBatches } from '../src/merged-batches.js';

/** A writer whose writes are recorded and finish when released. */
function recording() {
  const written: number[][] = [];
  const pending: Array<() => void> = [];
  let failNext = false;
  const batches = new MergedBatches<number[]>(
    () => [],
    (batch) =>
      new Promise<void>((resolve, reject) => {
        written.push([...batch]);
        const fail = failNext;
        failNext = false;
        pending.push(() => (fail ? reject(new Error('write failed')) : resolve()));
      }),
  );
  const release = async () => {
    await new Promise((r) => setImmediate(r));
    pending.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { batches, written, release, failOnce: () => (failNext = true) };
}

describe('MergedBatches', () => {
  it('merges what is added in one turn into one write, and what arrives during a write into the next', async () => {
    const { batches, written, release } = recording();
    const a = batches.add((b) => b.push(1));
    const b = batches.add((b) => b.push(2));
    expect(a).toBe(b);
    await new Promise((r) => setImmediate(r));
    expect(written).toEqual([[1, 2]]);
    // The first write is in progress: these wait for it and go together.
    const c = batches.add((b) => b.push(3));
    batches.add((b) => b.push(4));
    expect(c).not.toBe(a);
    await release();
    await a;
    expect(written).toEqual([
      [1, 2],
      [3, 4],
    ]);
    await release();
    await c;
  });

  it('reports a failed write to the callers of that batch only', async () => {
    const { batches, release, failOnce } = recording();
    failOnce();
    const failed = batches.add((b) => b.push(1));
    await new Promise((r) => setImmediate(r));
    const next = batches.add((b) => b.push(2));
    await release();
    await expect(failed).rejects.toThrow('write failed');
    await release();
    await expect(next).resolves.toBeUndefined();
  });

  it('runs exclusive work between batches: nothing is written meanwhile, later additions after it', async () => {
    const { batches, written, release } = recording();
    const order: string[] = [];
    const first = batches.add((b) => b.push(1)).then(() => order.push('batch 1'));
    const exclusive = batches.exclusive(async () => {
      order.push('exclusive');
      expect(written).toEqual([[1]]);
    });
    const after = batches.add((b) => b.push(2)).then(() => order.push('batch 2'));
    await release();
    await exclusive;
    await release();
    await Promise.all([first, after]);
    expect(order).toEqual(['batch 1', 'exclusive', 'batch 2']);
    expect(written).toEqual([[1], [2]]);
  });

  it('with a gathering time, a batch takes what comes in that time, then the next one gathers after it is written', async () => {
    const written: number[][] = [];
    const batches = new MergedBatches<number[]>(
      () => [],
      async (b) => void written.push([...b]),
      50,
    );
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const first = batches.add((b) => b.push(1));
    await sleep(20);
    const second = batches.add((b) => b.push(2));
    await Promise.all([first, second]);
    expect(written).toEqual([[1, 2]]);
    const started = Date.now();
    await batches.add((b) => b.push(3));
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(written).toEqual([[1, 2], [3]]);
  });
});
