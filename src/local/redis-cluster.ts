// A local Redis Cluster of three masters (no replicas) for the cluster
// integration test and for trying REDIS_URL=redis-cluster://... by hand:
// `npm run redis:cluster -- start|stop`. Ports derive from the checkout's path
// like the other local services; each node's cluster bus is its port + 10000.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { dataDir } from './paths.js';
import { OFFSET, startRedis, stopPid } from './servers.js';

const SLOTS = 16_384;
export const CLUSTER_PORTS = [17_400 + OFFSET, 17_600 + OFFSET, 17_800 + OFFSET];
const nodeDir = (port: number) => join(dataDir, 'redis-cluster', `node-${port}`);

export interface LocalCluster {
  /** REDIS_URL for it. */
  url: string;
  ports: number[];
  how: 'started' | 'reused';
}

async function infoOf(port: number): Promise<Record<string, string>> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => {}); // not running: unhealthy
  try {
    await r.connect();
    const text = (await r.call('CLUSTER', 'INFO')) as string;
    return Object.fromEntries(text.split(/\r?\n/).map((l) => l.split(':') as [string, string]));
  } catch {
    return {};
  } finally {
    r.disconnect();
  }
}

const healthy = async (ports: number[]) =>
  (await Promise.all(ports.map(infoOf))).every((i) => i.cluster_state === 'ok' && Number(i.cluster_known_nodes) === ports.length);

/**
 * Starts the three nodes and joins them into one cluster (slots split evenly),
 * or reuses it when this checkout's nodes already form a healthy one. A broken
 * cluster is wiped and formed again: it only ever holds test data.
 */
export async function startRedisCluster(say: (m: string) => void = () => {}): Promise<LocalCluster> {
  const ports = CLUSTER_PORTS;
  const url = `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  if (await healthy(ports)) return { url, ports, how: 'reused' };
  await stopRedisCluster();
  for (const p of ports) rmSync(nodeDir(p), { recursive: true, force: true });
  for (const port of ports) await startRedis({ port, dir: nodeDir(port), cluster: true, say });
  const nodes = ports.map((port) => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }));
  try {
    const per = Math.ceil(SLOTS / ports.length);
    await Promise.all(nodes.map((n, i) => n.call('CLUSTER', 'ADDSLOTSRANGE', i * per, Math.min(SLOTS, (i + 1) * per) - 1)));
    for (const port of ports.slice(1)) await nodes[0]!.call('CLUSTER', 'MEET', '127.0.0.1', port);
  } finally {
    for (const n of nodes) n.disconnect();
  }
  const deadline = Date.now() + 20_000;
  while (!(await healthy(ports))) {
    if (Date.now() > deadline) throw new Error(`the local Redis Cluster on ports ${ports.join(', ')} did not become healthy in 20 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  say(`redis cluster: three masters on ports ${ports.join(', ')}`);
  return { url, ports, how: 'started' };
}

/** Stops this checkout's cluster nodes (by their pid files); returns how many were running. */
export async function stopRedisCluster(): Promise<number> {
  let stopped = 0;
  for (const port of CLUSTER_PORTS) if (await stopPid(join(nodeDir(port), 'redis.pid'))) stopped++;
  return stopped;
}
