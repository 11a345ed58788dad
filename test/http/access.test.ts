// Who may call what: every route of the app against every kind of caller. The
// route list is read from the app itself, so a new route without a row here
// fails this test.
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/http/auth.js';
import { api, startTestService, type TestService } from '../helpers/context.js';

type Access = 'public' | { roles: Role[]; scoped?: true };
const ALL: Role[] = ['officer', 'pv01', 'admin'];
const officerScoped = (...others: Role[]): Access => ({ roles: ['officer', ...others], scoped: true });

/** Every route, with who may call it; `:id` and friends are filled in from a sample invitation, audit and alert. */
const ROUTES: Record<string, Access> = {
  'GET /': 'public',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'public',
  'GET /officer': 'public',
  'GET /admin': 'public',
  'GET /admin/audits': 'public',
  'GET /assets/officer.js': 'public',
  'GET /assets/dashboard.js': 'public',
  'GET /assets/audits.js': 'public',
  'GET /assets/landing.js': 'public',
  'GET /s': 'public',
  'POST /s': 'public',
  'GET /s/:token': 'public',
  'POST /s/:token/start': 'public',
  'GET /s/survey': 'public',
  'POST /s/survey': 'public',
  'GET /try': 'public',
  'GET /try/chat': 'public',
  'POST /try/chat': 'public',
  'GET /ket-qua/:campaign': 'public',
  'GET /api/me': { roles: ALL },
  'GET /api/campaigns/current': { roles: ALL },
  'GET /api/campaigns/current/quotas': { roles: ALL },
  'GET /api/progress': { roles: ALL },
  'POST /api/invitations': officerScoped('admin'),
  'GET /api/invitations': officerScoped('pv01', 'admin'),
  'GET /api/invitations/:id': officerScoped('pv01', 'admin'),
  'GET /api/invitations/:id/qr.:format': officerScoped('pv01', 'admin'),
  'POST /api/invitations/:id/cancel': officerScoped('admin'),
  'GET /api/reports/form-01': officerScoped('pv01', 'admin'),
  'GET /api/reports/ballots': officerScoped('pv01', 'admin'),
  'GET /api/reports/form-02': { roles: ['pv01', 'admin'] },
  'POST /api/reports/:form/submissions': { roles: ['pv01'] },
  'GET /api/reports/submissions': { roles: ['pv01', 'admin'] },
  'GET /api/alerts': { roles: ['pv01', 'admin'] },
  'POST /api/alerts/:id/handled': { roles: ['pv01'] },
  'POST /api/publications': { roles: ['pv01'] },
  'GET /api/dashboard': { roles: ['pv01', 'admin'] },
  'POST /api/agency-ballots': { roles: ['pv01', 'admin'] },
  'GET /api/agency-ballots': { roles: ['pv01', 'admin'] },
  'GET /api/agency-ballots/letters': { roles: ['pv01', 'admin'] },
  'POST /api/audits': { roles: ['pv01'] },
  'GET /api/audits': { roles: ['pv01', 'admin'] },
  'GET /api/audits/:id': { roles: ['pv01', 'admin'] },
  'GET /api/audits/:id/report.:format': { roles: ['pv01', 'admin'] },
  'GET /api/audits/:id/items': { roles: ['pv01', 'admin'] },
  'GET /api/audits/:id/calls': { roles: ['pv01'] },
  'POST /api/audits/:id/items/:item/call': { roles: ['pv01'] },
  'POST /api/audits/:id/items/:item/override': { roles: ['pv01'] },
  'GET /api/admin/campaigns': { roles: ['admin'] },
  'GET /api/admin/campaigns/:id': { roles: ['admin'] },
  'PUT /api/admin/campaigns/:id': { roles: ['admin'] },
  'POST /api/admin/campaigns/:id/activate': { roles: ['admin'] },
};

/** The routes the app really has, read from its router. */
function registered(app: Express): string[] {
  const out = new Set<string>();
  const walk = (
    stack: Array<{ route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] }; rawPath?: unknown }>,
    prefix: string,
  ) => {
    for (const layer of stack) {
      if (layer.route) for (const m of Object.keys(layer.route.methods)) out.add(`${m.toUpperCase()} ${prefix}${layer.route.path}`);
      else if (layer.handle?.stack)
        walk(layer.handle.stack as never, prefix + (typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : ''));
    }
  };
  walk((app as unknown as { router: { stack: never } }).router.stack, '');
  return [...out].map((r) => (r.endsWith(' /') ? r : r.replace(/\/$/, '')));
}

let t: TestService;
const callers: Record<string, string | undefined> = {};
const sample: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestService({ name: 'access', workers: false, env: { TRY_IT: 'on' } });
  const [officer, other, district, pv01, admin, revoked] = await Promise.all([
    t.key('officer', 'PC06'),
    t.key('officer', 'PC07'),
    t.key('officer', 'HKS', true),
    t.key('pv01'),
    t.key('admin'),
    t.key('pv01'),
  ]);
  await t.service.db.models.ApiKey.updateOne({ _id: revoked.split('.')[0] }, { $set: { revokedAt: new Date() } });
  Object.assign(callers, { none: undefined, malformed: 'not-a-key', revoked, other, district, officer, pv01, admin });
  const inv = (await api(t.baseUrl, officer, 'POST', '/api/invitations', { caseCode: 'ACC-1', unit: 'PC06', field: 'can-cuoc' })).body;
  const audit = (await api(t.baseUrl, pv01, 'POST', '/api/audits', { units: ['PC06'] })).body;
  const alert = await t.service.db.models.Alert.create({ invitationId: 'x', campaign: 'soc-trang-2024', unit: 'PC06', reasons: ['overall'], at: new Date() });
  Object.assign(sample, { id: inv.id, token: inv.token, auditId: audit.id, alertId: String(alert._id) });
});
afterAll(() => t.close());

