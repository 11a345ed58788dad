// Starts the local Redis and MongoDB-compatible server that `npm start` and
// `npm test` use when REDIS_URL / MONGODB_URI are not given. Only processes
// recorded in our own pid files are ever stopped.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { dataDir, projectRoot } from './paths.js';

export const DEFAULT_REDIS_PORT = 6479;
export const DEFAULT_MONGO_PORT = 27117;

/** A local service could not be installed or started; the message says what to do. */
export class LocalServiceError extends Error {
  override name = 'LocalServiceError';
}

type Say = (msg: string) => void;

export interface ServiceHandle {
  name: 'redis' | 'mongodb';
  url: string;
  /** started: we launched it now; reused: it was already running. */
  how: 'started' | 'reused';
  kind: string;
  pidFile: string;
  stop(): Promise<void>;
}

function onPath(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves true when something accepts TCP connections (and, for Redis, answers PING). */
export function probe(port: number, redisPing = false, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => {
      if (!redisPing) return done(true);
      socket.write('PING\r\n');
    });
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, logFile?: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = logFile && existsSync(logFile) ? `\n--- ${logFile} ---\n${readFileSync(logFile, 'utf8').slice(-2000)}` : '';
  throw new LocalServiceError(`${what} did not become ready within ${timeoutMs} ms${tail}`);
}

async function stopPid(pidFile: string, timeoutMs = 5000): Promise<boolean> {
  const pid = readPid(pidFile);
  if (pid === undefined) return false;
  if (alive(pid)) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
  return true;
}

function ensureRedisBinary(say: Say): string {
  const found = onPath('redis-server');
  if (found) return found;
  if (!isRoot()) {
    throw new LocalServiceError('redis-server is not installed. Install it (sudo apt-get install -y redis-server) or set REDIS_URL.');
  }
  say('redis-server not found: installing Debian package redis-server with apt-get');
  try {
    execFileSync('apt-get', ['install', '-y', '-q', 'redis-server'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch {
    execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-q', 'redis-server'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const installed = onPath('redis-server');
  if (!installed) throw new LocalServiceError('apt-get install redis-server did not put redis-server on PATH; set REDIS_URL');
  return installed;
}

export interface StartOptions {
  port: number;
  /** Folder for data, pid and log files. */
  dir: string;
  say?: Say;
}

/** Starts (or reuses, by pid file and port) a redis-server on 127.0.0.1. */
export async function startRedis({ port, dir, say = () => {} }: StartOptions): Promise<ServiceHandle> {
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'redis.pid');
  const logFile = join(dir, 'redis.log');
  const handle = (how: ServiceHandle['how']): ServiceHandle => ({
    name: 'redis',
    url: `redis://127.0.0.1:${port}`,
    how,
    kind: 'redis-server',
    pidFile,
    stop: async () => void (await stopPid(pidFile)),
  });
  if (await probe(port, true)) return handle('reused');
  const bin = ensureRedisBinary(say);
  // noeviction: BullMQ loses jobs under any eviction policy. AOF: queued work survives a restart.
  execFileSync(bin, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--daemonize',
    'yes',
    '--pidfile',
    pidFile,
    '--logfile',
    logFile,
    '--maxmemory-policy',
    'noeviction',
    '--appendonly',
    'yes',
    '--save',
    '',
  ]);
  await waitFor(() => probe(port, true), 10_000, `redis-server on port ${port}`, logFile);
  return handle('started');
}

/** Builds the FerretDB wrapper in scripts/ferretdb with Go (once; the binary is cached under .data/bin). */
export function ensureFerretBinary(say: Say): string {
  const bin = join(dataDir, 'bin', 'ferretdb-local');
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
    execFileSync(go, ['build', '-o', bin, '.'], {
      cwd: join(projectRoot, 'scripts', 'ferretdb'),
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CGO_ENABLED: '0' },
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
    throw new LocalServiceError(`building FerretDB failed:\n${stderr.slice(-2000)}`);
  }
  return bin;
}

/** Starts (or reuses) mongod when on PATH, otherwise FerretDB with SQLite storage. */
export async function startMongo({ port, dir, say = () => {} }: StartOptions): Promise<ServiceHandle> {
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'mongo.pid');
  const logFile = join(dir, 'mongo.log');
  const mongod = onPath('mongod');
  const handle = (how: ServiceHandle['how'], kind: string): ServiceHandle => ({
    name: 'mongodb',
    url: `mongodb://127.0.0.1:${port}`,
    how,
    kind,
    pidFile,
    stop: async () => void (await stopPid(pidFile)),
  });
  const kindFile = join(dir, 'mongo.kind');
  if (await probe(port)) return handle('reused', existsSync(kindFile) ? readFileSync(kindFile, 'utf8') : 'unknown');

  let cmd: string;
  let args: string[];
  let kind: string;
  if (mongod) {
    const dbPath = join(dir, 'mongod');
    mkdirSync(dbPath, { recursive: true });
    cmd = mongod;
    args = ['--dbpath', dbPath, '--port', String(port), '--bind_ip', '127.0.0.1'];
    kind = 'mongod';
  } else {
    const sqliteDir = join(dir, 'ferretdb');
    mkdirSync(sqliteDir, { recursive: true });
    cmd = ensureFerretBinary(say);
    args = ['-listen-addr', `127.0.0.1:${port}`, '-sqlite-url', `file:${sqliteDir}/`, '-log-level', 'warn'];
    kind = 'ferretdb';
  }
  const out = openSync(logFile, 'a');
  // Detached with its own log file: it outlives this process and holds no pipe of ours.
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  if (child.pid === undefined) throw new LocalServiceError(`could not spawn ${cmd}`);
  writeFileSync(pidFile, String(child.pid));
  writeFileSync(kindFile, kind);
  child.unref();
  await waitFor(() => probe(port), 20_000, `${kind} on port ${port}`, logFile);
  return handle('started', kind);
}

/** The database `npm start` and the scripts use on the local MongoDB-compatible server. */
export const localMongoUri = (mongo: ServiceHandle) => `${mongo.url}/tthc`;

/** The default local services of `npm start` / `npm test`, under .data/. */
export async function ensureLocalServices(need: { redis: boolean; mongo: boolean }, say: Say = () => {}) {
  const result: { redis?: ServiceHandle; mongo?: ServiceHandle } = {};
  if (need.redis) result.redis = await startRedis({ port: DEFAULT_REDIS_PORT, dir: join(dataDir, 'redis'), say });
  if (need.mongo) result.mongo = await startMongo({ port: DEFAULT_MONGO_PORT, dir: join(dataDir, 'mongo'), say });
  return result;
}

/** Stops what ensureLocalServices started, by our own pid files only. Returns the names stopped. */
export async function stopLocalServices(): Promise<string[]> {
  const stopped: string[] = [];
  if (await stopPid(join(dataDir, 'redis', 'redis.pid'))) stopped.push('redis');
  if (await stopPid(join(dataDir, 'mongo', 'mongo.pid'))) stopped.push('mongodb');
  return stopped;
}
