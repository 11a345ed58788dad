// DATA_ENCRYPTION_KEY rotation: the old key still reads, data:reencrypt moves
// every sealed value (phones, agency addressees, respondents' contacts, the
// Zalo token pair) to the new key, after which the old key is not needed.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { acceptPreviousKeys, decrypt, encrypt, sealedWith } from '../../src/crypto.js';
import { reencryptAll } from '../../src/data-keys.js';
import { invitationWriteLock } from '../../src/invitations/invitations.js';
import { api, startTestService, type TestService } from '../helpers/context.js';

const OLD = Buffer.alloc(32, 7); // the test service's key
const NEW = Buffer.alloc(32, 9);
let t: TestService;
beforeAll(async () => {
  t = await startTestService({ name: 'key_rotation', workers: false });
});
afterAll(async () => {
  acceptPreviousKeys([]);
  await t.close();
});

describe('data key rotation', () => {
  it('reads with the previous key, re-encrypts everything once, then needs only the new key', async () => {
    const officer = await t.key('officer', 'PC06');
    const inv = (await api(t.baseUrl, officer, 'POST', '/api/invitations', { caseCode: 'ROT-1', unit: 'PC06', field: 'can-cuoc', phone: '0912345678' })).body;
    await t.service.db.models.Response.create({
      invitationId: inv.id,
      campaign: 'soc-trang-2024',
      unit: 'PC06',
      channel: 'telegram',
      respondent: 'r',
      flow: 'citizen-satisfaction',
      flowVersion: 1,
      startedAt: new Date(),
      completedAt: new Date(),
      contactEnc: encrypt(OLD, JSON.stringify({ channel: 'telegram', userKey: '42' })),
    });
    await t.service.db.conn.collection('zalo_tokens').insertOne({ _id: 'oa' as never, sealed: encrypt(OLD, '{"access":"a","refresh":"r"}'), generation: 3 });

    // Without the previous key the new one cannot read the old data.
    const phoneEnc = (await t.service.db.models.Invitation.findById(inv.id).lean())!.phoneEnc!;
    expect(() => decrypt(NEW, phoneEnc)).toThrow();
    acceptPreviousKeys([OLD]);
    expect(decrypt(NEW, phoneEnc)).toBe('84912345678');

    // Each invitation under the lock its writers hold (the admin script passes it): it waits for one at work.
    const redis = new Redis(inject('redisUrl'));
    const lock = invitationWriteLock(redis, t.prefix);
    const order: string[] = [];
    const writer = lock.hold(inv.id, async () => {
      await new Promise((r) => setTimeout(r, 400));
      order.push('writer');
    });
    await new Promise((r) => setTimeout(r, 50));
    const moved = await reencryptAll(t.service.db.models, t.service.db.conn, NEW, (ref, write) => lock.hold(ref, write));
    order.push('re-encrypted');
    await writer;
    redis.disconnect();
    expect(order).toEqual(['writer', 're-encrypted']);
    expect(moved).toEqual({ phones: 1, addressees: 0, contacts: 1, zaloTokens: 1 });
    // Run again: nothing left to move.
    expect(await reencryptAll(t.service.db.models, t.service.db.conn, NEW)).toEqual({ phones: 0, addressees: 0, contacts: 0, zaloTokens: 0 });

    acceptPreviousKeys([]);
    const after = (await t.service.db.models.Invitation.findById(inv.id).lean())!.phoneEnc!;
    expect(sealedWith(NEW, after)).toBe(true);
    expect(decrypt(NEW, after)).toBe('84912345678');
    const r = (await t.service.db.models.Response.findOne({ invitationId: inv.id }).lean())!;
    expect(JSON.parse(decrypt(NEW, r.contactEnc!))).toEqual({ channel: 'telegram', userKey: '42' });
    const tokens = (await t.service.db.conn.collection('zalo_tokens').findOne({ _id: 'oa' as never }))!;
    expect(decrypt(NEW, tokens.sealed)).toContain('"refresh":"r"');
    expect(() => decrypt(OLD, after)).toThrow();
  });
});
