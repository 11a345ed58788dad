// The processes of the local servers: pid files, probes, and what may be
// installed. Only processes recorded in our own pid files are ever stopped.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';

/** A local service could not be installed or started; the message says what to do. */
export class LocalServiceError extends Error {
  override name = 'LocalServiceError';
}

export type Say = (msg: string) => void;

export function onPath(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]!.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether a process runs under `pid`: one we may signal, or with `anyUser` one of another user too (EPERM). */
export function alive(pid: number, anyUser = false): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return anyUser && (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether this checkout's pid file names a live process. */
export const ours = (pidFile: string) => {
  const pid = readPid(pidFile);
  return pid !== undefined && alive(pid);
};

/** Connects to the port (and writes `send`): the first reply, '' when nothing was sent, undefined when no connection or reply came in time. */
export function tcpProbe(port: number, timeoutMs: number, send?: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (reply: string | undefined) => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('connect', () => (send ? socket.write(send) : done('')));
    socket.on('data', (d) => done(d.toString()));
  });
}

export const portInUse = async (port: number, timeoutMs = 500) => (await tcpProbe(port, timeoutMs)) !== undefined;

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, logFile?: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  const tail = logFile && existsSync(logFile) ? `\n--- ${logFile} ---\n${readFileSync(logFile, 'utf8').slice(-2000)}` : '';
  throw new LocalServiceError(`${what} did not become ready within ${timeoutMs} ms${tail}`);
}

export async function stopPid(pidFile: string, timeoutMs = 5000): Promise<boolean> {
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

/** The first of `pkgs` that `apt-cache policy` output offers a version of (its "Candidate:" line), or undefined. */
export function firstCandidate(policy: string, pkgs: string[]): string | undefined {
  const offered = new Set<string>();
  let pkg: string | undefined;
  for (const line of policy.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head) pkg = head[1];
    else if (pkg && /^\s+Candidate: (?!\(none\))/.test(line)) offered.add(pkg);
  }
  return pkgs.find((p) => offered.has(p));
}

/** Installs the first of `pkgs` (alternatives, e.g. a light build some releases lack) that apt can install. */
export function aptInstall(pkgs: string | string[], say: Say): void {
  const wanted = typeof pkgs === 'string' ? [pkgs] : pkgs;
  say(`${wanted[0]} not found: installing the Debian package with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Test files run in parallel and may install at the same moment (nginx, Chromium): wait for dpkg's lock, and try
  // again a few times (the package lists' lock is not waited for).
  const apt = (...args: string[]) => execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { stdio: 'ignore', env });
  const candidate = () => firstCandidate(execFileSync('apt-cache', ['policy', ...wanted], { encoding: 'utf8', env }), wanted);
  for (let attempt = 1; ; attempt++) {
    try {
      let pkg = candidate();
      if (!pkg) {
        apt('update', '-q'); // no package lists yet, or stale ones
        pkg = candidate() ?? wanted[0]!;
      }
      try {
        apt('install', '-y', '-q', pkg);
      } catch {
        apt('update', '-q');
        apt('install', '-y', '-q', pkg);
      }
      return;
    } catch (err) {
      if (attempt === 5) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5_000);
    }
  }
}

/** Refuses a port that answers but is not this checkout's server. */
export async function refuseForeign(port: number, pidFile: string, what: string) {
  if (!ours(pidFile) && (await portInUse(port))) {
    throw new LocalServiceError(
      `port ${port} is in use by a ${what} that this checkout did not start (no live pid in ${pidFile}). ` +
        `Stop it, or point the service at it explicitly with ${what === 'redis-server' ? 'REDIS_URL' : 'MONGODB_URI'}.`,
    );
  }
}
