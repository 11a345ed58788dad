// Bad input, table-driven (the probe's cases kept as a regression test):
// operator injection, prototype-pollution keys, keys with "." or "$", deep
// nesting, oversize and compressed bodies, wrong content types. Every answer is
// a 4xx, never a 5xx, and nothing changes. (Webhook bodies: test/properties.test.ts.)
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';

let t: TestService;
let officer: string;
let pv01: string;
beforeAll(async () => {
  t = await startTestService({ name: 'bad_input', workers: false, env: { TELEGRAM_BOT_USERNAME: 'tthc_test_bot' } });
  [officer, pv01] = await Promise.all([t.key('officer', 'PC06'), t.key('pv01')]);
});
afterAll(() => t.close());

const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const valid = { caseCode: 'BAD-1', unit: 'PC06', field: 'can-cuoc' };

interface Case {
  name: string;
  path: string;
  method?: string;
  body: string | Buffer;
  headers?: Record<string, string>;
  key?: 'officer' | 'pv01';
  expect: number[];
}

const CASES: Case[] = [
  { name: 'operator in a string field', path: '/api/invitations', body: JSON.stringify({ ...valid, caseCode: { $gt: '' } }), expect: [400] },
  { name: '$ne on the unit', path: '/api/invitations', body: JSON.stringify({ ...valid, unit: { $ne: null } }), expect: [400] },
  { name: '$where key', path: '/api/invitations', body: JSON.stringify({ ...valid, $where: 'sleep(1000)' }), expect: [400] },
  { name: 'dotted key', path: '/api/invitations', body: JSON.stringify({ ...valid, 'phone.x': '1' }), expect: [400] },
  {
    name: '__proto__ key',
    path: '/api/invitations',
    body: `{"caseCode":"BAD-2","unit":"PC06","field":"can-cuoc","__proto__":{"polluted":true}}`,
    expect: [400],
  },
  {
    name: 'constructor.prototype',
    path: '/api/invitations',
    body: JSON.stringify({ ...valid, constructor: { prototype: { polluted: true } } }),
    expect: [400],
  },
  { name: 'array instead of object', path: '/api/invitations', body: JSON.stringify([valid]), expect: [400] },
  { name: 'a number body', path: '/api/invitations', body: '42', expect: [400] },
  { name: 'broken JSON', path: '/api/invitations', body: '{"caseCode":', expect: [400] },
  { name: 'NUL and lone surrogate in the case code', path: '/api/invitations', body: JSON.stringify({ ...valid, caseCode: 'A\u0000B\ud800' }), expect: [400] },
  { name: 'deep nesting', path: '/api/invitations', body: deep(5_000), expect: [400] },
  { name: 'over 100 kB', path: '/api/invitations', body: JSON.stringify({ ...valid, procedure: 'x'.repeat(200_000) }), expect: [413] },
  {
    name: 'a gzip bomb (10 MB of zeros in 10 kB)',
    path: '/api/invitations',
    body: gzipSync(Buffer.alloc(10_000_000, 0x20)),
    headers: { 'content-encoding': 'gzip' },
    expect: [413, 415],
  },
  { name: 'text/plain', path: '/api/invitations', body: JSON.stringify(valid), headers: { 'content-type': 'text/plain' }, expect: [400, 415] },
  { name: 'operator in the audit body', path: '/api/audits', body: JSON.stringify({ units: { $in: ['PC06'] } }), key: 'pv01', expect: [400] },
  // Express's simple query parser makes no objects: "unit[$ne]" is an unknown name, ignored (the key's own unit is listed).
  { name: 'operator in the query string', path: '/api/invitations?unit[$ne]=x', method: 'GET', body: '', expect: [200] },
  { name: 'unknown report parameter', path: '/api/reports/form-01?unit=PC06&unit[$gt]=', method: 'GET', body: '', expect: [400] },
];

describe('bad input', () => {
  it.each(CASES)('$name: answered $expect, nothing changed', async (c) => {
    const before = await Promise.all([t.service.db.models.Invitation.countDocuments(), t.service.db.models.Audit.countDocuments()]);
    const key = c.key === 'pv01' ? pv01 : officer;
    const res = await fetch(t.baseUrl + c.path, {
      method: c.method ?? 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...c.headers },
      ...(c.method === 'GET' ? {} : { body: c.body }),
    });
    const text = await res.text();
    expect(c.expect, text.slice(0, 200)).toContain(res.status);
    // The error says what is wrong in the JSON shape, and is not a stack trace.
    if (res.status >= 400) expect(JSON.parse(text).error.code).toMatch(/^[a-z_]+$/);
    expect(text).not.toMatch(/at .*\.js:\d+/);
    const after = await Promise.all([t.service.db.models.Invitation.countDocuments(), t.service.db.models.Audit.countDocuments()]);
    expect(after).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('a slow body', () => {
  it('is cut off with 408 at the request timeout, changes nothing, and does not hold up others', async () => {
    // Telegram on, against nothing: the body never completes, so nothing is sent.
    const slow = await startTestService({ name: 'slow_body', workers: false, listen: false, seed: false, telegramApiRoot: 'http://127.0.0.1:9' });
    const { port } = await slow.service.listen(0, '127.0.0.1', { requestTimeoutMs: 1_500 });
    const key = await slow.key('admin');
    try {
      const trickle = (path: string, headers: string) =>
        new Promise<{ answer: string; ms: number }>((resolve, reject) => {
          const t0 = Date.now();
          let answer = '';
          const socket = connect(port, '127.0.0.1', () => {
            socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}Content-Length: 200\r\n\r\n{"caseCode":"SLOW`);
          });
          socket.on('data', (d) => (answer += d));
          socket.on('close', () => resolve({ answer, ms: Date.now() - t0 }));
          socket.on('error', reject);
        });
      const [api, webhook] = [
        trickle('/api/invitations', `Authorization: Bearer ${key}\r\n`),
        trickle('/webhooks/telegram', `X-Telegram-Bot-Api-Secret-Token: ${TEST_SECRET}\r\n`),
      ];
      // Meanwhile the service answers others at once.
      const t0 = Date.now();
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(500);
      for (const r of await Promise.all([api, webhook])) {
        expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
        expect(r.ms).toBeLessThan(4_000);
      }
      expect(await slow.service.db.models.Invitation.countDocuments()).toBe(0);
    } finally {
      await slow.close();
    }
  });
});

describe('guessing survey codes in the browser', () => {
  /** A client that drops its cookie each time: a new browser for every guess. */
  async function guess(code: string, forwardedFor?: string) {
    const page = await fetch(`${t.baseUrl}/s`);
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const html = await page.text();
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)![1]!;
    const res = await fetch(`${t.baseUrl}/s`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      body: new URLSearchParams({ csrf: field('csrf'), nonce: field('nonce'), code }).toString(),
    });
    return { status: res.status, text: await res.text() };
  }

  it('is limited per client address, whatever the cookie: 60 tries in 10 minutes', async () => {
    for (let i = 0; i < 60; i++) expect((await guess(`BBBB-${String(1000 + i)}`)).status).toBe(400);
    const refused = await guess('BBBB-9999');
    expect(refused.status).toBe(429);
    expect(refused.text).toContain('Đã nhập mã quá nhiều lần từ mạng này');
    // Behind the trusted proxy (loopback by default), each citizen's own address counts.
    expect((await guess('BBBB-9998', '203.0.113.7')).status).toBe(400);
  });
});
