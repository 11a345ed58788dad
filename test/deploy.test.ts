// Docker cannot run here: the deployment files are checked for what matters.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectRoot } from '../src/local/paths.js';
import { SERVICE_NODE_FLAGS } from '../src/node-flags.js';

describe('deployment files', () => {
  it('compose.yaml parses and runs MongoDB 7+, Redis 7+ with noeviction and AOF, a web and a worker role', () => {
    const compose = parse(readFileSync(join(projectRoot, 'compose.yaml'), 'utf8'));
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(['balancer', 'mongo', 'redis', 'web', 'worker']);
    expect(Number(/^mongo:(\d+)/.exec(s.mongo.image)![1])).toBeGreaterThanOrEqual(7);
    expect(Number(/^redis:(\d+)/.exec(s.redis.image)![1])).toBeGreaterThanOrEqual(7);
    expect(s.redis.command.join(' ')).toMatch(/--maxmemory-policy noeviction/);
    expect(s.redis.command.join(' ')).toMatch(/--appendonly yes/);
    expect(s.web.environment.ROLE).toBe('web');
    expect(s.worker.environment.ROLE).toBe('worker');
    for (const role of [s.web, s.worker]) {
      expect(role.environment.REDIS_URL).toMatch(/^redis:\/\/redis:/);
      expect(role.environment.MONGODB_URI).toMatch(/^mongodb:\/\/mongo:/);
    }
  });

  it('compose.yaml puts the shipped nginx configuration (routing by chat) in front of the web processes, and nothing else', () => {
    const s = parse(readFileSync(join(projectRoot, 'compose.yaml'), 'utf8')).services;
    // The version that looks the web replicas up again (`server ... resolve`).
    const [major, minor] = /^nginx:(\d+)\.(\d+)/.exec(s.balancer.image)!.slice(1).map(Number) as [number, number];
    expect(major * 100 + minor).toBeGreaterThanOrEqual(128);
    expect(s.balancer.volumes).toEqual([
      './deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro',
      './deploy/nginx/chat-routing.conf:/etc/nginx/chat-routing.conf:ro',
    ]);
    expect(s.balancer.ports).toEqual(['3000:3000']);
    expect(s.web.ports).toBeUndefined();
    expect(s.web.deploy.replicas).toBeGreaterThanOrEqual(2);
    // The balancer's X-Forwarded-For is believed, for the per-address limits.
    expect(s.web.environment.TRUST_PROXY).toBe('uniquelocal');
    const conf = readFileSync(join(projectRoot, 'deploy/nginx/nginx.conf'), 'utf8');
    expect(conf).toContain('include /etc/nginx/chat-routing.conf;');
    expect(conf).toMatch(/hash \$tthc_chat consistent;\s+#[^\n]*\n\s+server web:3000 resolve;/);
    expect(conf).toMatch(/^\s*access_log off;/m);
  });

  it('the Dockerfile is multi-stage and runs as a non-root user', () => {
    const df = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
    expect(df.match(/^FROM /gm)).toHaveLength(2);
    expect(df).toMatch(/^USER node$/m);
    expect(df).toContain(`CMD ${JSON.stringify(['node', ...SERVICE_NODE_FLAGS, 'dist/src/main.js']).replaceAll(',', ', ')}`);
  });

  it('npm start runs the service with the same Node.js flags as the image', () => {
    const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(['node', ...SERVICE_NODE_FLAGS, 'dist/src/main.js'].join(' '));
  });
});

describe('the command-line scripts', () => {
  it('build only when a source changed (an admin command does not wait for a full compile)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { statSync } = await import('node:fs');
    const stamp = join(projectRoot, 'dist/.build-stamp');
    const before = statSync(stamp).mtimeMs;
    const t0 = Date.now();
    execFileSync(process.execPath, [join(projectRoot, 'scripts/build-if-stale.mjs')], { cwd: projectRoot });
    // A full compile takes 15-20 s here: well under that means nothing was compiled (a loaded machine is slower).
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(statSync(stamp).mtimeMs).toBe(before);
  });
});
