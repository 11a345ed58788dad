// Batches of increments that several processes add to the same rows (report
// counters, invitation counts) take turns across processes. MongoDB's $inc is
// atomic and would not need it; FerretDB v1 runs an update as a read, then a
// replacement of the document, so two processes adding to one row at the same
// moment can lose one addition (measured: 5 to 15 of 40 lost on the campaign
// row). Within a process the batches already go one at a time (MergedBatches);
// the turn, one Redis lock per kind of row, extends that across processes. It
// costs two Redis round trips per batch, and a batch merges many additions.
//
// A writer claims what it is about to add (a ballot's counters) before its turn
// comes. The repair, in its own turn, counts claims it takes for abandoned (old
// ones) and says so here: a writer that was only slow finds its claim taken
// over when its turn comes, and leaves it out.
import type { Models } from './db.js';
import { KeyedLock } from './keyed-lock.js';
import type { RedisClient } from './redis.js';

/** How this deployment's processes take turns, and hand claims over. */
export interface WriteTurns {
  /** Runs `fn` while no other process writes rows of `kind`; `lost` is aborted if its turn may have ended (see KeyedLock). */
  hold<T>(kind: string, fn: (lost: AbortSignal) => Promise<T>): Promise<T>;
  /** Records claims on `kind` that the repair counted (in its turn). */
  takeOver(kind: string, claims: string[]): Promise<void>;
  /** Of these claims, the ones the repair counted. */
  takenOver(kind: string, claims: string[]): Promise<Set<string>>;
}

const turns = new WeakMap<Models, WriteTurns>();

/** Called once by the composition root (and by an admin script writing the same rows). */
export function shareWriteTurns(models: Models, t: WriteTurns): void {
  turns.set(models, t);
}

/** A turn that cannot be lost: a script alone on the database. */
const NEVER_LOST = new AbortController().signal;

/**
 * Runs `fn` in this process's turn for `kind` (at once where no turn is shared: a script alone on the database). A
 * writer with several writes checks `lost` between them: a turn lost is given up, its claims left to the repair.
 */
export function inTurn<T>(models: Models, kind: string, fn: (lost: AbortSignal) => Promise<T>): Promise<T> {
  const t = turns.get(models);
  return t ? t.hold(kind, fn) : fn(NEVER_LOST);
}

/** In the repair's turn: these claims are counted now, their writers must leave them out. */
export async function takeOver(models: Models, kind: string, claims: string[]): Promise<void> {
  if (claims.length) await turns.get(models)?.takeOver(kind, claims);
}

/** In a writer's turn: which of its claims the repair counted meanwhile. */
export async function takenOver(models: Models, kind: string, claims: string[]): Promise<Set<string>> {
  const t = turns.get(models);
  return t && claims.length ? t.takenOver(kind, claims) : new Set();
}

/** A claim taken over is remembered this long: far longer than a writer waits for its turn. */
const TAKEN_OVER_TTL_MS = 86_400_000;

/** Turns held as Redis locks under `${prefix}turn:`: what the service's processes and the admin scripts share. */
export function turnsThrough(redis: RedisClient, prefix: string): WriteTurns {
  // A batch may wait behind another process's, which may be slow on a loaded database: minutes before it gives up.
  const locks = new KeyedLock(redis, `${prefix}turn:`, 60_000);
  const takenKey = (kind: string) => `${prefix}taken:{turn-${kind}}`;
  return {
    hold: (kind, fn) => locks.hold(kind, fn, 120_000),
    async takeOver(kind, claims) {
      await redis
        .multi()
        .sadd(takenKey(kind), ...claims)
        .pexpire(takenKey(kind), TAKEN_OVER_TTL_MS)
        .exec();
    },
    async takenOver(kind, claims) {
      const found = await redis.smismember(takenKey(kind), ...claims);
      return new Set(claims.filter((_, i) => found[i] === 1));
    },
  };
}
