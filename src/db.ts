// One mongoose connection per process (per test file in tests) and the models bound to it.
import mongoose, { type Connection } from 'mongoose';
import { bindInvitationModels } from './invitations/models.js';
import { bindResponseModels } from './responses/models.js';

export type Models = ReturnType<typeof bindModels>;

function bindModels(conn: Connection) {
  return { ...bindInvitationModels(conn), ...bindResponseModels(conn) };
}

export interface Database {
  conn: Connection;
  models: Models;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Connects and builds indexes. `dbName` overrides the URI's database (tests use one per file). */
export async function openDatabase(uri: string, dbName?: string): Promise<Database> {
  const conn = mongoose.createConnection(uri, {
    ...(dbName ? { dbName } : {}),
    serverSelectionTimeoutMS: 5_000,
    // Fail fast while MongoDB is down instead of buffering commands in memory.
    bufferCommands: false,
    autoIndex: false,
  });
  await conn.asPromise();
  const models = bindModels(conn);
  await Promise.all(Object.values(models).map((m) => m.createIndexes()));
  return {
    conn,
    models,
    ping: async () => void (await conn.db!.admin().command({ ping: 1 })),
    close: () => conn.close(),
  };
}
