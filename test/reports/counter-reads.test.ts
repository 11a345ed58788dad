import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCounters } from '../../src/reports/counter-reads.js';
import { startTestService, type TestService } from '../helpers/context.js';

let t: TestService;

beforeAll(async () => {
  t = await startTestService({ name: 'counter_reads', workers: false, listen: false, seed: false });
});
afterAll(async () => {
  await t.service.db.conn.dropDatabase();
  await t.close();
});

describe('readCounters', () => {
  it('shares one query between identical reads in flight, and never serves a stale answer afterwards', async () => {
    const { CounterTotal: Counter } = t.service.db.models;
    const row = (n: number) => ({
      _id: `c|PC06|f|flow@1||citizen||overall|${n}`,
      campaign: 'c',
      unit: 'PC06',
      day: '',
      span: 'all',
      q: 'overall',
      value: String(n),
      n,
    });
    await Counter.create(row(1));
    const filter = { campaign: 'c', day: '' };
    const a = readCounters(t.service.db.models, filter);
    const b = readCounters(t.service.db.models, { ...filter });
    const other = readCounters(t.service.db.models, { campaign: 'c', unit: 'PC06', day: '' });
    expect(b).toBe(a);
    expect(other).not.toBe(a);
    expect((await a).map((r) => r.n)).toEqual([1]);
    // Written after the shared read answered: the next read sees it.
    await Counter.create(row(2));
    expect((await readCounters(t.service.db.models, filter)).map((r) => r.n).sort()).toEqual([1, 2]);
  });
});
