// npm run redis:cluster -- start|stop — a local three-master Redis Cluster under .data/redis-cluster/.
import { startRedisCluster, stopRedisCluster } from '../src/local/redis-cluster.js';

const cmd = process.argv[2];
if (cmd === 'start') {
  const c = await startRedisCluster((m) => console.log(m));
  console.log(`${c.how}: REDIS_URL=${c.url}`);
} else if (cmd === 'stop') {
  const n = await stopRedisCluster();
  console.log(n ? `stopped ${n} cluster nodes` : 'no cluster node of ours was running');
} else {
  console.error('usage: redis-cluster.js start|stop');
  process.exit(2);
}
