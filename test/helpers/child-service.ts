// `npm start`'s process (dist/src/main.js) as a child, ready when /readyz says so; killed after the test file.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { projectRoot } from '../../src/local/paths.js';
import { eventually } from './context.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** The child, and what it has logged so far (for a failure's message). */
export type ServiceProcess = ChildProcess & { output(): string };

export async function startService(port: number, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [join(projectRoot, 'dist/src/main.js')], {
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
