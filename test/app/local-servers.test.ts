// Local servers belong to the checkout that started them: a server on the
// port that this checkout's pid file does not name is refused, not reused.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalServiceError, redisAnswers, startRedis } from '../../src/local/servers.js';
import { freePort } from '../helpers/ports.js';

describe('local servers', () => {
  it('refuse a server that another checkout started on the port, and reuse their own', async () => {
    const port = await freePort();
    const mine = await startRedis({ port, dir: mkdtempSync(join(tmpdir(), 'tthc-own-')) });
    try {
      expect(mine.how).toBe('started');
      // A second checkout (another data folder) finds the port taken by a server that is not its own.
      await expect(startRedis({ port, dir: mkdtempSync(join(tmpdir(), 'tthc-other-')) })).rejects.toThrow(LocalServiceError);
      await expect(startRedis({ port, dir: mkdtempSync(join(tmpdir(), 'tthc-other-')) })).rejects.toThrow(/not start|REDIS_URL/);
      // The checkout that started it reuses it.
      const again = await startRedis({ port, dir: mine.dataDir });
      expect(again.how).toBe('reused');
      expect(await redisAnswers(port)).toBe(true);
    } finally {
      await mine.stop();
    }
  });
});
