// One mongoose connection per process (per test file in tests) and the models bound to it.
import mongoose, { type Connection } from 'mongoose';
import { bindAuditModels } from './audits/models.js';
import { moveCampaignRows } from './campaign-rows.js';
import { countCollections } from './invitations/counts.js';
import { bindInvitationModels } from './invitations/models.js';
import { bindReportModels } from './reports/models.js';
import { counterCollections } from './responses/complete.js';
import { bindResponseModels } from './responses/models.js';

export type Models = ReturnType<typeof bindModels>;

function bindModels(conn: Connection) {
  return { ...bindInvitationModels(conn), ...bindResponseModels(conn), ...bindAuditModels(conn), ...bindReportModels(conn) };
}

export interface Database {
  conn: Connection;
  models: Models;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Connects (bounded by server selection). `dbName` overrides the URI's database (tests use one per file). Indexes: ensureIndexes. */
export async function openDatabase(uri: string, dbName?: string): Promise<Database> {
  const conn = mongoose.createConnection(uri, {
    ...(dbName ? { dbName } : {}),
    serverSelectionTimeoutMS: 5_000,
    // Bounded per process, so that all processes together stay under the local server's own pool.
    maxPoolSize: 32,
    // Fail fast while MongoDB is down instead of buffering commands in memory.
    bufferCommands: false,
    autoIndex: false,
  });
  await conn.asPromise();
  const models = bindModels(conn);
  return {
    conn,
    models,
    ping: async () => void (await conn.db!.admin().command({ ping: 1 })),
    close: () => conn.close(),
  };
}

/**
 * Creates the indexes of every model, one at a time: the one explicit step
 * that does it (main.ts before the workers start, `npm run db:indexes`, the
 * tests once per database). Several processes creating every index at once
 * jammed FerretDB's metadata lock; auto-indexing is off. It also brings a
 * database an earlier version wrote up to date (moveCampaignCounters,
 * flagPendingCounters).
 */
export async function ensureIndexes(models: Models, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await flagPendingCounters(models);
  // Indexes an earlier version created and the schema no longer has (case codes became unique per unit).
  for (const [model, name] of [[models.Invitation, 'campaign_1_caseCode_1']] as const) {
    await model.collection.dropIndex(name).catch(() => {}); // absent: nothing to do
  }
  await moveCampaignCounters(models);
  for (const model of Object.values(models)) {
    const left = deadline - Date.now();
    await Promise.race([
      model.createIndexes(),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`creating the indexes of ${model.collection.name} took over ${timeoutMs} ms: is the database server hung?`)),
          left,
        ).unref(),
      ),
    ]);
  }
}

/**
 * Counter claims an earlier version marked by their time only (`countersPendingAt`, indexed alone) get the flag the
 * repair now looks for, once: the old index is the sign of such a database, and goes after (a process killed in
 * between does it again at its next start).
 */
export async function flagPendingCounters(models: Models): Promise<void> {
  const { Response } = models;
  const OLD_INDEX = 'countersPendingAt_1';
  const indexes = await Response.collection.indexes().catch(() => []); // no collection yet: nothing to upgrade
  if (!indexes.some((i) => i.name === OLD_INDEX)) return;
  await Response.updateMany({ countersPendingAt: { $exists: true }, countersPending: { $exists: false } }, { $set: { countersPending: true } });
  await Response.collection.dropIndex(OLD_INDEX).catch(() => {}); // another process starting at once dropped it
}

/** Campaign rows an earlier version kept among the day rows, moved to their own collections (see moveCampaignRows). */
export async function moveCampaignCounters(models: Models): Promise<void> {
  await moveCampaignRows(counterCollections(models), ['n']);
  await moveCampaignRows(countCollections(models), ['created', 'opened', 'invalidated']);
}
