// The browser channel in headless Chromium: the same flow and engine as the
// chats, plain form posts, a phone-sized viewport.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { browserSuite, SHOTS } from '../helpers/browser.js';
import { api, eventually } from '../helpers/context.js';

const suite = browserSuite({ name: 'web_survey' });
let officer: string;
beforeAll(async () => {
  officer = await suite.t.key('officer', 'PC07');
});

const invite = async (caseCode: string) =>
  (await api(suite.t.baseUrl, officer, 'POST', '/api/invitations', { caseCode, unit: 'PC07', field: 'pccc', respondentType: 'citizen' })).body as {
    id: string;
    token: string;
    code: string;
  };

/** Answers the question on screen by its button label and waits for the next screen. */
async function choose(p: Page, label: string) {
  const before = await p.textContent('legend').catch(() => '');
  await p.click(`.choices button:text-is("${label}")`);
  // In the page: the question changed (or the survey ended).
  await p.waitForFunction(`(() => { const l = document.querySelector('legend'); return !l || l.textContent !== ${JSON.stringify(before)}; })()`);
}

async function answerAll(p: Page, reloadAt = -1) {
  await choose(p, 'Đồng ý tham gia');
  for (let i = 0; i < 14; i++) {
    if (i === reloadAt) {
      const question = await p.textContent('legend');
      await p.reload();
      // Reloading shows the same question again, nothing lost or answered twice.
      expect(await p.textContent('legend')).toBe(question);
    }
    await choose(p, i % 2 ? 'Hài lòng' : 'Rất hài lòng');
  }
  await choose(p, 'Không');
  await choose(p, 'Không');
  await choose(p, 'Hài lòng');
  await p.fill('#answer', 'Nhân viên hướng dẫn tận tình');
  await p.click('button[name=send]');
  await p.waitForSelector('h1:text("Cảm ơn ông/bà!")');
}

describe('the survey in the browser', () => {
  it('from the landing page to the thanks in a 390x844 viewport, with a reload in the middle; one response with channel web', async () => {
    const inv = await invite('WEB-1');
    const ctx = await suite.browser.newContext({ viewport: { width: 390, height: 844 } });
    const p = await ctx.newPage();
    await p.goto(`${suite.t.baseUrl}/s/${inv.token}`);
    await p.click('#web button[type=submit]');
    await p.waitForSelector('legend');
    expect(await p.textContent('legend')).toContain('Kính chào');
    await p.screenshot({ path: join(SHOTS, 'web-first-question.png'), fullPage: true });
    // A cheap phone on a slow line: small pages.
    expect((await p.content()).length).toBeLessThan(50_000);
    await answerAll(p, 6);
    await p.screenshot({ path: join(SHOTS, 'web-thanks.png'), fullPage: true });

    const { Response } = suite.t.service.db.models;
    const resp = await eventually(() => Response.findOne({ invitationId: inv.id }).lean(), 'the response');
    expect(resp.channel).toBe('web');
    expect(resp.answers.find((a) => a.q === 'suggestion')?.value).toBe('Nhân viên hướng dẫn tận tình');
    expect(resp.answers).toHaveLength(20);
    // The cookie that makes the browser the respondent is HttpOnly and SameSite.
    const cookie = (await ctx.cookies()).find((c) => c.name === 'tthc_web')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
    // Opening the link again later shows the end, not a new survey.
    await p.goto(`${suite.t.baseUrl}/s/survey`);
    expect(await p.textContent('h1')).toBe('Cảm ơn ông/bà!');
    await ctx.close();
  }, 90_000);

  it('works with JavaScript off, and from the code typed on /s', async () => {
    const inv = await invite('WEB-NOJS');
    const ctx = await suite.browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
    const p = await ctx.newPage();
    await p.goto(`${suite.t.baseUrl}/s`);
    await p.fill('#code', `${inv.code.slice(0, 4).toLowerCase()} ${inv.code.slice(4)}`);
    await p.click('button[type=submit]');
    await p.waitForSelector('legend');
    await answerAll(p);
    await eventually(() => suite.t.service.db.models.Response.findOne({ invitationId: inv.id }).lean(), 'the response');
    await ctx.close();
  }, 90_000);

  it('a second browser opening a claimed invitation is told so; a wrong code is told so', async () => {
    const inv = await invite('WEB-CLAIM');
    const first = await suite.browser.newContext();
    const a = await first.newPage();
    await a.goto(`${suite.t.baseUrl}/s/${inv.token}`);
    await a.click('#web button[type=submit]');
    await a.waitForSelector('legend');
    const second = await suite.browser.newContext();
    const b = await second.newPage();
    await b.goto(`${suite.t.baseUrl}/s/${inv.token}`);
    await b.click('#web button[type=submit]');
    await b.waitForSelector('.note');
    expect(await b.textContent('.note')).toContain('đang được trả lời trên một tài khoản khác');
    await b.goto(`${suite.t.baseUrl}/s`);
    await b.fill('#code', 'BBBB-2222');
    await b.click('button[type=submit]');
    await b.waitForSelector('.note');
    expect(await b.textContent('.note')).toContain('Mã khảo sát không đúng');
    await first.close();
    await second.close();
  });

  it('a post without the CSRF token of this browser changes nothing', async () => {
    const inv = await invite('WEB-CSRF');
    const r = await fetch(`${suite.t.baseUrl}/s/${inv.token}/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=forged',
    });
    expect(r.status).toBe(403);
    await new Promise((res) => setTimeout(res, 200));
    expect((await api(suite.t.baseUrl, officer, 'GET', `/api/invitations/${inv.id}`)).body.status).toBe('created');
    // The invitation is still free for the citizen.
    const ctx = await suite.browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`${suite.t.baseUrl}/s/${inv.token}`);
    await p.click('#web button[type=submit]');
    await p.waitForSelector('legend');
    await ctx.close();
  });
});

describe('accessibility', () => {
  it('axe-core finds no serious or critical violation on the survey pages', async () => {
    const axe = (await import('axe-core')).default;
    const inv = await invite('WEB-A11Y');
    // axe is injected as a script: the page's own CSP (no inline script) is bypassed for the check only.
    const ctx = await suite.browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 } });
    const p = await ctx.newPage();
    const check = async (what: string) => {
      await p.addScriptTag({ content: axe.source });
      const result = (await p.evaluate('axe.run(document, { resultTypes: ["violations"] })')) as {
        violations: Array<{ id: string; impact: string; help: string }>;
      };
      const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      expect(bad.map((v) => `${what}: ${v.id} (${v.impact}) ${v.help}`)).toEqual([]);
    };
    await p.goto(`${suite.t.baseUrl}/s/${inv.token}`);
    await check('landing');
    await p.click('#web button[type=submit]');
    await p.waitForSelector('legend');
    await check('consent');
    await choose(p, 'Đồng ý tham gia');
    await check('a scale question');
    await p.goto(`${suite.t.baseUrl}/s`);
    await check('code entry');
    await ctx.close();
  }, 60_000);
});
