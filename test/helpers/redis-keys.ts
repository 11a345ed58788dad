// Removes every key under a prefix (a test file's, or a benchmark's), without vitest: the benchmarks use it too.
import { Redis } from 'ioredis';

export async function deleteKeys(redisUrl: string, prefix: string) {
  const r = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await r.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  r.disconnect();
}
