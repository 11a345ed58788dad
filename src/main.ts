// Composition root: reads the configuration once, ensures services, wires the rest.
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.js';
import { checkFlowVersions, seedCampaigns } from './invitations/seed.js';
import { createLogger } from './log.js';
import { resolveKeys } from './secrets.js';
import { createService } from './service.js';
import { ensureLocalServices, LocalServiceError, localMongoUri } from './services/local.js';
import { projectRoot } from './services/paths.js';

const SHUTDOWN_LIMIT_MS = 10_000;

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
    if (s) log.info({ service: s.name, kind: s.kind, url: s.url }, `${s.how} local ${s.name} (${s.kind}); data under .data/`);
  const redisUrl = config.redisUrl ?? local.redis!.url;
  const mongoUrl = config.mongodbUri ?? localMongoUri(local.mongo!);

  const keys = resolveKeys(config, (m) => log.warn(m));
  const service = await createService({ config, redisUrl, mongoUrl, log, ...keys });
  await checkFlowVersions(service.db.models, service.flows);
  if ((await service.db.models.Campaign.countDocuments()) === 0) {
    const ids = await seedCampaigns(service.db.models, service.flows, join(projectRoot, 'campaigns'));
    log.info({ campaigns: ids }, 'empty database: seeded campaigns');
  }
  await service.applyCampaign();

  if (config.role !== 'web') service.startWorkers();
  if (config.role !== 'worker') {
    const addr = await service.listen(config.port, config.host);
    log.info({ role: config.role, port: addr.port, publicBaseUrl: config.publicBaseUrl }, `listening on ${addr.address}:${addr.port}`);
  } else {
    log.info({ role: config.role }, 'workers running');
  }

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    service.close().then(
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
