// This checkout's PostgreSQL under FerretDB: Debian's server binaries, run as
// the `postgres` system user when we are root (PostgreSQL refuses root), with
// its data under .data/ or, when that user cannot reach the checkout, under
// /var/tmp (see postgresHome).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths.js';
import { alive, aptInstall, isRoot, onPath, ours, portInUse, readPid, refuseForeign, type Say } from './processes.js';

/** The newest PostgreSQL server binaries (Debian keeps them in /usr/lib/postgresql/<version>/bin). */
function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/** PostgreSQL refuses to run as root: then its commands run as the `postgres` system user. */
function asPostgresUser(bin: string, args: string[], opts: { stdio?: 'ignore' | 'pipe' } = {}) {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return execFileSync(cmd as string, argv as string[], { stdio: ['ignore', opts.stdio ?? 'pipe', 'pipe'], encoding: 'utf8' });
}

/** FerretDB's database on the server. */
const FERRETDB_DATABASE = 'ferretdb';

/** Runs each statement of `sql` on this checkout's server (database `db`), one after another; returns psql's unaligned output. */
export function psql(port: number, sql: string | string[], db = 'postgres'): string {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed');
  const statements = (typeof sql === 'string' ? [sql] : sql).flatMap((s) => ['-c', s]);
  return asPostgresUser(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-tA', ...statements]);
}

/**
 * FerretDB 1.24 filters by equality with `_jsonb->$1 @> $2`, in statements it prepares once per connection. Its own
 * indexes are btree (`_jsonb->'field'`), which cannot serve `@>`: every lookup, `_id` included, read the whole table
 * (10 ms at 50,000 documents, against 1 ms with the twins). So each FerretDB index gets a GIN twin (jsonb_path_ops,
 * which serves `@>`) as it is made, and statements are always planned with their values: a generic plan, which
 * PostgreSQL may keep after five runs, has `$1` in place of the field and so matches no index. Local only: MongoDB
 * uses its own indexes.
 */
const GIN_TWINS = [
  `CREATE OR REPLACE FUNCTION tthc_gin_twin(ix oid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE i record; cols text;
BEGIN
  SELECT c.relname, n.nspname, t.relname AS tbl, x.indnatts, am.amname INTO i
    FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam WHERE x.indexrelid = ix;
  IF i.amname IS DISTINCT FROM 'btree' THEN RETURN; END IF;
  SELECT string_agg(pg_get_indexdef(ix, k, true) || ' jsonb_path_ops', ', ' ORDER BY k) INTO cols FROM generate_series(1, i.indnatts) k;
  IF cols NOT LIKE '(\\_jsonb %' THEN RETURN; END IF;
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin (%s)', left(i.relname, 59) || '_gin', i.nspname, i.tbl, cols);
EXCEPTION WHEN others THEN
  RAISE WARNING 'no GIN twin for index %: %', ix, SQLERRM;
END $$`,
  `CREATE OR REPLACE FUNCTION tthc_gin_twins() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tthc_gin_twin(objid) FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE INDEX' AND object_type = 'index';
END $$`,
  'DROP EVENT TRIGGER IF EXISTS tthc_gin_twins',
  "CREATE EVENT TRIGGER tthc_gin_twins ON ddl_command_end WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION tthc_gin_twins()",
  // Indexes made before the trigger (data of an earlier version).
  `DO $$ BEGIN
  PERFORM tthc_gin_twin(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'i' AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema';
END $$`,
  // For FerretDB's next connections: it starts after this (a running one's connections keep their setting until renewed).
  `ALTER DATABASE ${FERRETDB_DATABASE} SET plan_cache_mode = force_custom_plan`,
];

/** Sets up the GIN twins (GIN_TWINS): a speed-up, so a failure is said and not thrown. */
export function indexFerretTables(port: number, say: Say): void {
  try {
    psql(port, GIN_TWINS, FERRETDB_DATABASE);
  } catch (err) {
    say(
      `FerretDB's lookups stay unindexed: ${String((err as { stderr?: string }).stderr || (err as Error).message)
        .trim()
        .slice(0, 300)}`,
    );
  }
}

/** Where PostgreSQL's files go: `dir` (under .data/) when the postgres user can reach it; a checkout in a private folder cannot be reached. */
function postgresHome(dir: string): string {
  if (!isRoot()) return dir;
  try {
    execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-x', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    return join(POSTGRES_ELSEWHERE, `tthc-postgres-${createHash('sha256').update(projectRoot).digest('hex').slice(0, 12)}`);
  }
}

/** Where PostgreSQL's data goes when the postgres user cannot reach the checkout. */
const POSTGRES_ELSEWHERE = '/var/tmp';

/** In such a folder: the checkout it belongs to. */
const CHECKOUT_FILE = 'checkout';

/**
 * Removes the PostgreSQL folders under `parent` whose checkout is gone (a deleted clone's data would otherwise stay
 * forever: nothing else can reach it, its path's hash names it) and whose server is not running. A folder that does not
 * say which checkout it belongs to is left alone. Returns the folders removed.
 */
export function removeOrphanedPostgresDirs(parent: string, self: string): string[] {
  const removed: string[] = [];
  const names = existsSync(parent) ? readdirSync(parent).filter((n) => n.startsWith('tthc-postgres-')) : [];
  for (const name of names) {
    const dir = join(parent, name);
    const marker = join(dir, CHECKOUT_FILE);
    if (!existsSync(marker)) continue;
    const checkout = readFileSync(marker, 'utf8').trim();
    if (checkout === self || existsSync(checkout)) continue;
    const pid = readPid(join(dir, 'data', 'postmaster.pid'));
    if (pid && alive(pid, true)) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Starts (or reuses) this checkout's PostgreSQL for FerretDB; returns its URL, or undefined when PostgreSQL cannot be had. */
export async function startPostgres(port: number, dir: string, say: Say): Promise<{ url: string; dataDir: string } | undefined> {
  let bin = postgresBin();
  if (!bin && isRoot()) {
    try {
      aptInstall('postgresql', say);
    } catch {
      /* falls back to SQLite below */
    }
    bin = postgresBin();
  }
  if (!bin || (isRoot() && !onPath('runuser'))) return undefined;
  mkdirSync(dir, { recursive: true });
  const home = postgresHome(dir);
  if (home !== dir) {
    removeOrphanedPostgresDirs(POSTGRES_ELSEWHERE, projectRoot);
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, CHECKOUT_FILE), projectRoot);
  }
  const data = join(home, 'data');
  const pidFile = join(data, 'postmaster.pid');
  const logFile = join(home, 'postgres.log');
  // FerretDB v1 holds its metadata lock while it waits for a pool connection to create an index; readers
  // holding the other connections wait for that lock. A pool larger than all clients' pools together avoids
  // that deadlock (seen with the default 50 under parallel test files).
  const url = `postgres://postgres@127.0.0.1:${port}/${FERRETDB_DATABASE}?pool_max_conns=300`;
  if (isRoot()) execFileSync('chown', ['postgres:postgres', home]);
  try {
    if (!existsSync(join(data, 'PG_VERSION'))) {
      say(`initializing PostgreSQL in ${data}`);
      asPostgresUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale']);
    }
    if (!ours(pidFile) || !(await portInUse(port))) {
      rmSync(pidFile, { force: true }); // a stale pid file of a killed server
      await refuseForeign(port, pidFile, 'PostgreSQL server');
      // Bound to loopback on this checkout's port; the socket lives in its own folder.
      const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${home} -c max_connections=400 -c fsync=off -c synchronous_commit=off`;
      asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '30', 'start'], { stdio: 'ignore' });
      say(`started PostgreSQL on 127.0.0.1:${port} (data in ${data})`);
    }
    if (psql(port, `SELECT 1 FROM pg_database WHERE datname='${FERRETDB_DATABASE}'`).trim() !== '1')
      asPostgresUser(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', FERRETDB_DATABASE]);
    indexFerretTables(port, say);
    return { url, dataDir: data };
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr || (err as Error).message;
    say(`PostgreSQL could not be started (${String(detail).trim().slice(0, 300)}); falling back to SQLite`);
    return undefined;
  }
}

/** Stops this checkout's PostgreSQL when its pid file names a live server (its data under `dir`, or where postgresHome put it). */
export function stopPostgres(dir: string): boolean {
  const bin = postgresBin();
  for (const home of [dir, postgresHome(dir)]) {
    const data = join(home, 'data');
    if (bin && ours(join(data, 'postmaster.pid'))) {
      asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'], { stdio: 'ignore' });
      return true;
    }
  }
  return false;
}
