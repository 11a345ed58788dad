// Keys for local runs: when PSEUDONYM_KEY / DATA_ENCRYPTION_KEY are not set,
// generate them once under .data/ so pseudonyms stay stable across restarts.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.js';
import { dataDir } from './local/paths.js';

export function resolveKeys(config: Config, warn: (m: string) => void): { pseudonymKey: string; encryptionKey: Buffer } {
  if (config.pseudonymKey && config.dataEncryptionKey) return { pseudonymKey: config.pseudonymKey, encryptionKey: config.dataEncryptionKey };
  const file = join(dataDir, 'local-keys.json');
  let local: { pseudonymKey: string; encryptionKey: string };
  if (existsSync(file)) {
    local = JSON.parse(readFileSync(file, 'utf8'));
  } else {
    local = { pseudonymKey: randomBytes(32).toString('base64url'), encryptionKey: randomBytes(32).toString('base64') };
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(local), { mode: 0o600 });
  }
  warn(`PSEUDONYM_KEY / DATA_ENCRYPTION_KEY not set: using local keys from ${file} (set both in production)`);
  return {
    pseudonymKey: config.pseudonymKey ?? local.pseudonymKey,
    encryptionKey: config.dataEncryptionKey ?? Buffer.from(local.encryptionKey, 'base64'),
  };
}
