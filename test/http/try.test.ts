// The /try simulator in headless Chromium: the survey as a Telegram and as a
// Zalo user sees it (the channels' own renderers), kept out of real figures.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserSuite, SHOTS } from '../helpers/browser.js';
import { eventually, startTestService } from '../helpers/context.js';

const suite = browserSuite({ name: 'try_it' });

/** Taps a button of the newest keyboard and waits for the page after it. */
async function tap(p: Page, title: string) {
  const count = await p.locator('.msg').count();
  await p.locator('.kb button:not(.old)').getByText(title, { exact: true }).first().click();
  await p.waitForFunction(`document.querySelectorAll('.msg').length > ${count}`);
}

async function takeSurvey(p: Page) {
  await tap(p, 'Đồng ý tham gia');
  await tap(p, 'Người dân');
  for (let i = 0; i < 14; i++) await tap(p, i % 2 ? 'Hài lòng' : 'Rất hài lòng');
  await tap(p, 'Không');
  await tap(p, 'Không');
  await tap(p, 'Hài lòng');
  await tap(p, 'Bỏ qua');
  await p.waitForSelector('.msg.bot:has-text("Xin chân thành cảm ơn")');
}

describe('the /try simulator', () => {
  it.each(['telegram', 'zalo'])(
    'completes a survey in the %s look, kept out of the real campaign',
    async (look) => {
      const ctx = await suite.browser.newContext({ viewport: { width: 390, height: 844 } });
      const p = await ctx.newPage();
      await p.goto(`${suite.t.baseUrl}/try?look=${look}`);
      await p.waitForSelector('.msg.bot:has-text("Kính chào")');
      expect(await p.textContent('h1')).toContain(look === 'zalo' ? 'Zalo' : 'Telegram');
      // The buttons are the channel's own: Telegram carries "<seq>:<key>", Zalo its "#tthc:" payload.
      const value = await p.locator('.kb button:not(.old)').first().getAttribute('value');
      expect(value).toMatch(look === 'zalo' ? /^#tthc:1:1\|/ : /^1:1\|/);
      await p.screenshot({ path: join(SHOTS, `try-${look}-first.png`), fullPage: true });
      await takeSurvey(p);
      await p.screenshot({ path: join(SHOTS, `try-${look}-thanks.png`), fullPage: true });
      await ctx.close();
    },
    90_000,
  );

  it('counts nothing in the real campaign', async () => {
    const { Response, Counter, CounterTotal } = suite.t.service.db.models;
    await eventually(async () => (await Response.countDocuments({ campaign: 'try' })) === 2, 'both demonstration responses');
    expect(await Response.countDocuments({ campaign: 'soc-trang-2024' })).toBe(0);
    expect(await Counter.countDocuments({ campaign: 'soc-trang-2024' })).toBe(0);
    expect(await CounterTotal.countDocuments({ campaign: 'soc-trang-2024' })).toBe(0);
  });

  it('is off when a chat channel is configured (TRY_IT=auto)', async () => {
    const other = await startTestService({ name: 'try_off', telegramApiRoot: 'http://127.0.0.1:9', workers: false });
    try {
      expect((await fetch(`${other.baseUrl}/try`, { redirect: 'manual' })).status).toBe(404);
    } finally {
      await other.close();
    }
  });
});
