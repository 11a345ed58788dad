// Intake first, end to end: while webhooks pour in, the service records nothing
// in MongoDB (its database jobs step aside) and every respondent still gets
// each next question; once intake is quiet the records land.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

let emu: TelegramEmulator;
let t: TestService;
/** Other chats writing all the time. */
let noisy = true;

beforeAll(async () => {
  emu = await new TelegramEmulator().start();
  t = await startTestService({ name: 'intake_first', telegramApiRoot: emu.apiRoot, env: { INTAKE_BUSY_RATE: '5' } });
});
afterAll(async () => {
  noisy = false;
  await t.close();
  await emu.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('intake first', () => {
  it('holds the records back while webhooks pour in, asks every next question meanwhile, and records once it is quiet', async () => {
    const key = await t.key('officer', 'PC08');
    const inv = (await api(t.baseUrl, key, 'POST', '/api/invitations', { caseCode: 'BURST-1', unit: 'PC08', field: 'dang-ky-xe', respondentType: 'citizen' }))
      .body as { id: string; token: string };
    const hook = { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET };
    // About 40 updates a second, well above the 5 that count as busy here (a loaded machine slows them).
    const noise = (async () => {
      const others = [new TelegramUser(emu, hook, 71_001), new TelegramUser(emu, hook, 71_002)];
      while (noisy) {
        await Promise.all(others.map((o) => o.send('xin chào')));
        await sleep(40);
      }
    })();
    await eventually(async () => t.service.pressure.deferring, 'the database jobs stepping aside');

    const u = new TelegramUser(emu, hook, 71_000);
    await u.send(`/start ${inv.token}`);
    await u.waitForText('Kính chào');
    for (const text of ['1', ...Array(14).fill('4'), '2', '2', '4', '/skip']) {
      const mark = u.mark();
      expect((await u.send(text)).status).toBe(200);
      await u.waitFor(() => u.since(mark).some((m) => m.buttons.length > 0 || m.text.includes('cảm ơn')), 'the next question');
    }
    await u.waitForText('Xin chân thành cảm ơn');

    const { Response, Invitation } = t.service.db.models;
    await sleep(1_500);
    // Thanked, and nothing written yet: not the opening, not the ballot.
    expect(t.service.pressure.deferring).toBe(true);
    expect(await Response.countDocuments({ invitationId: inv.id })).toBe(0);
    expect((await Invitation.findById(inv.id).lean())?.status).toBe('created');

    noisy = false;
    await noise;
    await eventually(async () => (await Invitation.findById(inv.id).lean())?.status === 'completed', 'the invitation completed', 15_000);
    expect(await Response.countDocuments({ invitationId: inv.id })).toBe(1);
    expect(t.service.pressure.deferring).toBe(false);
  }, 60_000);
});
