// Starts the local Redis and MongoDB-compatible server that `npm start` and
// `npm test` use when REDIS_URL / MONGODB_URI are not given: redis-server, and
// mongod when it is on PATH, else FerretDB on PostgreSQL (SQLite when
// PostgreSQL cannot be had). They belong to this checkout: their ports are
// derived from its path, their data is under its .data/, and a server is
// reused only when this checkout's pid file names it. A server is probed with
// a real command and a timeout; a hung server that we started is restarted.
// PostgreSQL lives in postgres.ts, pid files and probes in processes.ts.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { dataDir, projectRoot } from './paths.js';
import { indexFerretTables, startPostgres, stopPostgres } from './postgres.js';
import { aptInstall, isRoot, LocalServiceError, onPath, ours, refuseForeign, type Say, stopPid, tcpProbe, waitFor } from './processes.js';

export { LocalServiceError };

/** Ports of this checkout: a second clone on the same machine gets its own servers. */
export const OFFSET = createHash('sha256').update(projectRoot).digest().readUInt16BE(0) % 200;
export const DEFAULT_REDIS_PORT = 16_400 + OFFSET;
export const DEFAULT_MONGO_PORT = 27_200 + OFFSET;
export const DEFAULT_POSTGRES_PORT = 15_400 + OFFSET;

export interface ServiceHandle {
  name: 'redis' | 'mongodb';
  url: string;
  /** started: we launched it now; reused: it was already running; restarted: it was hung and we started it again. */
  how: 'started' | 'reused' | 'restarted';
  kind: string;
  pidFile: string;
  /** Where its data lives. */
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * What Redis answers PING within the timeout: ready, loading (it answers -LOADING while it reads its AOF back, which
 * takes seconds per gigabyte), or nothing.
 */
export async function redisState(port: number, timeoutMs = 1_000): Promise<'ready' | 'loading' | 'down'> {
  const reply = await tcpProbe(port, timeoutMs, 'PING\r\n');
  return reply?.startsWith('+PONG') ? 'ready' : reply?.startsWith('-LOADING') ? 'loading' : 'down';
}

/** Redis answers PING within the timeout. */
export const redisAnswers = async (port: number, timeoutMs = 1_000) => (await redisState(port, timeoutMs)) === 'ready';

/** How long a local Redis may take to read its data set back before it counts as hung. */
const REDIS_LOADING_MS = 300_000;

/** The MongoDB-compatible server answers a real `ping` command within the timeout (a TCP accept is not enough: a hung FerretDB accepts). */
export async function mongoAnswers(port: number, timeoutMs = 3_000): Promise<boolean> {
  const client = new mongoose.mongo.MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    socketTimeoutMS: timeoutMs,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.db('admin').command({ ping: 1 });
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    void client.close(true).catch(() => {});
  }
}

function ensureRedisBinary(say: Say): string {
  const found = onPath('redis-server');
  if (found) return found;
  if (!isRoot()) throw new LocalServiceError('redis-server is not installed. Install it (sudo apt-get install -y redis-server) or set REDIS_URL.');
  aptInstall('redis-server', say);
  const installed = onPath('redis-server');
  if (!installed) throw new LocalServiceError('apt-get install redis-server did not put redis-server on PATH; set REDIS_URL');
  return installed;
}

export interface StartOptions {
  port: number;
  /** A Redis Cluster node (see redis-cluster.ts). */
  cluster?: boolean;
  /** A cluster node's `cluster-node-timeout`: how long a silent node takes to be declared failed (default 5000). */
  clusterNodeTimeoutMs?: number;
  /** Folder for data, pid and log files. */
  dir: string;
  say?: Say;
}

