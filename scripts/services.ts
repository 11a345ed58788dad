// npm run services:start | services:stop — the local Redis and MongoDB-compatible server under .data/.
import { stopRedisCluster, THREE_MASTERS, WITH_REPLICAS } from '../src/local/redis-cluster.js';
import { ensureLocalServices, stopLocalServices } from '../src/local/servers.js';

const cmd = process.argv[2];
if (cmd === 'start') {
  const s = await ensureLocalServices({ redis: true, mongo: true }, (m) => console.log(m));
  for (const h of [s.redis, s.mongo]) if (h) console.log(`${h.name}: ${h.how} ${h.kind} at ${h.url}`);
} else if (cmd === 'stop') {
  const stopped = await stopLocalServices();
  const clusterNodes = (await stopRedisCluster(THREE_MASTERS)) + (await stopRedisCluster(WITH_REPLICAS));
  if (clusterNodes) stopped.push('redis cluster');
  console.log(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing to stop (no pid files of ours under .data/)');
} else {
  console.error('usage: services.js start|stop');
  process.exit(2);
}
