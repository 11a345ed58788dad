// Redis connections from REDIS_URL: one server (redis://, rediss://) or a
// Redis Cluster (redis-cluster://host1:port,host2:port; rediss-cluster:// for
// TLS). Every key the service writes together in one script or transaction
// shares a hash tag, so the same code runs on both (see slots.ts).
import { Cluster, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

/** REDIS_URL is not one of the accepted forms; the message says what is expected. */
export class RedisUrlError extends Error {
  override name = 'RedisUrlError';
}

export interface ClusterTarget {
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  tls: boolean;
}

const CLUSTER_URL = /^(rediss?)-cluster:\/\/(?:([^@/]*)@)?([^/?#@]+)\/?$/;

/** The cluster named by a redis-cluster:// URL, or undefined for a single server's URL. */
export function clusterTarget(url: string): ClusterTarget | undefined {
  if (!/^rediss?-cluster:/.test(url)) return undefined;
  const m = CLUSTER_URL.exec(url);
  if (!m) throw new RedisUrlError('a cluster URL is redis-cluster://[user:password@]host:port,host:port (no database: a cluster has only database 0)');
  const [, scheme, auth, hostList] = m;
  const nodes = hostList!.split(',').map((hp) => {
    const n = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(hp.trim());
    if (!n || Number(n[2]) > 65_535) throw new RedisUrlError(`cluster node "${hp}" is not host:port`);
    return { host: n[1]!.replace(/^\[|\]$/g, ''), port: Number(n[2]) };
  });
  const [user, pass] = auth === undefined ? [] : auth.includes(':') ? [auth.slice(0, auth.indexOf(':')), auth.slice(auth.indexOf(':') + 1)] : ['', auth];
  return {
    nodes,
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass ? { password: decodeURIComponent(pass) } : {}),
    tls: scheme === 'rediss',
  };
}

/** Whether REDIS_URL is a form this service accepts (for configuration checks). */
export function isRedisUrl(url: string): boolean {
  try {
    if (clusterTarget(url)) return true;
    return ['redis:', 'rediss:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

export interface ClientOptions {
  enableOfflineQueue?: boolean;
  maxRetriesPerRequest?: number | null;
  lazyConnect?: boolean;
  enableAutoPipelining?: boolean;
}

/** The service's Redis keys begin with it (tests give each file a prefix of its own). */
export const SERVICE_KEY_PREFIX = 'tthc:';

/** A client for REDIS_URL: a Cluster for redis-cluster://, else one connection. */
export function createRedis(url: string, o: ClientOptions = {}): RedisClient {
  const cluster = clusterTarget(url);
  if (!cluster) return new Redis(url, o);
  const redisOptions: RedisOptions = {
    ...(cluster.username ? { username: cluster.username } : {}),
    ...(cluster.password ? { password: cluster.password } : {}),
    ...(cluster.tls ? { tls: {} } : {}),
    ...(o.maxRetriesPerRequest !== undefined ? { maxRetriesPerRequest: o.maxRetriesPerRequest } : {}),
  };
  return new Cluster(cluster.nodes, {
    redisOptions,
    ...(o.enableOfflineQueue !== undefined ? { enableOfflineQueue: o.enableOfflineQueue } : {}),
    ...(o.lazyConnect !== undefined ? { lazyConnect: o.lazyConnect } : {}),
    ...(o.enableAutoPipelining !== undefined ? { enableAutoPipelining: o.enableAutoPipelining } : {}),
  });
}
