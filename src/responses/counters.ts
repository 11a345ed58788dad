// Recomputes report counters from the responses and compares them with the
// incremental ones; `--fix` rewrites the counters of the campaign.
import type { Models } from '../db.js';
import { counterRows } from './complete.js';

export interface CounterCheck {
  rows: number;
  mismatches: Array<{ id: string; expected: number; actual: number }>;
}

type Row = ReturnType<typeof counterRows>[number];

/** The counter rows these responses add up to, with their counts (by counter id). */
export function recount(responses: Iterable<Parameters<typeof counterRows>[0]>, into = new Map<string, { n: number; row: Row }>()) {
  for (const r of responses) {
    for (const row of counterRows(r)) {
      const cur = into.get(row._id);
      if (cur) cur.n += 1;
      else into.set(row._id, { n: 1, row });
    }
  }
  return into;
}

export async function checkCounters(models: Models, campaign: string, fix = false): Promise<CounterCheck> {
  const expected = new Map<string, { n: number; row: Row }>();
  for await (const r of models.Response.find({ campaign, status: 'valid' }).lean().cursor()) recount([r as Parameters<typeof counterRows>[0]], expected);
  const actual = new Map<string, number>();
  for (const c of await models.Counter.find({ campaign }).lean()) actual.set(String(c._id), c.n ?? 0);

  const mismatches: CounterCheck['mismatches'] = [];
  for (const id of new Set([...expected.keys(), ...actual.keys()])) {
    const e = expected.get(id)?.n ?? 0;
    const a = actual.get(id) ?? 0;
    if (e !== a) mismatches.push({ id, expected: e, actual: a });
  }
  if (fix && mismatches.length) {
    await models.Counter.bulkWrite(
      mismatches.map((m) => {
        const row = expected.get(m.id)?.row;
        return row
          ? { updateOne: { filter: { _id: m.id }, update: { $set: { ...row, n: m.expected } }, upsert: true } }
          : { deleteOne: { filter: { _id: m.id } } };
      }),
    );
    await models.Response.updateMany({ campaign, status: 'valid', countersApplied: false }, { $set: { countersApplied: true } });
  }
  return { rows: expected.size, mismatches };
}
