// Zalo end to end: signed webhooks in, axios sends out to the emulator, real
// Redis and MongoDB-compatible server; and the token rotation across processes.
import mongoose from 'mongoose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { unreachableKey } from '../../src/outbound/rate-limit.js';
import { ZaloSender } from '../../webhooks/zalo/outbound.js';
import { ZaloTokens } from '../../webhooks/zalo/tokens.js';
import { api, eventually, startTestService, type TestService } from '../helpers/context.js';
import { ZaloEmulator, ZaloUser } from '../helpers/zalo-emulator.js';

let emu: ZaloEmulator;
let t: TestService;
let officer: string;
let n = 0;
/** Ids above 2^53, as Zalo's are: 9007199254740993 is not a JavaScript number. */
const newUser = () => new ZaloUser(emu, `${t.baseUrl}/webhooks/zalo`, `900719925474099${3 + n++}`);

beforeAll(async () => {
  emu = await new ZaloEmulator().start();
  t = await startTestService({ name: 'zalo', zalo: emu });
  officer = await t.key('officer', 'PC08');
});
afterAll(async () => {
  await t.close();
  await emu.stop();
});

async function invite(caseCode: string) {
  const r = await api(t.baseUrl, officer, 'POST', '/api/invitations', { caseCode, unit: 'PC08', field: 'dang-ky-xe', respondentType: 'citizen' });
  expect(r.status).toBe(201);
  return r.body as { id: string; code: string; links: { zalo: string } };
}

describe('Zalo: a citizen takes the whole survey', () => {
  it('from the typed code through every question to one response with channel zalo', async () => {
    const inv = await invite('ZL-FULL');
    expect(inv.links.zalo).toBe(`https://zalo.me/${emu.oaId}`);
    const u = newUser();
    expect(await u.send(`ma cua toi la ${inv.code.toLowerCase()}`)).toBe(200);
    await u.waitForText('Kính chào');
    const next = async (act: () => Promise<number>) => {
      const before = u.messages().length;
      expect(await act()).toBe(200);
      await eventually(async () => u.messages().length > before, 'the next message');
    };
    await next(() => u.tap('Đồng ý tham gia'));
    for (let i = 0; i < 14; i++) await next(() => (i % 2 ? u.tap('Hài lòng') : u.send('5')));
    await next(() => u.tap('Không'));
    await next(() => u.send('không'));
    await next(() => u.tap('Rất hài lòng'));
    await next(() => u.tap('Bỏ qua'));
    await u.waitForText('Xin chân thành cảm ơn');
    // The ids stayed exact strings end to end.
    expect(emu.sends.every((s) => s.user === u.userId || !s.user.startsWith('9007199254740993'))).toBe(true);

    const { Response } = t.service.db.models;
    const resp = await eventually(() => Response.findOne({ invitationId: inv.id }).lean(), 'the response');
    expect(resp.channel).toBe('zalo');
    expect(resp.respondent).not.toContain(u.userId);
    expect(Object.fromEntries(resp.answers.map((a) => [a.q, a.value]))).toMatchObject({
      consent: 'agree',
      overall: 5,
      obs_extra_payment: 'no',
    });
  });

  it('a follow is greeted with how to start; an unfollow makes the user unreachable', async () => {
    const u = newUser();
    const follow = u.event('follow', { follower: { id: u.userId } });
    expect(await u.post(follow.raw, follow.headers)).toBe(200);
    await u.waitForText('gõ mã khảo sát');
    const unfollow = u.event('unfollow', { follower: { id: u.userId } });
    expect(await u.post(unfollow.raw, unfollow.headers)).toBe(200);
    expect(await t.service.redis.exists(unreachableKey(t.prefix, 'zalo', u.userId))).toBe(1);
  });
});

