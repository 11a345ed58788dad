// Local servers belong to the checkout that started them: a server on the
// port that this checkout's pid file does not name is refused, not reused.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeOrphanedPostgresDirs } from '../../src/local/postgres.js';
import { firstCandidate } from '../../src/local/processes.js';
import { LocalServiceError, redisAnswers, redisState, startRedis } from '../../src/local/servers.js';
import { freePort } from '../helpers/ports.js';

describe('local servers', () => {
  it('refuse a server that another checkout started on the port, and reuse their own', async () => {
    const port = await freePort();
    const mine = await startRedis({ port, dir: mkdtempSync(join(tmpdir(), 'tthc-own-')) });
    try {
      expect(mine.how).toBe('started');
      // A second checkout (another data folder) finds the port taken by a server that is not its own.
      await expect(startRedis({ port, dir: mkdtempSync(join(tmpdir(), 'tthc-other-')) })).rejects.toThrow(LocalServiceError);
      await expect(startRedis({ port, dir: mkdtempSync(join(tmpdir(), 'tthc-other-')) })).rejects.toThrow(/not start|REDIS_URL/);
      // The checkout that started it reuses it.
      const again = await startRedis({ port, dir: mine.dataDir });
      expect(again.how).toBe('reused');
      expect(await redisAnswers(port)).toBe(true);
    } finally {
      await mine.stop();
    }
  });

  it('tell a Redis still loading its data set (it answers -LOADING) from one that is down', async () => {
    // What redis-server answers while it reads a large AOF back.
    const loading = createServer((socket) => socket.on('data', () => socket.write('-LOADING Redis is loading the dataset in memory\r\n')));
    await new Promise<void>((resolve) => loading.listen(0, '127.0.0.1', resolve));
    const port = (loading.address() as { port: number }).port;
    try {
      expect(await redisState(port)).toBe('loading');
      expect(await redisAnswers(port)).toBe(false);
    } finally {
      await new Promise((resolve) => loading.close(resolve));
    }
    expect(await redisState(port)).toBe('down');
  });

  it("remove a deleted checkout's PostgreSQL folder under /var/tmp, and no other", () => {
    const parent = mkdtempSync(join(tmpdir(), 'tthc-var-'));
    const folder = (name: string, checkout?: string, pid?: number) => {
      const dir = join(parent, `tthc-postgres-${name}`);
      mkdirSync(join(dir, 'data'), { recursive: true });
      if (checkout) writeFileSync(join(dir, 'checkout'), checkout);
      if (pid) writeFileSync(join(dir, 'data', 'postmaster.pid'), `${pid}\n/data\n`);
      return dir;
    };
    const self = mkdtempSync(join(tmpdir(), 'tthc-self-'));
    const gone = folder('gone', join(parent, 'deleted-clone'));
    const goneButRunning = folder('running', join(parent, 'deleted-clone-2'), process.pid);
    const present = folder('present', mkdtempSync(join(tmpdir(), 'tthc-clone-')));
    const mine = folder('mine', self);
    const unmarked = folder('unmarked');

    expect(removeOrphanedPostgresDirs(parent, self)).toEqual([gone]);
    expect(existsSync(gone)).toBe(false);
    for (const kept of [goneButRunning, present, mine, unmarked]) expect(existsSync(kept)).toBe(true);
    expect(removeOrphanedPostgresDirs(join(parent, 'none'), self)).toEqual([]);
  });

  it('install the first alternative apt offers a version of (nginx where a release has no nginx-light)', () => {
    // apt-cache policy's output: a package apt knows without a version to install, and one it offers.
    const policy = (light: string) =>
      `nginx-light:\n  Installed: (none)\n  Candidate: ${light}\n  Version table:\n` +
      'nginx:\n  Installed: (none)\n  Candidate: 1.22.1-9+deb12u11\n  Version table:\n     1.22.1-9+deb12u11 500\n';
    expect(firstCandidate(policy('1.22.1-9+deb12u11'), ['nginx-light', 'nginx'])).toBe('nginx-light');
    expect(firstCandidate(policy('(none)'), ['nginx-light', 'nginx'])).toBe('nginx');
    // Unknown to apt (no package lists yet): nothing, so that the lists are fetched first.
    expect(firstCandidate('', ['nginx-light', 'nginx'])).toBeUndefined();
    expect(firstCandidate(policy('(none)'), ['nginx-light'])).toBeUndefined();
  });
});
