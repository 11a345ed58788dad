// nginx in front of local web processes, for the tests and the benchmark: the
// shipped deploy/nginx/nginx.conf with local addresses, so that what runs here
// is what is deployed (but for the web service's name, looked up again by
// nginx 1.27.3+, where Debian 12's nginx 1.22 is given fixed local ports).
// Debian's nginx, installed with apt-get when missing and we are root, like
// redis-server.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './paths.js';
import { aptInstall, isRoot, LocalServiceError, onPath, portInUse, type Say, waitFor } from './processes.js';

const DEPLOY = join(projectRoot, 'deploy', 'nginx');

function nginxBinary(say: Say): string {
  const found = onPath('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
  if (found) return found;
  if (!isRoot()) throw new LocalServiceError('nginx is not installed: install it (sudo apt-get install -y nginx-light)');
  aptInstall(['nginx-light', 'nginx'], say); // Debian releases without the light build have the full one
  if (!existsSync('/usr/sbin/nginx')) throw new LocalServiceError('apt-get did not install /usr/sbin/nginx');
  return '/usr/sbin/nginx';
}

/** Replaces `from` in the shipped configuration, which must contain it (else the file changed and this must follow). */
function swap(conf: string, from: string, to: string): string {
  if (!conf.includes(from)) throw new LocalServiceError(`deploy/nginx/nginx.conf no longer contains "${from}"`);
  return conf.replace(from, to);
}

/**
 * deploy/nginx/nginx.conf listening on 127.0.0.1:`port` in front of `upstreams` (local ports), with `workers` worker
 * processes. `addHeader`: response headers added by the proxy (the tests name the process that answered).
 */
export function localNginxConf(o: { port: number; upstreams: number[]; workers?: number; addHeader?: Record<string, string> }): string {
  let conf = readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8');
  conf = swap(conf, 'worker_processes auto;', `worker_processes ${o.workers ?? 1};`);
  conf = swap(conf, 'include /etc/nginx/chat-routing.conf;', `include ${join(DEPLOY, 'chat-routing.conf')};`);
  conf = swap(conf, 'server web:3000 resolve;', o.upstreams.map((p) => `server 127.0.0.1:${p};`).join(' '));
  conf = swap(conf, 'listen 3000;', `listen 127.0.0.1:${o.port};`);
  const headers = Object.entries(o.addHeader ?? {}).map(([k, v]) => `add_header ${k} ${v} always;`);
  if (headers.length) conf = swap(conf, 'proxy_pass http://web;', `proxy_pass http://web; ${headers.join(' ')}`);
  return conf;
}

export interface NginxHandle {
  url: string;
  stop(): Promise<void>;
}

/** Starts nginx (in the foreground of its own process group) with localNginxConf, its files under `dir`. */
export async function startNginx(o: Parameters<typeof localNginxConf>[0] & { dir: string; say?: Say }): Promise<NginxHandle> {
  const bin = nginxBinary(o.say ?? (() => {}));
  mkdirSync(o.dir, { recursive: true });
  // Run as root, nginx's workers run as nobody: they must reach their temporary files here.
  chmodSync(o.dir, 0o755);
  const pidFile = join(o.dir, 'nginx.pid');
  const errorLog = join(o.dir, 'error.log');
  const confFile = join(o.dir, 'nginx.conf');
  writeFileSync(confFile, localNginxConf(o));
  if (await portInUse(o.port)) throw new LocalServiceError(`port ${o.port} is in use: nginx cannot listen there`);
  const out = openSync(errorLog, 'a');
  const child = spawn(bin, ['-p', o.dir, '-e', errorLog, '-c', confFile, '-g', `daemon off; pid ${pidFile}; error_log ${errorLog} warn;`], {
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  if (child.pid === undefined) throw new LocalServiceError(`could not spawn ${bin}`);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(() => portInUse(o.port), 10_000, `nginx on port ${o.port}`, errorLog);
  return {
    url: `http://127.0.0.1:${o.port}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
