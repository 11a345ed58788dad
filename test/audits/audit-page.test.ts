// PV01's post-audit page in Chromium: sign in, draw a sample, open the call
// list (logged), record a call that denies a ballot, put it back with an
// override, download the report; no serious accessibility violation.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { encrypt } from '../../src/crypto.js';
import { persistCompletion } from '../../src/responses/complete.js';
import { browserSuite, SHOTS } from '../helpers/browser.js';
import { api, eventually } from '../helpers/context.js';

const suite = browserSuite({ name: 'audit-page' });
let pv01: string;
let officer: string;
const ballots: Record<string, string> = {};

beforeAll(async () => {
  const { t } = suite;
  [pv01, officer] = await Promise.all([t.key('pv01'), t.key('officer', 'PC08')]);
  // Three browser ballots with a phone: no message reaches them, so each goes on the call list.
  for (const [i, caseCode] of ['PAGE-1', 'PAGE-2', 'PAGE-3'].entries()) {
    const inv = await api(t.baseUrl, officer, 'POST', '/api/invitations', { caseCode, unit: 'PC08', field: 'dang-ky-xe', phone: `0912 000 10${i}` });
    expect(inv.status).toBe(201);
    ballots[caseCode] = inv.body.id;
    await persistCompletion(t.service.db.models, t.service.flows, {
      ref: inv.body.id,
      flow: 'citizen-satisfaction@1',
      channel: 'web',
      respondent: `page-respondent-${i}`,
      contact: encrypt(Buffer.alloc(32, 7), JSON.stringify({ channel: 'web', userKey: `page-browser-${i}` })),
      answers: { consent: 'agree', respondent_type: 'citizen', overall: 4, access_location: 4 },
      startedAt: Date.now() - 300_000,
      completedAt: Date.now(),
    });
  }
}, 60_000);

const statusOf = async (caseCode: string) => (await suite.t.service.db.models.Response.findOne({ invitationId: ballots[caseCode] }).lean())?.status;
const row = (p: Page, table: string, caseCode: string) => p.locator(`#${table} tr`, { hasText: caseCode });

describe('the post-audit page', () => {
  it('PV01 draws a sample, calls who no message reaches, denies a ballot, puts it back, and downloads the report', async () => {
    const { t, browser } = suite;
    const p = await browser.newPage({ viewport: { width: 1200, height: 1400 }, acceptDownloads: true });
    await p.goto(`${t.baseUrl}/admin/audits`);
    await p.fill('#key', officer);
    await p.click('#signin-form button');
    await p.waitForSelector('#signin-error:has-text("chỉ dành cho khóa PV01")');
    await p.fill('#key', pv01);
    await p.click('#signin-form button');
    await p.waitForSelector('#audits:has-text("Chưa có đợt hậu kiểm")');

    // Units unknown to the campaign: told so, nothing drawn.
    await p.fill('#units', 'NOPE');
    await p.click('#create-form button[type=submit]');
    await p.waitForSelector('#create-error:has-text("không thuộc đợt khảo sát")');
    expect(await t.service.db.models.Audit.countDocuments()).toBe(0);

    await p.fill('#units', 'PC08');
    await p.fill('#rate', '100');
    await p.click('#create-form button[type=submit]');
    await p.waitForSelector('#detail-summary:has-text("Chọn mẫu 3 phiếu")');
    const audit = (await t.service.db.models.Audit.findOne().lean())!;
    await eventually(async () => (await api(t.baseUrl, pv01, 'GET', `/api/audits/${audit._id}`)).body.progress.onCallList === 3, 'three on the call list');
    await p.click(`[data-open="${audit._id}"]`);
    await p.waitForSelector('#detail-summary:has-text("cần gọi điện: 3")');
    expect(await p.textContent('#items')).toContain('Cần gọi điện');
    // No phone before the call list is opened, and its opening is logged.
    expect(await p.textContent('#detail')).not.toContain('84912000100');
    await p.click('#show-calls');
    await p.waitForSelector('#calls tr:has-text("84912000100")');
    expect(await row(p, 'calls', 'PAGE-1').textContent()).toContain('84912000100');
    expect(await t.service.db.models.AuditLog.countDocuments({ action: 'audit.calls.read', target: String(audit._id) })).toBe(1);

    // PAGE-1 denies having answered: the ballot leaves the counts.
    const call = row(p, 'calls', 'PAGE-1');
    await call.locator('select').selectOption('denied');
    await call.locator('input[name=note]').fill('Người dân nói không làm khảo sát');
    await call.locator('button').click();
    await p.waitForSelector('#saved:has-text("Đã lưu")');
    await p.waitForSelector('#calls tr:has-text("84912000101")');
    expect(await p.locator('#calls tr').count()).toBe(2);
    expect(await row(p, 'items', 'PAGE-1').textContent()).toContain('Không tham gia khảo sát (qua điện thoại)');
    expect(await statusOf('PAGE-1')).toBe('invalidated');

    // PV01 puts it back, with a reason.
    const item = row(p, 'items', 'PAGE-1');
    await item.locator('summary').click();
    await item.locator('select').selectOption('confirmed');
    await item.locator('input[name=reason]').fill('Người dân gọi lại, đã nhầm');
    await item.locator('button').click();
    await p.waitForSelector('#items tr:has-text("Xác nhận đúng (PV01 điều chỉnh)")');
    expect(await statusOf('PAGE-1')).toBe('valid');

    const [download] = await Promise.all([p.waitForEvent('download'), p.click('[data-format="xlsx"]')]);
    expect(download.suggestedFilename()).toBe(`hau-kiem-${audit._id}.xlsx`);
    await p.screenshot({ path: join(SHOTS, 'audits.png'), fullPage: true });
    await p.close();
  }, 60_000);

  it('axe-core finds no serious or critical violation', async () => {
    const axe = (await import('axe-core')).default;
    const ctx = await suite.browser.newContext({ bypassCSP: true, viewport: { width: 1200, height: 1400 } });
    const p = await ctx.newPage();
    await p.goto(`${suite.t.baseUrl}/admin/audits`);
    await p.fill('#key', pv01);
    await p.click('#signin-form button');
    await p.click('[data-open]');
    await p.click('#show-calls');
    await p.waitForSelector('#calls tr');
    await p.addScriptTag({ content: axe.source });
    const result = (await p.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as {
      violations: Array<{ id: string; impact: string; help: string }>;
    };
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(bad.map((v) => `${v.id} (${v.impact}) ${v.help}`)).toEqual([]);
    await ctx.close();
  }, 60_000);
});
