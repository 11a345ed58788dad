// `npm start`'s process (dist/src/main.js) as a child, ready when /readyz says so; killed after the test file.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';
import { projectRoot } from '../../src/local/paths.js';
import { SERVICE_NODE_FLAGS } from '../../src/node-flags.js';
import { eventually, TEST_SECRET, TEST_TOKEN } from './context.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** npm start's environment for a child on the test Redis, its own database and an emulated Telegram. */
export function childEnv(dbName: string, telegramApiRoot: string): Record<string, string> {
  return {
    REDIS_URL: inject('redisUrl'),
    MONGODB_URI: `${inject('mongoUrl')}/${dbName}`,
    TELEGRAM_BOT_TOKEN: TEST_TOKEN,
    TELEGRAM_WEBHOOK_SECRET: TEST_SECRET,
    TELEGRAM_API_ROOT: telegramApiRoot,
    TELEGRAM_BOT_USERNAME: 'tthc_test_bot',
  };
}

/** The child, and what it has logged so far (for a failure's message). */
export type ServiceProcess = ChildProcess & { output(): string };

/** Ready when /readyz answers 200 (a ROLE=worker process answers its health checks too). */
export async function startService(port: number, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(projectRoot, 'dist/src/main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  await eventually(
    async () =>
      (await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        () => 0,
      )) === 200,
    `the service ready: ${log}`,
    30_000,
  );
  return Object.assign(child, { output: () => log });
}
