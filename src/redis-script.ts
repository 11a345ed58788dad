// A Lua script called with any number of keys. ioredis's defineCommand routes a
// call on a cluster by its first argument, which for a varying number of keys
// is that number, not a key; EVALSHA is routed by its first key. The script is
// loaded by the first call that finds it missing on a node (NOSCRIPT).
import { createHash } from 'node:crypto';
import type { RedisClient } from './redis.js';

export class VarKeysScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** On a cluster, `keys` must share a slot (one hash tag). */
  async run(redis: RedisClient, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