describe('Zalo webhook: what is refused or ignored changes nothing', () => {
  it('a wrong or missing signature, or a re-serialized body, gets 401', async () => {
    const inv = await invite('ZL-SIG');
    const u = newUser();
    const { raw, headers } = u.event('user_send_text', { message: { msg_id: 'sig1', text: inv.code } });
    expect(await u.post(raw, { ...headers, 'x-zevent-signature': `mac=${'0'.repeat(64)}` })).toBe(401);
    expect(await u.post(raw, { 'content-type': 'application/json' })).toBe(401);
    // The same JSON, re-serialized with other spacing: the bytes differ, so the signature does not verify.
    expect(await u.post(JSON.stringify(JSON.parse(raw), null, 1), headers)).toBe(401);
    // A signature made with the App Secret instead of the OA Secret Key.
    const wrongKey = new ZaloEmulator();
    (wrongKey as { oaSecretKey: string }).oaSecretKey = emu.appSecret;
    const forged = wrongKey.sign({ event_name: 'user_send_text', sender: { id: u.userId }, message: { msg_id: 'sig2', text: inv.code } });
    expect(await u.post(forged.raw, forged.headers)).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect(u.messages()).toEqual([]);
    // The signed original is accepted.
    expect(await u.post(raw, headers)).toBe(200);
    await u.waitForText('Kính chào');
  });

  it('a redelivered msg_id is processed once; echoes of our own sends are ignored', async () => {
    const inv = await invite('ZL-DUP');
    const u = newUser();
    expect(await u.send(inv.code, 'dup-1')).toBe(200);
    await u.waitForText('Kính chào');
    expect(await u.send(inv.code, 'dup-1')).toBe(200);
    const echo = u.event('oa_send_text', { message: { msg_id: 'echo-1', text: 'Kính chào' } });
    expect(await u.post(echo.raw, echo.headers)).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(u.messages()).toHaveLength(1);
  });

  it('answers within the 2 s Zalo waits', async () => {
    const inv = await invite('ZL-FAST');
    const u = newUser();
    const t0 = performance.now();
    expect(await u.send(inv.code)).toBe(200);
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});

describe('Zalo tokens', () => {
  /** One "process": its own MongoDB connection and Redis client, the same database and prefix. */
  async function process_(prefix: string, dbName: string, initial: { access: string; refresh: string }) {
    const conn = await mongoose.createConnection(inject('mongoUrl'), { dbName }).asPromise();
    const { Redis } = await import('ioredis');
    const redis = new Redis(inject('redisUrl'));
    const errors: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
    const tokens = new ZaloTokens({
      appId: emu.appId,
      appSecret: emu.appSecret,
      oaId: emu.oaId,
      oauthBase: emu.base,
      initial,
      conn,
      redis,
      prefix,
      encryptionKey: Buffer.alloc(32, 9),
      log,
    });
    return {
      tokens,
      sender: new ZaloSender(emu.base, tokens),
      errors,
      conn,
      close: async () => {
        await conn.close();
        redis.disconnect();
      },
    };
  }

  it('an expired access token is refreshed exactly once by two processes sending at once; the pair is stored and used after a restart', async () => {
    const initial = emu.issuePair();
    const ids = { prefix: `t:zalotok${Date.now()}:`, dbName: `t_zalotok_${Date.now()}` };
    const [a, b] = [await process_(ids.prefix, ids.dbName, initial), await process_(ids.prefix, ids.dbName, initial)];
    try {
      expect(await a.sender.send('9007199254740993', { text: 'một' })).toEqual({ ok: true });
      expect(await b.sender.send('9007199254740993', { text: 'hai' })).toEqual({ ok: true });
      emu.expireAccessTokens();
      const before = emu.refreshes.length;
      const results = await Promise.all([
        ...Array.from({ length: 5 }, (_, i) => a.sender.send('9007199254740993', { text: `a${i}` })),
        ...Array.from({ length: 5 }, (_, i) => b.sender.send('9007199254740993', { text: `b${i}` })),
      ]);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(emu.refreshes.slice(before)).toEqual([{ at: expect.any(Number), ok: true }]);
      // Stored encrypted: the token does not appear in the document.
      const stored = await a.conn.collection('zalo_tokens').findOne({ _id: emu.oaId as never });
      expect(JSON.stringify(stored)).not.toContain(await a.tokens.access());

      // A restart: a new process, still configured with the (now dead) initial pair, uses the stored one.
      const c = await process_(ids.prefix, ids.dbName, initial);
      const refreshes = emu.refreshes.length;
      expect(await c.sender.send('9007199254740993', { text: 'sau khi khởi động lại' })).toEqual({ ok: true });
      expect(emu.refreshes.length).toBe(refreshes);
      expect(await c.tokens.access()).not.toBe(initial.access);
      await c.conn.dropDatabase();
      await c.close();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a refresh token Zalo refuses stops Zalo sends with one clear error, shown on /readyz', async () => {
    const ids = { prefix: `t:zalorev${Date.now()}:`, dbName: `t_zalorev_${Date.now()}` };
    const p = await process_(ids.prefix, ids.dbName, emu.issuePair());
    try {
      expect(await p.sender.send('9007199254740993', { text: 'trước' })).toEqual({ ok: true });
      emu.expireAccessTokens();
      emu.validRefresh.clear(); // revoked
      const before = emu.refreshes.length;
      const results = await Promise.all(Array.from({ length: 5 }, () => p.sender.send('9007199254740993', { text: 'x' })));
      expect(results.every((r) => !r.ok && r.kind === 'retry_after')).toBe(true);
      expect(emu.refreshes.length - before).toBe(1);
      expect(p.errors).toHaveLength(1);
      expect(p.errors[0]).toContain('Zalo refused the refresh token');
      expect(p.errors[0]).not.toContain('RT');
      // Later sends do not try again.
      await p.sender.send('9007199254740993', { text: 'y' });
      expect(emu.refreshes.length - before).toBe(1);
      await p.conn.dropDatabase();
    } finally {
      await p.close();
    }
    // The service's own tokens refused too (last test of the file): /readyz names the trouble without failing (the other channels still work).
    expect((await api(t.baseUrl, undefined, 'GET', '/readyz')).body.checks.zalo).toBe('ok');
    const inv = await invite('ZL-REVOKED');
    const u = newUser();
    expect(await u.send(inv.code)).toBe(200);
    const ready = await eventually(async () => {
      const r = await api(t.baseUrl, undefined, 'GET', '/readyz');
      return String(r.body.checks.zalo).startsWith('trouble') && r;
    }, 'readyz naming the Zalo trouble');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.zalo).toContain('Zalo refused the refresh token');
  });
});
