// `npm start`'s process (dist/src/main.js) as a child, ready when /readyz says so; killed after the test file.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';
import { projectRoot } from '../../src/local/paths.js';
import { SERVICE_NODE_FLAGS } from '../../src/node-flags.js';
import { TEST_SECRET, TEST_TOKEN } from './context.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** A child process of the test, killed after its file whatever failed; with what it has logged and its exit. */
export function watched(child: ChildProcess): ServiceProcess {
  children.push(child);
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => child.once('exit', (code) => resolve({ code, output: log })));
  return Object.assign(child, { output: () => log, exited });
}

/** Waits until the service answers /readyz with 200 (a ROLE=worker process too); fails with its log once it exits or times out. */
export async function untilReady(service: ServiceProcess, port: number | string, timeoutMs = 30_000): Promise<ServiceProcess> {
  const deadline = Date.now() + timeoutMs;
  const ready = () =>
    fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
  while (!(await ready())) {
    if (service.exitCode !== null || Date.now() > deadline) throw new Error(`the service is not ready (exit code ${service.exitCode}):\n${service.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return service;
}

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

/** The child, what it has logged so far (for a failure's message), and its exit. */
export type ServiceProcess = ChildProcess & { output(): string; exited: Promise<{ code: number | null; output: string }> };

/** `npm start`'s process on `port`, ready. */
export function startService(port: number, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(projectRoot, 'dist/src/main.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return untilReady(watched(child), port);
}
