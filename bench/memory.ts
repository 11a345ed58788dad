// Redis memory per open conversation: 100,000 conversations in the middle of
// the citizen survey (version 2, ten answers given) saved through the real
// store, with the dedupe mark of their last update and the Redis copy of their
// invitation. Reports MEMORY USAGE of each key and the growth of used_memory.
//
//   npm run bench:memory     (env: MEMORY_CONVERSATIONS=100000)

import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ConversationStore, conversationKey } from '../src/conversations/store.js';
import { startSession, step } from '../src/engine/interpreter.js';
import { loadFlows } from '../src/engine/load.js';
import { newCode, newToken } from '../src/invitations/codes.js';
import { InvitationCopies } from '../src/invitations/copies.js';
import { projectRoot } from '../src/local/paths.js';
import { ensureLocalServices } from '../src/local/servers.js';
import { deleteKeys } from '../test/helpers/redis-keys.js';
import { saveResults } from './results.js';

const N = Number(process.env.MEMORY_CONVERSATIONS ?? 100_000);
const prefix = `memory:${Date.now()}:`;

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

async function main() {
  const local = await ensureLocalServices({ redis: !process.env.REDIS_URL, mongo: false });
  const redis = new Redis(process.env.REDIS_URL ?? local.redis!.url);
  const store = new ConversationStore(redis, { prefix, sessionTtlMs: 7 * 86_400_000, cacheSize: 0 });
  const copies = new InvitationCopies(redis, prefix);
  const flow = loadFlows(join(projectRoot, 'flows')).get('citizen-satisfaction@2');
  // A typical session: consent given, nine scale answers, waiting for the tenth.
  let s = startSession(
    flow,
    'inv',
    { unitName: 'Công an phường Sóc Trăng', caseCode: 'HS-2025-000123', contactsKeptUntil: '14/01/2026', respondentType: 'citizen' },
    0,
  ).session;
  s = step(flow, s, { type: 'choice', seq: s.seq, key: '1' }, 1).session;
  s = step(flow, s, { type: 'choice', seq: s.seq, key: '1' }, 2).session;
  for (let i = 0; i < 9; i++) s = step(flow, s, { type: 'choice', seq: s.seq, key: '4' }, 3 + i).session;

  await redis.memory('DOCTOR').catch(() => {});
  const before = await usedMemory(redis);
  const t0 = performance.now();
  for (let i = 0; i < N; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, N - i) }, async (_, j) => {
        const n = i + j;
        const chat = String(9_007_199_254_740_993n + BigInt(n));
        await store.save(`zalo:${chat}`, 0, { s: { ...s, ref: `6756${String(n).padStart(20, '0')}` } }, `zalo:m${chat}_17`);
        await copies.put(
          {
            id: `6756${String(n).padStart(20, '0')}`,
            flow: flow.key,
            unit: 'P-SOC-TRANG',
            unitName: 'Công an phường Sóc Trăng',
            caseCode: `HS-2025-${n}`,
            status: 'opened',
            expiresAt: Date.now() + 14 * 86_400_000,
            token: newToken(),
            code: newCode(),
            claimedBy: 'x'.repeat(27),
          },
          Date.now(),
        );
      }),
    );
  }
  const wallS = (performance.now() - t0) / 1000;
  const after = await usedMemory(redis);
  const first = String(9_007_199_254_740_993n);
  /** MEMORY USAGE of a key the run wrote; a key not found is an error here (a renamed key once read as 0 bytes). */
  const usage = async (key: string) => {
    const bytes = await redis.memory('USAGE', key);
    if (bytes === null) throw new Error(`memory bench: no key ${key} (did its name change?)`);
    return Number(bytes);
  };
  const conv = await usage(conversationKey(prefix, `zalo:${first}`));
  const seen = await usage(store.dedupeKey(`zalo:${first}`, `zalo:m${first}_17`));
  const inv = await usage(`${prefix}inv:6756${'0'.repeat(20)}`);
  const lines = [
    `${new Date().toISOString().slice(0, 10)}  Redis ${/redis_version:(\S+)/.exec(await redis.info('server'))![1]}, ${N} open conversations (saved in ${wallS.toFixed(1)} s)`,
    `conversation key (MEMORY USAGE)          ${conv} bytes`,
    `dedupe mark of the last update           ${seen} bytes`,
    `invitation copy (hash, without lookups)  ${inv} bytes`,
    `used_memory growth per conversation      ${Math.round((after - before) / N)} bytes (conversation, dedupe mark, invitation copy and its token and code lookups)`,
    `used_memory growth for all               ${((after - before) / 2 ** 20).toFixed(1)} MiB`,
  ];
  for (const l of lines) console.log(l);
  saveResults('memory', lines);
  await deleteKeys(process.env.REDIS_URL ?? local.redis!.url, prefix);
  redis.disconnect();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
