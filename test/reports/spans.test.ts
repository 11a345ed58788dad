// Counters over a date range: whatever the range, the day, month and campaign
// rows it reads add up to exactly the ballots completed in it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCounters } from '../../src/reports/counter-reads.js';
import { countersCovering } from '../../src/reports/spans.js';
import { addCounterRows, type CountedResponse, counterRows } from '../../src/responses/complete.js';
import { startTestService, type TestService } from '../helpers/context.js';

let t: TestService;
beforeAll(async () => {
  t = await startTestService({ name: 'spans', listen: false });
});
afterAll(() => t.close());

const day = (n: number) => new Date(Date.UTC(2024, 0, 20) + n * 86_400_000).toISOString().slice(0, 10);
/** One ballot a day from 2024-01-20 to 2024-04-18 (three month ends and a leap day inside), each answering one question. */
const ballots: CountedResponse[] = Array.from({ length: 90 }, (_, i) => ({
  campaign: 'spans',
  unit: 'PC06',
  field: 'can-cuoc',
  flow: 'citizen-satisfaction',
  flowVersion: 1,
  day: day(i),
  rtype: 'citizen',
  completedAt: new Date(),
  answers: [{ q: 'overall', value: 5, label: 'Rất hài lòng' }],
}));

describe('counters covering a date range', () => {
  it.each([
    [undefined, undefined],
    ['2024-02-01', '2024-02-29'],
    ['2024-02-01', '2024-03-31'],
    ['2024-02-10', '2024-02-20'],
    ['2024-01-25', '2024-03-05'],
    ['2024-01-31', '2024-02-01'],
    ['2024-02-29', '2024-03-01'],
    ['2024-03-01', undefined],
    ['2024-03-02', undefined],
    [undefined, '2024-02-29'],
    [undefined, '2024-02-28'],
    ['2023-12-01', '2024-12-31'],
    ['2024-05-01', '2024-05-31'],
    ['2024-04-18', '2024-04-18'],
  ])('from %s to %s: the rows read add up to the ballots of those days, each counted once', async (from, to) => {
    const { Counter } = t.service.db.models;
    if ((await Counter.countDocuments({ campaign: 'spans' })) === 0) await addCounterRows(t.service.db.models, ballots.flatMap(counterRows), 1);
    const rows = await readCounters(t.service.db.models, { campaign: 'spans', ...countersCovering(from, to) });
    const expected = ballots.filter((b) => (!from || b.day! >= from) && (!to || b.day! <= to)).length;
    expect(rows.reduce((n, r) => n + (r.n ?? 0), 0)).toBe(expected);
  });

  it('reads whole months as one row each, and the whole campaign as one', async () => {
    const read = async (from?: string, to?: string) => (await readCounters(t.service.db.models, { campaign: 'spans', ...countersCovering(from, to) })).length;
    expect(await read()).toBe(1);
    expect(await read('2024-02-01', '2024-03-31')).toBe(2);
    expect(await read('2024-01-30', '2024-04-01')).toBe(2 + 2 + 1);
  });
});