/** Starts (or reuses, when this checkout's pid file names it and it answers) a redis-server on 127.0.0.1. */
export async function startRedis({ port, dir, cluster = false, clusterNodeTimeoutMs = 5000, say = () => {} }: StartOptions): Promise<ServiceHandle> {
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'redis.pid');
  const logFile = join(dir, 'redis.log');
  const handle = (how: ServiceHandle['how']): ServiceHandle => ({
    name: 'redis',
    url: `redis://127.0.0.1:${port}`,
    how,
    kind: 'redis-server',
    pidFile,
    dataDir: dir,
    stop: async () => void (await stopPid(pidFile)),
  });
  /** A Redis reading its data set back answers, but not yet PONG: it is waited for, not restarted. */
  const loaded = async () => {
    say(`redis-server on port ${port} is loading its data set (${logFile}); waiting`);
    await waitFor(() => redisAnswers(port), REDIS_LOADING_MS, `redis-server on port ${port} (loading its data set)`, logFile);
  };
  let how: ServiceHandle['how'] = 'started';
  if (ours(pidFile)) {
    const state = await redisState(port);
    if (state === 'loading') await loaded();
    if (state !== 'down') return handle('reused');
    say(`redis-server (pid file ${pidFile}) does not answer PING: restarting it`);
    await stopPid(pidFile);
    how = 'restarted';
  }
  await refuseForeign(port, pidFile, 'redis-server');
  const bin = ensureRedisBinary(say);
  // noeviction: BullMQ loses jobs under any eviction policy. AOF: queued work survives a restart.
  execFileSync(bin, [
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'yes'],
    ...['--pidfile', pidFile, '--logfile', logFile, '--maxmemory-policy', 'noeviction', '--appendonly', 'yes', '--save', ''],
    ...(cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(clusterNodeTimeoutMs)] : []),
  ]);
  await waitFor(async () => (await redisState(port)) !== 'down', 10_000, `redis-server on port ${port}`, logFile);
  if ((await redisState(port)) === 'loading') await loaded();
  return handle(how);
}

/** Builds the FerretDB wrapper in scripts/ferretdb with Go (once per version of its sources; cached under .data/bin). */
export function ensureFerretBinary(say: Say): string {
  const src = join(projectRoot, 'scripts', 'ferretdb');
  const version = createHash('sha256')
    .update(['main.go', 'go.mod', 'go.sum'].map((f) => readFileSync(join(src, f), 'utf8')).join('\0'))
    .digest('hex')
    .slice(0, 10);
  const bin = join(dataDir, 'bin', `ferretdb-local-${version}`);
  if (existsSync(bin)) return bin;
  const go = onPath('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) {
    throw new LocalServiceError(
      'No MongoDB-compatible server: mongod is not on PATH and Go is not installed to build FerretDB. ' +
        'Either install MongoDB 7+ (mongod on PATH), set MONGODB_URI to a running server, or install Go 1.22+ ' +
        '(https://go.dev/doc/install) so FerretDB v1.24.2 can be built.',
    );
  }
  say('building FerretDB v1.24.2 with Go (first run only, about 1-3 minutes)');
  mkdirSync(join(dataDir, 'bin'), { recursive: true });
  try {
    execFileSync(go, ['build', '-o', bin, '.'], { cwd: src, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CGO_ENABLED: '0' } });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    throw new LocalServiceError(`building FerretDB failed:\n${stderr.slice(-2000)}`);
  }
  return bin;
}

export interface MongoOptions extends StartOptions {
  /** FerretDB's storage: the PostgreSQL of this folder on this port, started or reused (SQLite when PostgreSQL cannot be had); without it, SQLite. */
  postgres?: { port: number; dir: string };
}

/** The kind of the local fallback database server, when PostgreSQL cannot be had. */
export const FERRETDB_ON_SQLITE = 'ferretdb on sqlite';
const FERRETDB_ON_POSTGRESQL = 'ferretdb on postgresql';

/** The checkout's PostgreSQL under FerretDB; a test's private FerretDB may share it (its own databases, its own outages). */
export const LOCAL_POSTGRES = { port: DEFAULT_POSTGRES_PORT, dir: join(dataDir, 'mongo', 'postgres') };

