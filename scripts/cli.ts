// Shared set-up of the command-line scripts: configuration, services, database.
import { ConfigError, loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db.js';
import { ensureLocalServices, localMongoUri } from '../src/local/servers.js';

export async function connectForCli() {
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
  const local = await ensureLocalServices({ redis: false, mongo: !config.mongodbUri });
  const db = await openDatabase(config.mongodbUri ?? localMongoUri(local.mongo!));
  return { config, db };
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
