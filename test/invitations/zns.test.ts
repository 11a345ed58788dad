// The ZNS invitation of a survey never opened (Zalo emulator, controlled clock):
// once, after the first reminder delay, never at night, idempotent on retry,
// its delivery receipt recorded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, startTestService, type TestService } from '../helpers/context.js';
import { ZaloEmulator, ZaloUser } from '../helpers/zalo-emulator.js';

const vn = (iso: string) => Date.parse(`${iso}+07:00`);
const clock = { t: vn('2024-06-12T10:00:00') };
let emu: ZaloEmulator;
let t: TestService;
let officer: string;

beforeAll(async () => {
  emu = await new ZaloEmulator().start();
  t = await startTestService({ name: 'zns', zalo: emu, now: () => clock.t });
  const admin = await t.key('admin');
  const campaign = (await api(t.baseUrl, admin, 'GET', '/api/admin/campaigns/soc-trang-2024')).body;
  const { active: _a, ...data } = campaign;
  const put = await api(t.baseUrl, admin, 'PUT', '/api/admin/campaigns/soc-trang-2024', {
    ...data,
    zns: { invitation: { templateId: '500123', params: { ma_khao_sat: 'code', don_vi: 'unitName', ho_so: 'caseCode', duong_dan: 'link' } } },
  });
  expect(put.status).toBe(200);
  officer = await t.key('officer', 'PC08');
});
afterAll(async () => {
  await t.close();
  await emu.stop();
});

const invite = async (caseCode: string, phone?: string) =>
  (await api(t.baseUrl, officer, 'POST', '/api/invitations', { caseCode, unit: 'PC08', field: 'dang-ky-xe', ...(phone ? { phone } : {}) })).body as {
    id: string;
    code: string;
  };
const job = (id: string) => eventually(() => t.service.queues.followUps.getJob(`zns-invite-${id}`), 'the ZNS job');
const run = async (id: string, outcome: string) => {
  await (await job(id)).promote();
  await eventually(async () => (await t.service.queues.followUps.getJob(`zns-invite-${id}`))?.returnvalue === outcome, `the ZNS job to end ${outcome}`);
};