/** Starts (or reuses) mongod when on PATH, otherwise FerretDB on PostgreSQL (or SQLite). */
export async function startMongo({ port, dir, say = () => {}, postgres: storage }: MongoOptions): Promise<ServiceHandle> {
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'mongo.pid');
  const logFile = join(dir, 'mongo.log');
  const kindFile = join(dir, 'mongo.kind');
  const handle = (how: ServiceHandle['how'], kind: string, data: string): ServiceHandle => ({
    name: 'mongodb',
    url: `mongodb://127.0.0.1:${port}`,
    how,
    kind,
    pidFile,
    dataDir: data,
    stop: async () => void (await stopPid(pidFile)),
  });
  const recorded = () => (existsSync(kindFile) ? JSON.parse(readFileSync(kindFile, 'utf8')) : { kind: 'unknown', data: dir });
  let how: ServiceHandle['how'] = 'started';
  if (ours(pidFile)) {
    if (await mongoAnswers(port)) {
      const { kind, data } = recorded();
      if (kind === FERRETDB_ON_POSTGRESQL && storage) indexFerretTables(storage.port, say); // data of an earlier version
      return handle('reused', kind, data);
    }
    say(`the local database server (pid file ${pidFile}) does not answer ping within 3 s: it is hung; restarting it`);
    await stopPid(pidFile, 2_000);
    how = 'restarted';
  }
  await refuseForeign(port, pidFile, 'MongoDB-compatible server');

  let cmd: string;
  let args: string[];
  let kind: string;
  let data: string;
  const mongod = onPath('mongod');
  const postgres = !mongod && storage ? await startPostgres(storage.port, storage.dir, say) : undefined;
  if (mongod) {
    data = join(dir, 'mongod');
    mkdirSync(data, { recursive: true });
    [cmd, args, kind] = [mongod, ['--dbpath', data, '--port', String(port), '--bind_ip', '127.0.0.1'], 'mongod'];
  } else if (postgres) {
    data = postgres.dataDir;
    [cmd, args, kind] = [
      ensureFerretBinary(say),
      ['-listen-addr', `127.0.0.1:${port}`, '-handler', 'postgresql', '-postgresql-url', postgres.url, '-log-level', 'warn'],
      FERRETDB_ON_POSTGRESQL,
    ];
  } else {
    data = join(dir, 'ferretdb');
    mkdirSync(data, { recursive: true });
    [cmd, args, kind] = [
      ensureFerretBinary(say),
      ['-listen-addr', `127.0.0.1:${port}`, '-handler', 'sqlite', '-sqlite-url', `file:${data}/`, '-log-level', 'warn'],
      FERRETDB_ON_SQLITE,
    ];
  }
  const out = openSync(logFile, 'a');
  // Detached with its own log file: it outlives this process and holds no pipe of ours.
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  if (child.pid === undefined) throw new LocalServiceError(`could not spawn ${cmd}`);
  writeFileSync(pidFile, String(child.pid));
  writeFileSync(kindFile, JSON.stringify({ kind, data }));
  child.unref();
  await waitFor(() => mongoAnswers(port, 1_000), 30_000, `${kind} on port ${port}`, logFile);
  return handle(how, kind, data);
}

/** The database `npm start` and the scripts use on the local MongoDB-compatible server. */
export const localMongoUri = (mongo: ServiceHandle) => `${mongo.url}/tthc`;

/** The default local services of `npm start` / `npm test`, under .data/. */
export async function ensureLocalServices(need: { redis: boolean; mongo: boolean }, say: Say = () => {}) {
  const result: { redis?: ServiceHandle; mongo?: ServiceHandle } = {};
  // Both given (as in the image, whose working folder its user cannot write): nothing local, no folder.
  if (!need.redis && !need.mongo) return result;
  mkdirSync(dataDir, { recursive: true });
  // The data folder is this checkout's; make it reachable (not writable) by the postgres user.
  if (isRoot() && (statSync(dataDir).mode & 0o005) !== 0o005) chmodSync(dataDir, 0o755);
  if (need.redis) result.redis = await startRedis({ port: DEFAULT_REDIS_PORT, dir: join(dataDir, 'redis'), say });
  if (need.mongo) result.mongo = await startMongo({ port: DEFAULT_MONGO_PORT, dir: join(dataDir, 'mongo'), say, postgres: LOCAL_POSTGRES });
  return result;
}

/** Stops what ensureLocalServices started, by our own pid files only. Returns the names stopped. */
export async function stopLocalServices(): Promise<string[]> {
  const stopped: string[] = [];
  if (await stopPid(join(dataDir, 'redis', 'redis.pid'))) stopped.push('redis');
  if (await stopPid(join(dataDir, 'mongo', 'mongo.pid'))) stopped.push('mongodb');
  if (stopPostgres(LOCAL_POSTGRES.dir)) stopped.push('postgresql');
  return stopped;
}
