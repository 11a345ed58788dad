// What every page and API answer carries, and what a newcomer meets at the root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestService, type TestService } from '../helpers/context.js';

let t: TestService;
let admin: string;
beforeAll(async () => {
  t = await startTestService({ name: 'security', workers: false });
  admin = await t.key('admin');
});
afterAll(() => t.close());

describe('security headers', () => {
  it.each(['/officer', '/s/AAAAAAAAAAAAAAAAAAAAAA', '/api/me', '/healthz', '/nope'])('%s has CSP, no framing, nosniff, no referrer', async (path) => {
    const r = await fetch(t.baseUrl + path, { redirect: 'manual' });
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('pages carry no inline script', async () => {
    const inv = (await api(t.baseUrl, admin, 'POST', '/api/invitations', { caseCode: 'SEC-1', unit: 'PC06', field: 'can-cuoc' })).body;
    for (const path of ['/officer', `/s/${inv.token}`]) {
      const html = await (await fetch(t.baseUrl + path)).text();
      expect(html).toMatch(/<script src="\/assets\//);
      expect(html).not.toMatch(/<script>|<script(?![^>]*\ssrc=)[^>]*>/);
      expect(html).not.toMatch(/\son(click|load|submit)=/);
    }
  });
});

describe('a newcomer', () => {
  it('is sent from / to the officer page', async () => {
    const r = await fetch(`${t.baseUrl}/`, { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe('/officer');
  });
});

describe('bad input gets a clear, true error', () => {
  it('the 413 of the API names its real limit', async () => {
    const r = await api(t.baseUrl, admin, 'POST', '/api/invitations', { caseCode: 'x'.repeat(200_000) });
    expect(r.status).toBe(413);
    expect(r.body.error.message).toBe('request body is larger than 100 KB');
  });

  it.each([
    ['invitationLifetimeDays', 1e300, 'invitationLifetimeDays'],
    ['timezone', 'Mars/Olympus', 'timezone'],
    ['quotas', { default: 30, byUnitField: { 'PC06.can-cuoc': 5 } }, 'quotas.byUnitField'],
    ['quotas', { default: 30, byUnitField: { $where: 5 } }, 'quotas.byUnitField'],
    ['sessionTtlDays', 1e9, 'sessionTtlDays'],
  ])('a campaign with %s = %j is refused with 400 naming it, and nothing changes', async (field, value, path) => {
    const current = (await api(t.baseUrl, admin, 'GET', '/api/admin/campaigns/soc-trang-2024')).body;
    const { active: _active, ...data } = current;
    const r = await api(t.baseUrl, admin, 'PUT', '/api/admin/campaigns/soc-trang-2024', { ...data, [field]: value });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain(path);
    const after = (await api(t.baseUrl, admin, 'GET', '/api/admin/campaigns/soc-trang-2024')).body;
    expect(after).toEqual(current);
    // Invitations still work.
    expect((await api(t.baseUrl, admin, 'POST', '/api/invitations', { caseCode: `SEC-${field}-${Date.now()}`, unit: 'PC06', field: 'can-cuoc' })).status).toBe(
      201,
    );
  });
});
