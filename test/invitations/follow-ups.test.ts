// Reminders and expiry with a controlled clock, through the real queues and the Telegram emulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

const vn = (iso: string) => Date.parse(`${iso}+07:00`);
const clock = { t: vn('2024-06-12T20:00:00') };
let emu: TelegramEmulator;
let t: TestService;
let key: string;
let chat = 7000;

beforeAll(async () => {
  emu = await new TelegramEmulator().start();
  t = await startTestService({ name: 'followups', telegramApiRoot: emu.apiRoot, now: () => clock.t });
  key = await t.key('officer', 'HKS');
});
afterAll(async () => {
  await t.close();
  await emu.stop();
});

async function openSurvey(caseCode: string) {
  const inv = (await api(t.baseUrl, key, 'POST', '/api/invitations', { caseCode, unit: 'HKS', field: 'cu-tru', respondentType: 'citizen' })).body;
  const u = new TelegramUser(emu, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, chat++);
  await u.send(`/start ${inv.token}`);
  await u.waitForText('Kính chào');
  // The opening is recorded by a job, which schedules the follow-ups.
  await followUp(`expire-${inv.id}-0`);
  return { inv, u };
}

const followUp = (id: string) => eventually(() => t.service.queues.followUps.getJob(id), `job ${id}`);

/** Runs a follow-up job now and waits until it reports `outcome`. */
async function runFollowUp(id: string, outcome: 'reminded' | 'expired' | 'stale') {
  await (await followUp(id)).promote();
  await eventually(async () => (await t.service.queues.followUps.getJob(id))?.returnvalue === outcome, `${id} to end ${outcome}`);
}

describe('reminders', () => {
  it('are scheduled after 2 h and 24 h, with the quiet hours moved to 07:00', async () => {
    const { inv } = await openSurvey('REM-1');
    // Opened at 20:00 local: 22:00 is quiet, so 07:00 next day (11 h); 24 h later is 20:00 next day.
    expect((await followUp(`remind-${inv.id}-0`)).opts.delay).toBe(11 * 3600_000);
    expect((await followUp(`remind-${inv.id}-1`)).opts.delay).toBe(24 * 3600_000);
    expect((await followUp(`expire-${inv.id}-0`)).opts.delay).toBe(14 * 86_400_000);
  });

  it('resumes where the respondent stopped', async () => {
    const { inv, u } = await openSurvey('REM-2');
    await u.tap(1);
    await u.waitForText('Nơi tiếp nhận hồ sơ dễ tìm');
    const before = u.mark();
    await (await followUp(`remind-${inv.id}-0`)).promote();
    await u.waitForText('Nhắc nhở', before);
    await u.waitFor(() => u.since(before).some((x) => x.text.includes('Nơi tiếp nhận hồ sơ dễ tìm') && x.buttons.length === 6), 'the current question again');
    // The reminder's keyboard answers the survey as usual.
    await u.tap('Hài lòng');
    await u.waitForText('Nơi tiếp nhận có đủ chỗ ngồi', before);
  });

  it('never come after completion', async () => {
    const { inv, u } = await openSurvey('REM-3');
    for (const text of ['1', ...Array(14).fill('4'), '2', '2', '4', '/skip']) {
      const n = u.mark();
      await u.send(text);
      await u.waitFor(() => u.since(n).length > 0, 'a reply');
    }
    await u.waitForText('Xin chân thành cảm ơn');
    await u.waitFor((m) => m.every((x) => x.buttons.length === 0), 'the last keyboard retired');
    const before = u.mark();
    await runFollowUp(`remind-${inv.id}-1`, 'stale');
    await new Promise((r) => setTimeout(r, 200));
    expect(u.since(before)).toEqual([]);
  });

  it('never come after the respondent stopped', async () => {
    const { inv, u } = await openSurvey('REM-STOP');
    await u.send('/stop');
    await u.waitForText('Đã dừng khảo sát');
    const before = u.mark();
    await runFollowUp(`remind-${inv.id}-0`, 'stale');
    await new Promise((r) => setTimeout(r, 200));
    expect(u.since(before)).toEqual([]);
  });

  it('never come after a cancellation, which closes the survey', async () => {
    const { inv, u } = await openSurvey('REM-4');
    expect((await api(t.baseUrl, key, 'POST', `/api/invitations/${inv.id}/cancel`)).status).toBe(200);
    const before = u.mark();
    await runFollowUp(`remind-${inv.id}-0`, 'expired');
    expect(u.since(before)).toEqual([]);
    await u.tap(1);
    await u.waitForText('Khảo sát này đã dừng', before);
  });
});

describe('expiry', () => {
  it('marks the invitation expired and closes its survey silently', async () => {
    const { inv, u } = await openSurvey('EXP-1');
    clock.t += 15 * 86_400_000;
    try {
      const before = u.mark();
      await runFollowUp(`expire-${inv.id}-0`, 'expired');
      expect((await api(t.baseUrl, key, 'GET', `/api/invitations/${inv.id}`)).body.status).toBe('expired');
      expect(u.since(before)).toEqual([]);
      const w = new TelegramUser(emu, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, chat++);
      await w.send(`/start ${inv.token}`);
      await w.waitForText('đã hết hạn');
    } finally {
      clock.t -= 15 * 86_400_000;
    }
  });
});
