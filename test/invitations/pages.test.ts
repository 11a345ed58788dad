// The officer page and the landing page in headless Chromium.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { browserSuite, SHOTS } from '../helpers/browser.js';
import { api, startTestService } from '../helpers/context.js';

const suite = browserSuite({ name: 'pages', env: { TELEGRAM_BOT_USERNAME: 'tthc_test_bot', ZALO_OA_ID: '4318700000000000001' }, workers: false });
let key: string;
beforeAll(async () => {
  key = await suite.t.key('officer', 'HMX');
});

describe('officer page', () => {
  it('signs in with the unit key, creates an invitation, prints the slip and lists it', async () => {
    const pageObj = await suite.browser.newPage({ viewport: { width: 900, height: 1200 } });
    await pageObj.goto(`${suite.t.baseUrl}/officer`);
    await pageObj.fill('#key', 'wrong');
    await pageObj.click('#signin button[type=submit]');
    await pageObj.waitForSelector('#signin-error:has-text("Không đăng nhập được")');
    // In the officer's language: no English from the API reaches the page.
    expect(await pageObj.textContent('#signin-error')).toContain('Khóa đơn vị không đúng');
    expect(await pageObj.textContent('#signin-error')).not.toMatch(/Authorization|Bearer|key/);

    await pageObj.fill('#key', key);
    await pageObj.click('#signin button[type=submit]');
    await pageObj.waitForSelector('#work:not([hidden])');
    expect(await pageObj.textContent('#who')).toBe('Công an huyện Mỹ Xuyên');
    // An officer key offers its own unit only, and that unit's fields.
    expect(await pageObj.$$eval('#unit option', (o) => o.map((x) => x.getAttribute('value')))).toEqual(['HMX']);
    expect(await pageObj.$$eval('#field option', (o) => o.length)).toBe(6);

    await pageObj.fill('#caseCode', 'H52-240612-0042');
    await pageObj.selectOption('#field', 'cu-tru');
    await pageObj.selectOption('#respondentType', 'citizen');
    await pageObj.click('#create');
    await pageObj.waitForSelector('#slip-card:not([hidden]) #slip-qr svg');
    const code = (await pageObj.textContent('#slip-code'))!;
    expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    expect(await pageObj.textContent('#slip-unit')).toBe('Công an huyện Mỹ Xuyên');
    expect(await pageObj.textContent('#slip-case')).toBe('Hồ sơ: H52-240612-0042');
    expect(await pageObj.textContent('#slip-help')).toContain(code);
    // The slip says what it is, whose it is, and where to send the code without scanning.
    expect(await pageObj.textContent('#slip-title')).toBe('PHIẾU KHẢO SÁT SỰ HÀI LÒNG');
    expect(await pageObj.textContent('#slip-org')).toBe('Công an tỉnh Sóc Trăng');
    expect(await pageObj.textContent('#slip-help')).toContain(`gửi mã ${code} tới "Công an tỉnh" trên Zalo`);
    expect(await pageObj.textContent('#slip-help')).toContain(`tới @tthc_test_bot trên Telegram`);
    await pageObj.waitForSelector('#today tr:has-text("H52-240612-0042") .status:has-text("Chưa mở")');
    // One form of the code everywhere; the form is ready for the next case.
    expect(await pageObj.textContent('#today tr:has-text("H52-240612-0042") .code-cell')).toBe(code);
    expect(await pageObj.inputValue('#caseCode')).toBe('');
    expect(await pageObj.textContent('#create-note')).toContain('Đã tạo phiếu');
    // The same case again is a reprint of the same slip, and says so.
    await pageObj.fill('#caseCode', 'H52-240612-0042');
    await pageObj.click('#create');
    await pageObj.waitForSelector('#create-note:has-text("bản in lại")');
    expect(await pageObj.textContent('#slip-code')).toBe(code);
    // The 2024 campaign runs in 2026: the page says so.
    expect(await pageObj.textContent('#warnings')).toContain('đã kết thúc (2024-09-30)');

    // The printed slip: only the slip is on paper.
    await pageObj.selectOption('#size', 'receipt');
    await pageObj.emulateMedia({ media: 'print' });
    expect(await pageObj.isVisible('#create-form')).toBe(false);
    expect(await pageObj.isVisible('#slip')).toBe(true);
    const slipBox = (await pageObj.locator('#slip').boundingBox())!;
    expect(Math.round(slipBox.width)).toBe(Math.round((72 / 25.4) * 96)); // 80 mm paper less its margins
    await pageObj.locator('#slip').screenshot({ path: join(SHOTS, 'slip-receipt.png') });
    await pageObj.emulateMedia({ media: 'screen' });
    await pageObj.selectOption('#size', 'a6');
    await pageObj.emulateMedia({ media: 'print' });
    expect(Math.round((await pageObj.locator('#slip').boundingBox())!.width)).toBe(Math.round((97 / 25.4) * 96)); // A6 less its margins
    await pageObj.locator('#slip').screenshot({ path: join(SHOTS, 'slip-a6.png') });
    // Printed at A6 it is one page (it used to spill onto a second).
    const pdf = await pageObj.pdf({ format: 'A6', printBackground: true, path: join(SHOTS, 'slip-a6.pdf') });
    expect(pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g)).toHaveLength(1);
    await pageObj.emulateMedia({ media: 'screen' });
    await pageObj.selectOption('#size', 'receipt');
    await pageObj.emulateMedia({ media: 'print' });
    const receipt = await pageObj.pdf({ width: '80mm', height: '200mm', printBackground: true, path: join(SHOTS, 'slip-receipt.pdf') });
    expect(receipt.toString('latin1').match(/\/Type\s*\/Page[^s]/g)).toHaveLength(1);

    const invs = (await api(suite.t.baseUrl, key, 'GET', '/api/invitations')).body.invitations;
    expect(invs[0]).toMatchObject({ caseCode: 'H52-240612-0042', field: 'cu-tru', status: 'created', code: code.replace('-', '') });
    await pageObj.close();
  }, 60_000);

  it('a district leader picks one of its communes, a procedure from the list and how the case came in', async () => {
    const leader = await suite.t.key('officer', 'HKS', true);
    const p = await suite.browser.newPage();
    await p.goto(`${suite.t.baseUrl}/officer`);
    await p.fill('#key', leader);
    await p.click('#signin button[type=submit]');
    await p.waitForSelector('#work:not([hidden])');
    expect(await p.textContent('#who')).toBe('Công an huyện Kế Sách (và 3 đơn vị trực thuộc)');
    expect(await p.$$eval('#unit option', (o) => o.map((x) => x.getAttribute('value')))).toEqual(['HKS', 'KS-TT', 'KS-ALT', 'KS-BT']);
    await p.selectOption('#unit', 'KS-TT');
    await p.selectOption('#field', 'cu-tru');
    // The field's coded procedures are offered; the day the result is handed back defaults to today.
    expect(await p.$$eval('#procedures option', (o) => o.map((x) => x.getAttribute('value')))).toEqual([
      'Đăng ký thường trú',
      'Đăng ký tạm trú',
      'Xác nhận thông tin về cư trú',
    ]);
    expect(await p.inputValue('#handedBackOn')).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    await p.fill('#caseCode', 'KS-TT-0001');
    await p.fill('#procedure', 'Đăng ký tạm trú');
    await p.selectOption('#submittedVia', 'postal');
    await p.fill('#handedBackOn', '2026-11-20');
    await p.click('#create');
    await p.waitForSelector('#slip-card:not([hidden]) #slip-qr svg');
    expect(await p.textContent('#slip-unit')).toBe('Công an thị trấn Kế Sách');
    const inv = await suite.t.service.db.models.Invitation.findOne({ caseCode: 'KS-TT-0001' }).lean();
    expect(inv).toMatchObject({
      unit: 'KS-TT',
      procedureCode: 'ct-tam-tru',
      submittedVia: 'postal',
      handedBackOn: '2026-11-20',
      createdBy: leader.split('.')[0],
    });
    await p.close();
  });

  it('shows a creation error in Vietnamese', async () => {
    const p = await suite.browser.newPage();
    await p.goto(`${suite.t.baseUrl}/officer`);
    await p.fill('#key', key);
    await p.click('#signin button[type=submit]');
    await p.waitForSelector('#work:not([hidden])');
    await p.fill('#caseCode', 'has spaces');
    await p.click('#create');
    await p.waitForSelector('#create-error:has-text("Thông tin chưa hợp lệ")');
    expect(await p.textContent('#create-error')).not.toMatch(/caseCode|letters|digits/);
    await p.close();
  });

  it('with no chat channel, warns the officer and the slip asks only for the QR code', async () => {
    const bare = await startTestService({ name: 'pages_bare', workers: false });
    try {
      const k = await bare.key('officer', 'PC06');
      const p = await suite.browser.newPage();
      await p.goto(`${bare.baseUrl}/officer`);
      await p.fill('#key', k);
      await p.click('#signin button[type=submit]');
      await p.waitForSelector('#warnings:not([hidden])');
      expect(await p.textContent('#warnings')).toContain('Chưa bật kênh Zalo hay Telegram nào');
      await p.fill('#caseCode', 'BARE-1');
      await p.click('#create');
      await p.waitForSelector('#slip-card:not([hidden]) #slip-qr svg');
      expect(await p.textContent('#slip-help')).not.toMatch(/Zalo|Telegram/);
      await p.close();
    } finally {
      await bare.close();
    }
  });
});

