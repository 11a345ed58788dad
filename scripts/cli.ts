// Shared set-up of the command-line scripts: configuration, services, database.
import { ConfigError, loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db.js';
import { ensureLocalServices, localMongoUri } from '../src/local/servers.js';
import { createRedis, type RedisClient } from '../src/redis.js';

/** `redis`: the script writes what the service's processes write too, and takes their locks (in the service's Redis). */
export async function connectForCli(o: { redis?: boolean } = {}) {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const local = await ensureLocalServices({ redis: !!o.redis && !config.redisUrl, mongo: !config.mongodbUri });
  const db = await openDatabase(config.mongodbUri ?? localMongoUri(local.mongo!));
  const redis: RedisClient | undefined = o.redis ? createRedis(config.redisUrl ?? local.redis!.url) : undefined;
  return { config, db, redis };
}

/** `--name value` pairs after the command. */
export function flags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"`);
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) out[a.slice(2)] = 'true';
    else {
      out[a.slice(2)] = v;
      i++;
    }
  }
  return out;
}
