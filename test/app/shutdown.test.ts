// npm start's process: serves readiness, and SIGTERM shuts it down in order within 10 s.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../../src/db.js';
import { createApiKey } from '../../src/http/auth.js';
import { projectRoot } from '../../src/local/paths.js';
import { isolation } from '../helpers/context.js';
import { freePort } from '../helpers/ports.js';

describe('the service process', () => {
  it('answers /readyz and exits cleanly on SIGTERM within 10 s', async () => {
    const port = await freePort();
    const { dbName } = isolation('shutdown');
    const child = spawn(process.execPath, [join(projectRoot, 'dist/src/main.js')], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: inject('redisUrl'),
        MONGODB_URI: `${inject('mongoUrl')}/${dbName}`,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

    const deadline = Date.now() + 20_000;
    let ready = 0;
    while (Date.now() < deadline && ready !== 200) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready, log).toBe(200);
    expect(log).toContain('seeded campaigns');
    expect(log).toMatch(/"campaign":"can-tho-2025","sessionTtlDays":7,"msg":"running campaign"/);
    expect(log).not.toContain('started local'); // REDIS_URL and MONGODB_URI given: it starts nothing
    // What a newcomer needs is in the start log: the officer page, how to get a key, the channels, and that the running campaign is over.
    expect(log).toContain('officer page: http://localhost:3000/officer');
    expect(log).toContain('npm run admin -- keys:create --role officer');
    expect(log).toContain('Chat channels on: none');
    expect(log).toContain('try the survey without any account: http://localhost:3000/try');
    expect(log).toContain('ended on 2025-12-15');

    // On an empty database it serves the seeded campaign with the newest period.
    const db = await openDatabase(`${inject('mongoUrl')}/${dbName}`);
    const { key } = await createApiKey(db.models, 'officer', 'PC06');
    const current = await fetch(`http://127.0.0.1:${port}/api/campaigns/current`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await current.json()) as { id: string }).id).toBe('can-tho-2025');
    await db.conn.dropDatabase();
    await db.close();

    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect(code, log).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(log).toMatch(/shutting down[\s\S]*service closed/);
  }, 40_000);

  it('refuses to start with a bad variable and names it', async () => {
    const child = spawn(process.execPath, [join(projectRoot, 'dist/src/main.js')], { env: { ...process.env, PORT: 'x' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(2);
    expect(err).toMatch(/invalid configuration:\n\s+- PORT: /);
  });
});
