import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConversationStore } from '../../src/conversations/store.js';
import { deleteKeys, isolation } from '../helpers/context.js';

const { prefix } = isolation('store');
let redis: Redis;
let store: ConversationStore;

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'));
  store = new ConversationStore(redis, { prefix, sessionTtlMs: 60_000 });
});
afterAll(async () => {
  await deleteKeys(inject('redisUrl'), prefix);
  redis.disconnect();
});

describe('ConversationStore', () => {
  it('saves with compare-and-set: a writer holding an old version is refused', async () => {
    const a = await store.load('telegram:1');
    expect(a).toEqual({ duplicate: false, version: 0, conversation: {} });
    expect(await store.save('telegram:1', 0, { offer: { ref: 'x', flow: 'f@1', ctx: {} } })).toBe(true);
    // A second writer that also read version 0 loses.
    expect(await store.save('telegram:1', 0, {})).toBe(false);
    const b = await store.load('telegram:1');
    expect(b).toMatchObject({ version: 1, conversation: { offer: { ref: 'x' } } });
  });

  it('marks an event id as seen only when its save succeeds, and ignores it afterwards', async () => {
    const first = await store.load('telegram:2', 'tg:77');
    expect(first.duplicate).toBe(false);
    // A failed (conflicting) save does not claim the event: the redelivery is processed.
    expect(await store.save('telegram:2', 5, {}, 'tg:77')).toBe(false);
    expect((await store.load('telegram:2', 'tg:77')).duplicate).toBe(false);
    expect(await store.save('telegram:2', 0, {}, 'tg:77')).toBe(true);
    expect((await store.load('telegram:2', 'tg:77')).duplicate).toBe(true);
    expect(await redis.pttl(`${prefix}seen:tg:77`)).toBeGreaterThan(23 * 3600_000);
  });

  it('expires a conversation after its TTL', async () => {
    await store.save('telegram:3', 0, {}, undefined, 50);
    await new Promise((r) => setTimeout(r, 120));
    expect((await store.load('telegram:3')).duplicate === false && (await store.load('telegram:3'))).toMatchObject({ version: 0 });
  });
});
