// Local servers belong to the checkout that started them: a server on the
// port that this checkout's pid file does not name is refused, not reused.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { describe, expect, inject, it } from 'vitest';
import { psql, removeOrphanedPostgresDirs } from '../../src/local/postgres.js';
import { firstCandidate } from '../../src/local/processes.js';
import { LOCAL_POSTGRES, LocalServiceError, redisAnswers, redisState, startRedis } from '../../src/local/servers.js';
import { eventually, isolation } from '../helpers/context.js';
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

  it("serve FerretDB's lookups from an index on PostgreSQL, also once its statements have run many times", async (ctx) => {
    const { dbName } = isolation('ferret_gin');
    const conn = await mongoose.createConnection(`${inject('mongoUrl')}/${dbName}`).asPromise();
    try {
      const col = conn.db!.collection('counts');
      await col.createIndex({ unit: 1, day: 1 });
      await col.insertMany(Array.from({ length: 3000 }, (_, i) => ({ unit: `U${Math.floor(i / 50)}`, day: i % 50, n: i })));
      const explained = await conn.db!.command({ explain: { find: 'counts', filter: { unit: 'U7', day: 7 } } });
      // Another server (MongoDB, FerretDB on SQLite) plans its own way.
      if (process.env.MONGODB_URI || !explained.queryPlanner?.Plan) return ctx.skip();
      expect(JSON.stringify(explained.queryPlanner.Plan)).toMatch(/"Index Name":"[^"]+_gin"/);
      // FerretDB prepares each statement once: run past the five runs after which PostgreSQL may plan without the values.
      const ids = (await col.find({ unit: 'U1' }).limit(20).toArray()).map((d) => d._id);
      for (const _id of ids) expect(await col.findOne({ _id })).not.toBeNull();
      for (let day = 0; day < 20; day++) expect(await col.findOne({ unit: 'U2', day })).toBeTruthy();
      const scans = () =>
        Number(
          psql(
            LOCAL_POSTGRES.port,
            `SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE schemaname = '${dbName}' AND indexrelname LIKE '%\\_gin'`,
            'ferretdb',
          ),
        );
      await eventually(async () => scans() >= 40, "40 lookups through FerretDB's GIN twins");
    } finally {
      await conn.dropDatabase();
      await conn.close();
    }
  });
});
