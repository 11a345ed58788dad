// Reading counter rows. Identical reads in flight at the same moment share one
// query: the dashboard asks for the campaign's rows three times at once (Mẫu 01,
// progress, the public rows), and on FerretDB each read scans the collection.
// Nothing is kept once the query has answered, so no read is ever stale.

import { readFrom } from '../campaign-rows.js';
import type { Models } from '../db.js';
import { counterCollections } from '../responses/complete.js';
import type { CounterRow } from './tally.js';

/** A counter row as stored. Shared between the callers of one read: never modify it. */
export interface StoredCounter extends CounterRow {
  unit: string;
  field: string;
  day: string;
  rtype: string;
  proc: string;
}

const inFlight = new WeakMap<Models, Map<string, Promise<readonly StoredCounter[]>>>();

export function readCounters(models: Models, filter: Record<string, unknown>): Promise<readonly StoredCounter[]> {
  let reads = inFlight.get(models);
  if (!reads) {
    reads = new Map();
    inFlight.set(models, reads);
  }
  const key = JSON.stringify(filter);
  let read = reads.get(key);
  if (!read) {
    const own = reads;
    read = readFrom(counterCollections(models), filter)
      .find(filter)
      .lean()
      .exec()
      .then((rows) => rows as unknown as StoredCounter[])
      .finally(() => own.delete(key));
    reads.set(key, read);
  }
  return read;
}
