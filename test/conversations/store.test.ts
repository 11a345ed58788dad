import { describe, expect, it } from 'vitest';
import { ConversationStore, conversationKey } from '../../src/conversations/store.js';
import { fileRedis } from '../helpers/context.js';

const { prefix, redis } = fileRedis('store');

const newStore = (cacheSize?: number) => new ConversationStore(redis, { prefix, sessionTtlMs: 60_000, ...(cacheSize === undefined ? {} : { cacheSize }) });

describe('ConversationStore', () => {
  it('saves with compare-and-set: a writer holding an old version is refused and given the current state', async () => {
    const a = newStore();
    const b = newStore();
    expect(await a.read('telegram:1')).toEqual({ version: 0, conversation: {} });
    expect(await b.read('telegram:1')).toEqual({ version: 0, conversation: {} });
    expect(await a.save('telegram:1', 0, { offer: { ref: 'x', flow: 'f@1', ctx: {} } })).toEqual({ ok: true, version: 1 });
    // The second process also read version 0: it loses, and learns what is stored now.
    expect(await b.save('telegram:1', 0, {})).toEqual({
      ok: false,
      duplicate: false,
      current: { version: 1, conversation: { offer: { ref: 'x', flow: 'f@1', ctx: {} } } },
    });
    expect(await b.save('telegram:1', 1, {})).toEqual({ ok: true, version: 2 });
  });

  it('serves the conversation it saved last from memory, and notices another writer at the next save', async () => {
    const a = newStore();
    const b = newStore();
    await a.save('telegram:4', 0, { offer: { ref: 'mine', flow: 'f@1', ctx: {} } });
    await redis.hset(conversationKey(prefix, 'telegram:4'), 'd', JSON.stringify({ offer: { ref: 'edited', flow: 'f@1', ctx: {} } }));
    // Cached in a: no round trip, so it does not see the edit yet...
    expect((await a.read('telegram:4')).conversation.offer?.ref).toBe('mine');
    // ...but a process without it in memory reads Redis.
    expect((await b.read('telegram:4')).conversation.offer?.ref).toBe('edited');
    await b.save('telegram:4', 1, {});
    // a's next save is refused with b's state.
    expect(await a.save('telegram:4', 1, {})).toMatchObject({ ok: false, duplicate: false, current: { version: 2 } });
    expect(await a.read('telegram:4')).toEqual({ version: 2, conversation: {} });
  });

  it('marks an event id as seen only when its save succeeds, and refuses it afterwards', async () => {
    const s = newStore();
    // A refused (conflicting) save does not claim the event: the redelivery is processed.
    expect((await s.save('telegram:2', 5, {}, 'tg:77')).ok).toBe(false);
    expect(await s.save('telegram:2', 0, {}, 'tg:77')).toEqual({ ok: true, version: 1 });
    expect(await s.save('telegram:2', 1, {}, 'tg:77')).toEqual({ ok: false, duplicate: true });
    expect(await redis.pttl(s.dedupeKey('telegram:2', 'tg:77'))).toBeGreaterThan(23 * 3600_000);
    // The duplicate changed nothing.
    expect(await newStore().read('telegram:2')).toEqual({ version: 1, conversation: {} });
  });

  it('expires a conversation after its TTL', async () => {
    const short = newStore();
    short.sessionTtlMs = 50;
    await short.save('telegram:3', 0, { offer: { ref: 'x', flow: 'f@1', ctx: {} } });
    await new Promise((r) => setTimeout(r, 120));
    expect(await newStore(0).read('telegram:3')).toEqual({ version: 0, conversation: {} });
  });

  it('keeps at most cacheSize conversations in memory', async () => {
    const s = newStore(2);
    for (const id of ['c1', 'c2', 'c3']) await s.save(`web:${id}`, 0, {});
    await redis.hset(conversationKey(prefix, 'web:c1'), 'v', '7');
    expect((await s.read('web:c1')).version).toBe(7); // evicted: read from Redis
    expect((await s.read('web:c3')).version).toBe(1);
  });

  it('settles the replies sent, together, and keeps the mark of a reply owed by a newer save', async () => {
    const s = newStore();
    const convs = Array.from({ length: 20 }, (_, i) => `telegram:owed-${i}`);
    for (const [i, conv] of convs.entries()) expect((await s.save(conv, 0, {}, `owed-${i}`, 1_000)).ok).toBe(true);
    // The last one was saved again (another answer) before its first reply went out: it still owes the second.
    expect((await s.save(convs[19]!, 1, {}, 'owed-again', 1_500)).ok).toBe(true);
    expect((await s.unsent(2_000)).sort()).toEqual([...convs].sort());
    await Promise.all(convs.map((c) => s.replySettled(c, 1_000)));
    expect(await s.unsent(2_000)).toEqual([convs[19]]);
  });
});