describe('landing page', () => {
  it('offers Zalo with the code to send, Telegram, and room for the browser', async () => {
    const inv = (await api(suite.t.baseUrl, key, 'POST', '/api/invitations', { caseCode: 'LAND-1', unit: 'HMX', field: 'can-cuoc' })).body;
    const p = await suite.browser.newPage({ viewport: { width: 390, height: 844 } });
    await p.goto(inv.links.landing.replace('http://survey.test', suite.t.baseUrl));
    expect(await p.textContent('#zalo .code')).toBe(`${inv.code.slice(0, 4)}-${inv.code.slice(4)}`);
    expect(await p.getAttribute('#zalo a', 'href')).toBe('https://zalo.me/4318700000000000001');
    expect(await p.getAttribute('#telegram a', 'href')).toBe(`https://t.me/tthc_test_bot?start=${inv.token}`);
    expect(await p.isEnabled('#web button[type=submit]')).toBe(true);
    await p.screenshot({ path: join(SHOTS, 'landing.png'), fullPage: true });

    await api(suite.t.baseUrl, key, 'POST', `/api/invitations/${inv.id}/cancel`);
    await p.reload();
    expect(await p.textContent('main')).toContain('Phiếu khảo sát này đã bị hủy');
    const missing = await p.goto(`${suite.t.baseUrl}/s/AAAAAAAAAAAAAAAAAAAAAA`);
    expect(missing!.status()).toBe(404);
    await p.close();
  });
});