/** A concrete request for a route: its path filled in, and a body where it takes one. */
function request(route: string): { method: string; path: string; body?: unknown } {
  const [method, pattern] = route.split(' ') as [string, string];
  let path = pattern
    .replace('/api/audits/:id', `/api/audits/${sample.auditId}`)
    .replace('/api/alerts/:id', `/api/alerts/${sample.alertId}`)
    .replace('/api/admin/campaigns/:id', '/api/admin/campaigns/soc-trang-2024')
    .replace(':id', sample.id!)
    .replace(':token', sample.token!)
    .replace(':campaign', 'soc-trang-2024')
    .replace(':format', route.includes('qr.') ? 'svg' : 'json')
    .replace(':form', 'form-01')
    .replace(':item', '000000000000000000000000');
  if (path === '/api/invitations' && method === 'GET') path += '?unit=PC06';
  if (path.startsWith('/api/reports/form-01') || path.startsWith('/api/reports/ballots')) path += '?unit=PC06';
  const bodies: Record<string, unknown> = {
    'POST /api/invitations': { caseCode: 'ACC-2', unit: 'PC06', field: 'can-cuoc' },
    'POST /api/alerts/:id/handled': { note: 'ok' },
    'POST /api/audits/:id/items/:item/call': { outcome: 'confirmed', note: 'ok' },
    'POST /api/audits/:id/items/:item/override': { outcome: 'confirmed', reason: 'ok' },
  };
  return { method, path, ...(method === 'POST' || method === 'PUT' ? { body: bodies[route] ?? {} } : {}) };
}

describe('access', () => {
  it('every route of the app has a row, and every row is a route', () => {
    const real = registered(t.service.app).sort();
    expect(real).toEqual(Object.keys(ROUTES).sort());
  });

  it.each(Object.entries(ROUTES))('%s', async (route, access) => {
    const { method, path, body } = request(route);
    const statuses: Record<string, number> = {};
    for (const [who, key] of Object.entries(callers)) {
      const res = await fetch(t.baseUrl + path, {
        method,
        redirect: 'manual',
        headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      await res.arrayBuffer();
      statuses[who] = res.status;
    }
    for (const [who, status] of Object.entries(statuses)) expect(status, `${who}: never a server error`).toBeLessThan(500);
    if (access === 'public') {
      // The same answer whoever asks (a key neither opens nor closes anything here).
      expect(new Set(Object.values(statuses)).size, JSON.stringify(statuses)).toBe(1);
      expect(statuses.none).not.toBe(401);
      return;
    }
    for (const who of ['none', 'malformed', 'revoked']) expect(statuses[who], who).toBe(401);
    for (const role of ['pv01', 'admin'] as const) {
      if (access.roles.includes(role)) expect([401, 403], `${role} may`).not.toContain(statuses[role]);
      else expect(statuses[role], `${role} may not`).toBe(403);
    }
    if (!access.roles.includes('officer')) {
      for (const who of ['officer', 'other', 'district']) expect(statuses[who], `${who} may not`).toBe(403);
    } else if (access.scoped) {
      expect([401, 403, 404], 'the unit officer may').not.toContain(statuses.officer);
      // PC07's officer and Kế Sách's leader (with its communes) do not cover PC06.
      for (const who of ['other', 'district']) expect([403, 404], `${who} may not`).toContain(statuses[who]);
    } else {
      for (const who of ['officer', 'other', 'district']) expect([401, 403], `${who} may`).not.toContain(statuses[who]);
    }
  });

  it('a revoked key stops at once; a runaway key is slowed down', async () => {
    const key = await t.key('pv01');
    expect((await api(t.baseUrl, key, 'GET', '/api/me')).status).toBe(200);
    await t.service.db.models.ApiKey.updateOne({ _id: key.split('.')[0] }, { $set: { revokedAt: new Date() } });
    expect((await api(t.baseUrl, key, 'GET', '/api/me')).status).toBe(401);
    const busy = await t.key('officer', 'PC06');
    expect((await api(t.baseUrl, busy, 'GET', '/api/me')).status).toBe(200);
    // The key has used its minute (counted in Redis, shared by every process): set as if 600 requests came first.
    const minute = Math.floor(Date.now() / 60_000);
    for (const m of [minute, minute + 1]) await t.service.redis.set(`${t.prefix}api-rate:${busy.split('.')[0]}:${m}`, '600', 'EX', 180);
    const r = await api(t.baseUrl, busy, 'GET', '/api/me');
    expect([r.status, r.body.error?.code]).toEqual([429, 'rate_limited']);
    // Another key is not held back.
    expect((await api(t.baseUrl, await t.key('officer', 'PC06'), 'GET', '/api/me')).status).toBe(200);
  });
});
