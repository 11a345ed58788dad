// Local Redis Clusters for the cluster integration tests and for trying
// REDIS_URL=redis-cluster://... by hand (`npm run redis:cluster -- start|stop`):
// three masters, and for the failover test three masters each with a replica.
// Ports derive from the checkout's path like the other local services; each
// node's cluster bus is its port + 10000.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { dataDir } from './paths.js';
import { stopPid } from './processes.js';
import { OFFSET, startRedis } from './servers.js';

const SLOTS = 16_384;

export interface ClusterShape {
  /** The masters' ports, then their replicas' (one each, in the same order), if any. */
  masters: number[];
  replicas: number[];
  /** How long a silent node takes to be declared failed (and its replica promoted). */
  nodeTimeoutMs: number;
}

export const THREE_MASTERS: ClusterShape = { masters: [17_400 + OFFSET, 17_600 + OFFSET, 17_800 + OFFSET], replicas: [], nodeTimeoutMs: 5000 };
/** For the failover test: a short node timeout, so that a replica takes over within a few seconds. */
export const WITH_REPLICAS: ClusterShape = {
  masters: [18_000 + OFFSET, 18_200 + OFFSET, 18_400 + OFFSET],
  replicas: [18_600 + OFFSET, 18_800 + OFFSET, 19_000 + OFFSET],
  nodeTimeoutMs: 2000,
};
const portsOf = (shape: ClusterShape) => [...shape.masters, ...shape.replicas];
export const nodeDir = (port: number) => join(dataDir, 'redis-cluster', `node-${port}`);

export interface LocalCluster {
  /** REDIS_URL for it. */
  url: string;
  ports: number[];
  how: 'started' | 'reused';
}

async function onNode<T>(port: number, ask: (r: Redis) => Promise<T>): Promise<T | undefined> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => {}); // not running: unhealthy
  try {
    await r.connect();
    return await ask(r);
  } catch {
    return undefined;
  } finally {
    r.disconnect();
  }
}

const fields = (text: string) => Object.fromEntries(text.split(/\r?\n/).map((l) => l.split(':') as [string, string]));
const infoOf = async (port: number) => (await onNode(port, async (r) => fields((await r.call('CLUSTER', 'INFO')) as string))) ?? {};
const replicaInSync = async (port: number) => (await onNode(port, async (r) => fields(await r.info('replication')).master_link_status === 'up')) ?? false;

async function healthy(shape: ClusterShape): Promise<boolean> {
  const ports = portsOf(shape);
  const infos = await Promise.all(ports.map(infoOf));
  if (!infos.every((i) => i.cluster_state === 'ok' && Number(i.cluster_known_nodes) === ports.length)) return false;
  return (await Promise.all(shape.replicas.map(replicaInSync))).every(Boolean);
}

/**
 * Starts the nodes and joins them into one cluster (slots split evenly over
 * the masters, a replica following each), or reuses it when this checkout's
 * nodes already form a healthy one. A broken cluster is wiped and formed
 * again: it only ever holds test data. `fresh`: wiped and formed again anyway.
 */
export async function startRedisCluster(say: (m: string) => void = () => {}, shape = THREE_MASTERS, fresh = false): Promise<LocalCluster> {
  const ports = portsOf(shape);
  const url = `redis-cluster://${shape.masters.map((p) => `127.0.0.1:${p}`).join(',')}`;
  if (!fresh && (await healthy(shape))) return { url, ports, how: 'reused' };
  await stopRedisCluster(shape);
  for (const p of ports) rmSync(nodeDir(p), { recursive: true, force: true });
  for (const port of ports) await startRedis({ port, dir: nodeDir(port), cluster: true, clusterNodeTimeoutMs: shape.nodeTimeoutMs, say });
  const nodes = ports.map((port) => new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 }));
  try {
    const per = Math.ceil(SLOTS / shape.masters.length);
    await Promise.all(shape.masters.map((_, i) => nodes[i]!.call('CLUSTER', 'ADDSLOTSRANGE', i * per, Math.min(SLOTS, (i + 1) * per) - 1)));
    for (const port of ports.slice(1)) await nodes[0]!.call('CLUSTER', 'MEET', '127.0.0.1', port);
    // A replica can follow its master once it knows it (the MEET spreads by gossip).
    const masterIds = (await Promise.all(nodes.slice(0, shape.masters.length).map((n) => n.call('CLUSTER', 'MYID')))) as string[];
    await waitUntil(shape, async () => {
      const known = (await Promise.all(nodes.slice(shape.masters.length).map((n) => n.call('CLUSTER', 'NODES')))) as string[];
      return known.every((text) => masterIds.every((id) => text.includes(id)));
    });
    await Promise.all(shape.replicas.map((_, i) => nodes[shape.masters.length + i]!.call('CLUSTER', 'REPLICATE', masterIds[i]!)));
  } finally {
    for (const n of nodes) n.disconnect();
  }
  await waitUntil(shape, () => healthy(shape));
  say(
    `redis cluster: ${shape.masters.length} masters on ports ${shape.masters.join(', ')}${shape.replicas.length ? `, replicas on ${shape.replicas.join(', ')}` : ''}`,
  );
  return { url, ports, how: 'started' };
}

async function waitUntil(shape: ClusterShape, ok: () => Promise<boolean>) {
  const deadline = Date.now() + 20_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`the local Redis Cluster on ports ${portsOf(shape).join(', ')} did not become healthy in 20 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops this checkout's cluster nodes (by their pid files); returns how many were running. */
export async function stopRedisCluster(shape = THREE_MASTERS): Promise<number> {
  let stopped = 0;
  for (const port of portsOf(shape)) if (await stopPid(join(nodeDir(port), 'redis.pid'))) stopped++;
  return stopped;
}
