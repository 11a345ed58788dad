// Count rows kept in two collections: a campaign's rows (span 'all') apart
// from its day and month rows, so that a whole-campaign report reads them
// without going through the others. The report counters (counters,
// counter_totals) and the invitation counts (invitation_counts,
// invitation_count_totals) are kept this way; this is what they share: where a
// row belongs, reading a campaign's rows with where each one is, repairing
// them, and moving the campaign rows an earlier version kept among the others.
import type { AnyBulkWriteOperation, Model } from 'mongoose';

export interface SplitRows {
  /** The day and month rows. */
  spans: Model<any>;
  /** The campaign's rows (span 'all'). */
  totals: Model<any>;
}

/** The collection a row of `span` belongs in. */
export const placeOf = (c: SplitRows, span: string | null | undefined) => (span === 'all' ? c.totals : c.spans);

/** The collection a report's filter reads: the whole campaign's rows (day '') are the totals. */
export const readFrom = (c: SplitRows, filter: object) => ('day' in filter && filter.day === '' ? c.totals : c.spans);

/** The two collections, in the order their rows are written and read. */
const both = (c: SplitRows) => [c.spans, c.totals];

/** Writes rows to their collections, both at once (no row is in both). */
export async function writeSplit<T>(
  c: SplitRows,
  rows: T[],
  spanOf: (row: T) => string | null | undefined,
  write: (model: Model<any>, rows: T[]) => Promise<unknown>,
) {
  await Promise.all(
    both(c).map((model) => {
      const mine = rows.filter((r) => placeOf(c, spanOf(r)) === model);
      return mine.length ? write(model, mine) : undefined;
    }),
  );
}

/** A campaign's stored rows: where each one is, and those in the right collection (a misplaced one counts as missing). */
export async function readSplit<T extends { _id: unknown; span?: string | null }>(c: SplitRows, campaign: string) {
  const where = new Map<string, Model<any>>();
  const placed = new Map<string, T>();
  for (const model of both(c)) {
    for (const row of (await model.find({ campaign }).lean()) as T[]) {
      where.set(String(row._id), model);
      if (placeOf(c, row.span) === model) placed.set(String(row._id), row);
    }
  }
  return { where, placed };
}

/**
 * Repairs the rows `ids`: each one set to what `expected` says in the collection it belongs in, or deleted where it
 * is when it should not exist; a misplaced row is deleted from the wrong collection and set in the right one.
 */
export async function repairSplit(
  c: SplitRows,
  ids: string[],
  where: ReadonlyMap<string, Model<any>>,
  expected: (id: string) => { span?: string | null; set: Record<string, unknown> } | undefined,
) {
  for (const model of both(c)) {
    const ops = ids.flatMap((id): AnyBulkWriteOperation[] => {
      const e = expected(id);
      if (e && placeOf(c, e.span) === model) return [{ updateOne: { filter: { _id: id }, update: { $set: e.set }, upsert: true } }];
      return where.get(id) === model ? [{ deleteOne: { filter: { _id: id } } }] : [];
    });
    if (ops.length) await model.bulkWrite(ops);
  }
}

/**
 * Campaign rows an earlier version kept among the day rows move to their own
 * collection, each claimed by deleting it (of processes starting together,
 * only the one whose delete removed the row moves it; FerretDB's
 * findOneAndDelete can hand one row to both) and its `counts` added to what may
 * already be counted there. A process stopped in between loses that row's
 * counts: `counters:check --fix` recounts them.
 */
export async function moveCampaignRows(c: SplitRows, counts: readonly string[]): Promise<void> {
  for (const row of (await c.spans.find({ span: 'all' }).lean()) as Array<Record<string, unknown>>) {
    const { _id, ...fields } = row;
    if ((await c.spans.deleteOne({ _id })).deletedCount !== 1) continue;
    const inc = Object.fromEntries(counts.map((k) => [k, Number(fields[k] ?? 0)]));
    for (const k of counts) delete fields[k];
    await c.totals.updateOne({ _id }, { $setOnInsert: fields, $inc: inc }, { upsert: true });
  }
}