describe('ZNS invitation of a survey never opened', () => {
  it('goes once to the phone after the first reminder delay, with the template parameters', async () => {
    const inv = await invite('ZNS-1', '0912 345 678');
    expect((await job(inv.id)).opts.delay).toBe(120 * 60_000);
    await run(inv.id, 'notified');
    expect(emu.znsSent.filter((x) => x.tracking_id === `inv-${inv.id}`)).toEqual([
      {
        phone: '84912345678',
        template_id: '500123',
        template_data: {
          ma_khao_sat: `${inv.code.slice(0, 4)}-${inv.code.slice(4)}`,
          don_vi: 'Phòng Cảnh sát giao thông (PC08)',
          ho_so: 'ZNS-1',
          duong_dan: expect.stringMatching(/^http:\/\/survey\.test\/s\//),
        },
        tracking_id: `inv-${inv.id}`,
        at: expect.any(Number),
      },
    ]);
    expect((await t.service.db.models.Invitation.findById(inv.id).lean())!.znsSentAt).toBeInstanceOf(Date);
  });

  it('is not sent when the survey was opened, or without a phone', async () => {
    const opened = await invite('ZNS-2', '0912345679');
    const u = new ZaloUser(emu, `${t.baseUrl}/webhooks/zalo`, '9007199254740993100');
    await u.send(opened.code);
    await u.waitForText('Kính chào');
    await eventually(async () => (await t.service.db.models.Invitation.findById(opened.id).lean())?.status === 'opened', 'the opening recorded');
    await run(opened.id, 'stale');
    const none = await invite('ZNS-3');
    await new Promise((r) => setTimeout(r, 200));
    expect(await t.service.queues.followUps.getJob(`zns-invite-${none.id}`)).toBeUndefined();
    expect(emu.znsSent.some((x) => x.tracking_id === `inv-${opened.id}`)).toBe(false);
  });

  it('is not sent when the survey was opened a moment ago, before the opening is recorded', async () => {
    const inv = await invite('ZNS-JUST-OPENED', '0912345682');
    // Opened as a webhook opens it: claimed in Redis. The job that records the opening in MongoDB runs a second later
    // (longer while intake is busy); here it is not queued at all, so MongoDB still says "created".
    const opened = await t.service.invitations.open({ code: inv.code }, { channel: 'zalo', userKey: '9007199254740993150' }, '');
    expect(opened).toMatchObject({ ok: true });
    expect((await t.service.db.models.Invitation.findById(inv.id).lean())?.status).toBe('created');
    await run(inv.id, 'stale');
    expect(emu.znsSent.some((x) => x.tracking_id === `inv-${inv.id}`)).toBe(false);
  });

  it('is postponed out of the night hours (22:00-06:00)', async () => {
    const at = clock.t;
    clock.t = vn('2024-06-12T21:00:00');
    try {
      const inv = await invite('ZNS-NIGHT', '0912345680');
      // 21:00 + 2 h = 23:00: postponed to 06:00 the next morning, 9 h after creation.
      expect((await job(inv.id)).opts.delay).toBe(9 * 3600_000);
      // A job that runs at night anyway (e.g. retried) waits for the morning instead of sending.
      clock.t = vn('2024-06-13T02:00:00');
      await (await job(inv.id)).promote();
      await eventually(async () => (await (await job(inv.id)).getState()) === 'delayed', 'the job postponed');
      expect(emu.znsSent.some((x) => x.tracking_id === `inv-${inv.id}`)).toBe(false);
    } finally {
      clock.t = at;
    }
  });

  it('a retry after a lost answer is not delivered twice (tracking_id); a quota error postpones; the delivery receipt is recorded', async () => {
    const inv = await invite('ZNS-RETRY', '0912345681');
    const calls = emu.znsCalls;
    emu.znsFailures.push(-115); // quota: postponed
    await (await job(inv.id)).promote();
    await eventually(async () => (await (await job(inv.id)).getState()) === 'delayed' && emu.znsCalls > calls, 'postponed after the quota error');
    // Delivered, but the answer is lost: the job retries with the same tracking id, and Zalo sends nothing more.
    emu.znsDropAnswerOnce = true;
    await run(inv.id, 'notified');
    expect(emu.znsCalls - calls).toBeGreaterThanOrEqual(3);
    expect(emu.znsSent.filter((x) => x.tracking_id === `inv-${inv.id}`)).toHaveLength(1);

    const u = new ZaloUser(emu, `${t.baseUrl}/webhooks/zalo`, '9007199254740993200');
    const receipt = u.event('user_received_message', { message: { tracking_id: `inv-${inv.id}`, msg_id: 'zns-1' } });
    expect(await u.post(receipt.raw, receipt.headers)).toBe(200);
    await eventually(async () => (await t.service.db.models.Invitation.findById(inv.id).lean())?.znsDeliveredAt, 'the delivery recorded');
  });
});

describe('ZNS reminder outside the chat window', () => {
  const followUp = (id: string) => eventually(() => t.service.queues.followUps.getJob(id), `job ${id}`);
  const remind = async (id: string) => {
    await (await followUp(id)).promote();
    await eventually(async () => (await t.service.queues.followUps.getJob(id))?.returnvalue === 'reminded', `${id} to run`);
  };
  /** A survey opened on Zalo and left at its first question. */
  async function openedOnZalo(caseCode: string, userId: string, phone?: string) {
    const inv = await invite(caseCode, phone);
    const u = new ZaloUser(emu, `${t.baseUrl}/webhooks/zalo`, userId);
    await u.send(inv.code);
    await u.waitForText('Kính chào');
    await eventually(async () => (await t.service.db.models.Invitation.findById(inv.id).lean())?.status === 'opened', 'the opening recorded');
    return { inv, u };
  }

  it('a reminder Zalo refuses (-230: the user last wrote over 7 days ago) goes to the phone as the ZNS reminder, once', async () => {
    const admin = await t.key('admin');
    const { active: _a, ...data } = (await api(t.baseUrl, admin, 'GET', '/api/admin/campaigns/soc-trang-2024')).body;
    emu.approvedTemplates.add('500124');
    const reminder = { templateId: '500124', params: { ma_khao_sat: 'code', don_vi: 'unitName', han: 'expiresAt' } };
    expect((await api(t.baseUrl, admin, 'PUT', '/api/admin/campaigns/soc-trang-2024', { ...data, zns: { ...data.zns, reminder } })).status).toBe(200);
    t.service.invitations.forgetCampaign();

    const { inv, u } = await openedOnZalo('ZNS-WINDOW', '9007199254740993300', '0987 654 321');
    emu.failures.set(u.userId, [-230, -230]);
    await remind(`remind-${inv.id}-0`);
    const sent = await eventually(async () => emu.znsSent.filter((x) => x.tracking_id === `rem-${inv.id}`).length === 1 && emu.znsSent, 'the ZNS reminder');
    expect(sent.find((x) => x.tracking_id === `rem-${inv.id}`)).toMatchObject({
      phone: '84987654321',
      template_id: '500124',
      template_data: {
        ma_khao_sat: `${inv.code.slice(0, 4)}-${inv.code.slice(4)}`,
        don_vi: 'Phòng Cảnh sát giao thông (PC08)',
        han: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      },
    });
    // The second reminder is refused too: still one ZNS reminder per invitation.
    await remind(`remind-${inv.id}-1`);
    await eventually(async () => !(emu.failures.get(u.userId) ?? []).length, 'the second chat reminder tried');
    await new Promise((r) => setTimeout(r, 300));
    expect(emu.znsSent.filter((x) => x.tracking_id === `rem-${inv.id}`)).toHaveLength(1);
    // The chat is not written off: when the citizen writes again, the survey answers.
    const before = u.messages().length;
    await u.tap('Đồng ý tham gia', u.lastWithButtons());
    await eventually(async () => u.messages().length > before, 'the next question after the window reopened');
  });

  it('without a phone the refused reminder is simply not sent', async () => {
    const { inv, u } = await openedOnZalo('ZNS-WINDOW-2', '9007199254740993400');
    emu.failures.set(u.userId, [-232]);
    await remind(`remind-${inv.id}-0`);
    await eventually(async () => !(emu.failures.get(u.userId) ?? []).length, 'the chat reminder tried');
    await new Promise((r) => setTimeout(r, 300));
    expect(emu.znsSent.some((x) => x.tracking_id === `rem-${inv.id}`)).toBe(false);
  });
});
