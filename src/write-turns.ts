// Batches of increments that several processes add to the same rows (report
// counters, invitation counts) take turns across processes. MongoDB's $inc is
// atomic and would not need it; FerretDB v1 runs an update as a read, then a
// replacement of the document, so two processes adding to one row at the same
// moment can lose one addition (measured: 5 to 15 of 40 lost on the campaign
// row). Within a process the batches already go one at a time (MergedBatches);
// the turn, one Redis lock per kind of row, extends that across processes. It
// costs two Redis round trips per batch, and a batch merges many additions.
import type { Models } from './db.js';
import { KeyedLock } from './keyed-lock.js';
import type { RedisClient } from './redis.js';

/** Runs `fn` while no other process writes rows of `kind`. */
export type WriteTurn = <T>(kind: string, fn: () => Promise<T>) => Promise<T>;

const turns = new WeakMap<Models, WriteTurn>();

/** Called once by the composition root: how this deployment's processes take turns on `models`. */
export function shareWriteTurns(models: Models, turn: WriteTurn): void {
  turns.set(models, turn);
}

/** Runs `fn` in this process's turn for `kind` (at once where no turn is shared: a script alone on the database). */
export function inTurn<T>(models: Models, kind: string, fn: () => Promise<T>): Promise<T> {
  const turn = turns.get(models);
  return turn ? turn(kind, fn) : fn();
}

/** Turns held as Redis locks under `${prefix}turn:`: what the service's processes and the admin scripts share. */
export function turnsThrough(redis: RedisClient, prefix: string): WriteTurn {
  // A batch may wait behind another process's, which may be slow on a loaded database: minutes before it gives up.
  const locks = new KeyedLock(redis, `${prefix}turn:`, 60_000);
  return (kind, fn) => locks.hold(kind, fn, 120_000);
}
