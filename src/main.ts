// Composition root: reads the configuration once, ensures services, wires the
// rest. Every start-up step is bounded: a server that does not answer stops
// the start with a message naming it, never a silent hang.
import { join } from 'node:path';
import { createApp, tryItOn } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { acceptPreviousKeys } from './crypto.js';
import { ensureIndexes } from './db.js';
import { checkFlowVersions, seedCampaigns } from './invitations/seed.js';
import { projectRoot } from './local/paths.js';
import { ensureLocalServices, FERRETDB_ON_SQLITE, LocalServiceError, localMongoUri } from './local/servers.js';
import { createLogger } from './log.js';
import { resolveKeys } from './secrets.js';

const SHUTDOWN_LIMIT_MS = 10_000;
const STEP_LIMIT_MS = 60_000;

/** Runs a start-up step, or fails with what to do. */
async function step<T>(what: string, hint: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new LocalServiceError(`start-up: ${what} did not finish within ${STEP_LIMIT_MS / 1000} s. ${hint}`)), STEP_LIMIT_MS);
      }),
    ]);
  } catch (err) {
    if (err instanceof LocalServiceError || err instanceof ConfigError) throw err;
    throw new LocalServiceError(`start-up: ${what} failed: ${(err as Error).message}. ${hint}`);
  } finally {
    clearTimeout(timer);
  }
}

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);

  const local = await ensureLocalServices({ redis: !config.redisUrl, mongo: !config.mongodbUri }, (m) => log.info(m));
  for (const s of [local.redis, local.mongo])
    if (s) log.info({ service: s.name, kind: s.kind, url: s.url, data: s.dataDir }, `${s.how} local ${s.name} (${s.kind})`);
  // FerretDB on SQLite (the local fallback when PostgreSQL cannot be had) jams with several ballots recorded at once.
  if (local.mongo?.kind === FERRETDB_ON_SQLITE && !process.env.COMPLETION_CONCURRENCY) {
    config = { ...config, completionConcurrency: 2 };
    log.warn('the local database is FerretDB on SQLite: ballots are recorded 2 at once (COMPLETION_CONCURRENCY)');
  }
  const redisUrl = config.redisUrl ?? local.redis!.url;
  const mongoUrl = config.mongodbUri ?? localMongoUri(local.mongo!);
  const mongoHint = config.mongodbUri
    ? 'Check that the server of MONGODB_URI is up and answers.'
    : 'The local database server may be hung: `npm run services:stop`, then start again.';

  const keys = resolveKeys(config, (m) => log.warn(m));
  // After a rotation the old key still reads what it sealed (until data:reencrypt).
  acceptPreviousKeys(config.previousDataEncryptionKey ? [config.previousDataEncryptionKey] : []);
  const app = await step('connecting to Redis and MongoDB', mongoHint, createApp({ config, redisUrl, mongoUrl, log, ...keys }));
  const { models } = app.db;
  if (config.role !== 'web') await step('creating the database indexes', mongoHint, ensureIndexes(models));
  await step('checking flow versions', mongoHint, checkFlowVersions(models, app.flows));
  if ((await step('reading campaigns', mongoHint, models.Campaign.countDocuments())) === 0) {
    const ids = await step('seeding campaigns', mongoHint, seedCampaigns(models, app.flows, join(projectRoot, 'campaigns')));
    log.info({ campaigns: ids }, 'empty database: seeded campaigns');
  }
  await step('loading the running campaign', mongoHint, app.applyCampaign());

  // Every role listens (a worker answers its health checks and metrics only), before any job starts.
  const addr = await step(
    `listening on ${config.host}:${config.port}`,
    'Another process may hold the port: give each process on one host its own PORT.',
    app.listen(config.port, config.host),
  );
  if (config.role !== 'web') app.startWorkers();
  if (config.role !== 'worker') {
    log.info({ role: config.role, port: addr.port, publicBaseUrl: config.publicBaseUrl }, `listening on ${addr.address}:${addr.port}`);
    const channels = app.channels.map((c) => c.name);
    log.info(
      { channels },
      `${tryItOn(config, app.channels) ? `try the survey without any account: ${config.publicBaseUrl}/try . ` : ''}officer page: ${config.publicBaseUrl}/officer (sign in with a unit key: npm run admin -- keys:create --role officer --unit PC06). ` +
        `Chat channels on: ${channels.length ? channels.join(', ') : 'none (set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET, see the README)'}`,
    );
  } else {
    log.info({ role: config.role, port: addr.port }, `workers running; health and metrics on ${addr.address}:${addr.port}`);
  }

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    app.close().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`${err instanceof LocalServiceError ? err.message : (err.stack ?? String(err))}\n`);
  process.exit(1);
});
