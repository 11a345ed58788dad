// A whole post-audit with a controlled clock: ballots answered over Telegram,
// the emulated Zalo and the browser; the sample drawn; verification in the
// chats (a confirmation, a denial, a differing answer), a Zalo chat outside its
// window (ZNS, reminder, then the call list), a browser respondent on the call
// list; invalidation reflected in the index and equal to a recount; an
// override; the reports; the deadline flag; the purge of contacts.
import ExcelJS from 'exceljs';
import { Redis } from 'ioredis';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encrypt } from '../../src/crypto.js';
import { checkInvitationCounts } from '../../src/invitations/counts.js';
import { invitationWriteLock } from '../../src/invitations/invitations.js';
import { persistCompletion } from '../../src/responses/complete.js';
import { checkCounters } from '../../src/responses/counters.js';
import { api, eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';
import { ZaloEmulator, ZaloUser } from '../helpers/zalo-emulator.js';

const vn = (iso: string) => Date.parse(`${iso}+07:00`);
const clock = { t: vn('2024-06-20T09:00:00') };
let tg: TelegramEmulator;
let zalo: ZaloEmulator;
let t: TestService;
let officer: string;
let pv01: string;

beforeAll(async () => {
  [tg, zalo] = await Promise.all([new TelegramEmulator().start(), new ZaloEmulator().start()]);
  t = await startTestService({ name: 'audit', telegramApiRoot: tg.apiRoot, zalo, now: () => clock.t });
  const admin = await t.key('admin');
  const { active: _a, ...data } = (await api(t.baseUrl, admin, 'GET', '/api/admin/campaigns/soc-trang-2024')).body;
  zalo.approvedTemplates.add('500125');
  const verification = { templateId: '500125', params: { don_vi: 'unitName', ho_so: 'caseCode' } };
  expect((await api(t.baseUrl, admin, 'PUT', '/api/admin/campaigns/soc-trang-2024', { ...data, zns: { verification } })).status).toBe(200);
  [officer, pv01] = await Promise.all([t.key('officer', 'PC08'), t.key('pv01')]);
});
afterAll(async () => {
  await t.close();
  await Promise.all([tg.stop(), zalo.stop()]);
});

async function invite(caseCode: string, phone?: string) {
  const r = await api(t.baseUrl, officer, 'POST', '/api/invitations', {
    caseCode,
    unit: 'PC08',
    field: 'dang-ky-xe',
    respondentType: 'citizen',
    ...(phone ? { phone } : {}),
  });
  expect(r.status).toBe(201);
  return r.body as { id: string; token: string; code: string };
}

type Act = 'agree' | 'satisfied' | 'unsatisfied' | 'no' | 'skip';
/** Answers a whole citizen survey (version 1) with one level everywhere (then skips the comment asked after a low answer). */
async function survey(next: (act: Act) => Promise<void>, level: 'satisfied' | 'unsatisfied' = 'satisfied') {
  await next('agree');
  for (let i = 0; i < 14; i++) await next(level);
  await next('no');
  await next('no');
  await next(level);
  if (level === 'unsatisfied') await next('skip');
  await next('skip');
}
const LABEL = { agree: 'Đồng ý tham gia', satisfied: 'Hài lòng', unsatisfied: 'Không hài lòng', no: 'Không', skip: 'Bỏ qua' } as const;

async function telegramBallot(caseCode: string, chatId: number, level: 'satisfied' | 'unsatisfied' = 'satisfied') {
  const inv = await invite(caseCode);
  const u = new TelegramUser(tg, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, chatId);
  expect((await u.send(`/start ${inv.token}`)).status).toBe(200);
  await u.waitForText('Kính chào');
  await survey(async (act) => {
    const mark = u.mark();
    expect((await u.tap(LABEL[act])).status).toBe(200);
    await u.waitFor(() => u.since(mark).some((x) => x.buttons.length > 0 || x.text.includes('cảm ơn')), 'the next question');
  }, level);
  await u.waitForText('Xin chân thành cảm ơn');
  return { inv, u };
}

async function zaloBallot(caseCode: string, userId: string, phone?: string) {
  const inv = await invite(caseCode, phone);
  const u = new ZaloUser(zalo, `${t.baseUrl}/webhooks/zalo`, userId);
  expect(await u.send(inv.code)).toBe(200);
  await u.waitForText('Kính chào');
  await survey(async (act) => {
    const n = u.messages().length;
    expect(await u.tap(LABEL[act])).toBe(200);
    await eventually(async () => u.messages().length > n, 'the next message');
  });
  await u.waitForText('Xin chân thành cảm ơn');
  return { inv, u };
}

const models = () => t.service.db.models;
const itemOf = (auditId: string, invitationId: string) =>
  eventually(() => models().AuditItem.findOne({ audit: auditId, invitationId }).lean(), 'the audit item');
const promote = async (jobId: string, outcome: string) => {
  const job = await eventually(() => t.service.queues.followUps.getJob(jobId), `job ${jobId}`);
  await job.promote();
  await eventually(async () => (await t.service.queues.followUps.getJob(jobId))?.returnvalue === outcome, `${jobId} to end ${outcome}`);
};

/** Ballots of a unit and field counted as invalidated, over the whole campaign. */
async function invalidatedCount(unit: string, field: string) {
  const row = await models().InvitationCountTotal.findOne({ campaign: 'soc-trang-2024', span: 'all', unit, field }).lean();
  return row?.invalidated ?? 0;
}

describe('post-audit', () => {
  let ballots: Record<string, { inv: { id: string }; u?: TelegramUser | ZaloUser }>;
  let auditId: string;
  let indexBefore: number;

  it('needs valid ballots: seven answered over Telegram, Zalo and the browser', async () => {
    // The second Telegram respondent is dissatisfied with everything (and will deny having answered).
    const [t1, t2, t3] = [await telegramBallot('AU-T1', 9101), await telegramBallot('AU-T2', 9102, 'unsatisfied'), await telegramBallot('AU-T3', 9103)];
    const t4 = await telegramBallot('AU-T4', 9104);
    const z1 = await zaloBallot('AU-Z1', '9007199254741001');
    const z2 = await zaloBallot('AU-Z2', '9007199254741002', '0912 000 222');
    // The browser channel: its respondent has no chat to write to (completed here through the completion path, as the web page does).
    const w1 = { inv: await invite('AU-W1', '0912 000 333') };
    await persistCompletion(t.service.db.models, t.service.flows, {
      ref: w1.inv.id,
      flow: 'citizen-satisfaction@1',
      channel: 'web',
      respondent: 'web-respondent',
      contact: encrypt(Buffer.alloc(32, 7), JSON.stringify({ channel: 'web', userKey: 'browser-1' })),
      answers: { consent: 'agree', respondent_type: 'citizen', overall: 4, access_location: 4 },
      startedAt: clock.t - 300_000,
      completedAt: clock.t,
    });
    ballots = { t1, t2, t3, t4, z1, z2, w1 };
    await eventually(async () => (await models().Response.countDocuments({ unit: 'PC08' })) === 7, 'seven responses');
    // The contact is kept encrypted: no chat id in clear on the response.
    const r = (await models().Response.findOne({ invitationId: z1.inv.id }).lean())!;
    expect(r.contactEnc).toBeTruthy();
    expect(JSON.stringify(r)).not.toContain('9007199254741001');
  }, 60_000);

  it('PV01 draws the sample: parameters checked, seed stored, the same seed draws the same ballots', async () => {
    expect((await api(t.baseUrl, officer, 'POST', '/api/audits', {})).status).toBe(403);
    const bad = await api(t.baseUrl, pv01, 'POST', '/api/audits', { rate: 2, units: ['NOPE'] });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid_body']);
    const unknownUnit = await api(t.baseUrl, pv01, 'POST', '/api/audits', { units: ['NOPE'] });
    expect([unknownUnit.status, unknownUnit.body.error.code]).toEqual([400, 'unknown_unit']);

    // The default 10% with a minimum of 3: N = 7 gives 3; the same seed gives the same three.
    const small = await api(t.baseUrl, pv01, 'POST', '/api/audits', { units: ['PC08'], seed: 'repeat' });
    const again = await api(t.baseUrl, pv01, 'POST', '/api/audits', { units: ['PC08'], seed: 'repeat' });
    const drawnOf = async (id: string) => (await models().AuditItem.find({ audit: id }).lean()).map((i) => i.invitationId).sort();
    expect(small.body.progress.sampled).toBe(3);
    expect(await drawnOf(again.body.id)).toEqual(await drawnOf(small.body.id));
    // Those two audits are set aside: their verifications are overridden so they do not interfere.
    for (const a of [small.body.id, again.body.id]) {
      for (const i of await models().AuditItem.find({ audit: a }).lean()) {
        await api(t.baseUrl, pv01, 'POST', `/api/audits/${a}/items/${i._id}/override`, { outcome: 'confirmed', reason: 'thử nghiệm' });
      }
    }

    // An audit runs weeks after the surveys: by then the per-chat send pacing of the survey's replies is long over.
    await t.service.redis.del(...(await t.service.redis.keys(`${t.prefix}{rl:*}:chat:*`)));
    // Zalo user 2 last wrote long ago: Zalo refuses the verification (and the reminder).
    zalo.failures.set('9007199254741002', [-230, -230]);
    // The fourth Telegram respondent has blocked the bot since.
    tg.blocked.add(9104);
    const audit = await api(t.baseUrl, pv01, 'POST', '/api/audits', { units: ['PC08'], rate: 1, riskWeighting: true, seed: 'e2e' });
    expect(audit.status).toBe(201);
    expect(audit.body).toMatchObject({ seed: 'e2e', rate: 1, minimum: 3, riskWeighting: true, deadline: '2024-08-15', status: 'open', deadlineNear: false });
    expect(audit.body.weighting).toContain('weight = 1 + 3 x number of risk signals');
    expect(audit.body.progress.sampled).toBe(7);
    auditId = audit.body.id;
  });

  it('asks each chat respondent on their channel; their answers give the outcomes; a denied ballot leaves the counts', async () => {
    const dissatisfied = async () =>
      (await models().CounterTotal.find({ campaign: 'soc-trang-2024', unit: 'PC08', q: 'overall', value: '2', span: 'all' }).lean()).reduce(
        (n, c) => n + (c.n ?? 0),
        0,
      );
    const overallBefore = await dissatisfied();
    const t1 = ballots.t1!.u as TelegramUser;
    const t2 = ballots.t2!.u as TelegramUser;
    const t3 = ballots.t3!.u as TelegramUser;
    for (const u of [t1, t2, t3]) await u.waitForText('Công an tỉnh đang xác minh kết quả khảo sát');
    expect(t1.last()!.text).toMatch(/hồ sơ AU-T1 tại Phòng Cảnh sát giao thông \(PC08\) ngày 20\/06\/2024/);
    const tapAndWait = async (u: TelegramUser, label: string) => {
      const mark = u.mark();
      expect((await u.tap(label)).status).toBe(200);
      await u.waitFor(() => u.since(mark).length > 0, 'the next message');
    };
    await tapAndWait(t1, 'Có');
    await tapAndWait(t1, 'Hài lòng');
    // t3 said "Hài lòng" (4) and now says "Không hài lòng" (2): more than one level apart.
    await tapAndWait(t2, 'Không');
    await tapAndWait(t3, 'Có');
    await tapAndWait(t3, 'Không hài lòng');
    const z1 = ballots.z1!.u as ZaloUser;
    await z1.waitForText('Công an tỉnh đang xác minh');
    await z1.tap('Có');
    await eventually(async () => z1.lastWithButtons()?.text.includes('Nhìn chung'), 'the overall question on Zalo');
    await z1.tap('Hài lòng');

    const outcome = async (b: string) => (await eventually(async () => (await itemOf(auditId, ballots[b]!.inv.id))?.outcome, `the outcome of ${b}`)) as string;
    expect(await outcome('t1')).toBe('confirmed');
    expect(await outcome('t2')).toBe('denied');
    expect(await outcome('t3')).toBe('differs');
    expect(await outcome('z1')).toBe('confirmed');
    const denied = (await models().Response.findOne({ invitationId: ballots.t2!.inv.id }).lean())!;
    expect(denied).toMatchObject({ status: 'invalidated', invalidatedBy: auditId, invalidReason: 'denied at post-audit verification' });
    // The counters follow: one "Không hài lòng" less on the overall question, and they equal a recount.
    expect(await dissatisfied()).toBe(overallBefore - 1);
    expect((await checkCounters(t.service.db.models, 'soc-trang-2024')).mismatches).toEqual([]);
    // Mẫu 01 counts it as invalidated (from the counts, not the ballots).
    await eventually(async () => (await invalidatedCount(denied.unit, denied.field!)) === 1, 'the ballot counted as invalidated');
    expect((await checkInvitationCounts(t.service.db.models, 'soc-trang-2024', 'Asia/Ho_Chi_Minh')).mismatches).toEqual([]);
  });

  it('a chat that blocked the bot is "blocked" once the verification times out (no phone: not on the call list)', async () => {
    const item = await itemOf(auditId, ballots.t4!.inv.id);
    await eventually(async () => (await itemOf(auditId, ballots.t4!.inv.id)).state === 'asked', 'the verification tried');
    await promote(`audit-timeout-${item._id}`, 'blocked');
    expect(await itemOf(auditId, ballots.t4!.inv.id)).toMatchObject({ state: 'done', outcome: 'blocked' });
  });

  it('a Zalo chat outside its window gets the ZNS verification, a reminder after 24 h, then goes on the call list', async () => {
    const z2 = ballots.z2!.inv.id;
    await eventually(async () => zalo.znsSent.some((x) => x.tracking_id === `ver-${z2}`), 'the ZNS verification');
    expect(zalo.znsSent.find((x) => x.tracking_id === `ver-${z2}`)).toMatchObject({
      phone: '84912000222',
      template_id: '500125',
      template_data: { ho_so: 'AU-Z2' },
    });
    const item = await itemOf(auditId, z2);
    await promote(`audit-remind-${item._id}`, 'reminded');
    await promote(`audit-timeout-${item._id}`, 'call');
    expect(await itemOf(auditId, z2)).toMatchObject({ state: 'call', outcome: 'unreachable' });
    // Only one ZNS verification, whatever the reminder did.
    expect(zalo.znsSent.filter((x) => x.tracking_id === `ver-${z2}`)).toHaveLength(1);
  });

  it('PV01 calls who no message reaches (the browser respondent at once), and every read of the list is logged', async () => {
    await eventually(async () => (await itemOf(auditId, ballots.w1!.inv.id)).state === 'call', 'the browser respondent on the call list');
    const admin = await t.key('admin');
    expect((await api(t.baseUrl, admin, 'GET', `/api/audits/${auditId}/calls`)).status).toBe(403);
    const { calls } = (await api(t.baseUrl, pv01, 'GET', `/api/audits/${auditId}/calls`)).body as {
      calls: Array<{ item: string; caseCode: string; phone: string; why: string }>;
    };
    expect(calls.map((c) => [c.caseCode, c.phone, c.why]).sort()).toEqual([
      ['AU-W1', '84912000333', 'unreachable'],
      ['AU-Z2', '84912000222', 'unreachable'],
    ]);
    expect(await t.service.db.models.AuditLog.countDocuments({ action: 'audit.calls.read', target: auditId })).toBe(1);
    const w1 = calls.find((c) => c.caseCode === 'AU-W1')!;
    const z2 = calls.find((c) => c.caseCode === 'AU-Z2')!;
    const noNote = await api(t.baseUrl, pv01, 'POST', `/api/audits/${auditId}/items/${w1.item}/call`, { outcome: 'confirmed' });
    expect(noNote.status).toBe(400);
    expect(
      (await api(t.baseUrl, pv01, 'POST', `/api/audits/${auditId}/items/${w1.item}/call`, { outcome: 'confirmed', note: 'Ông A xác nhận qua điện thoại' }))
        .status,
    ).toBe(200);
    expect(
      (await api(t.baseUrl, pv01, 'POST', `/api/audits/${auditId}/items/${z2.item}/call`, { outcome: 'unreachable', note: 'Gọi 3 lần không nghe máy' })).status,
    ).toBe(200);
    expect((await api(t.baseUrl, pv01, 'POST', `/api/audits/${auditId}/items/${z2.item}/call`, { outcome: 'confirmed', note: 'lại' })).body.error.code).toBe(
      'not_on_call_list',
    );
    expect(await t.service.db.models.AuditLog.countDocuments({ action: 'audit.call' })).toBe(2);
  });

  it('reports per unit: outcomes, problem rate, the index before and after, as JSON, CSV and XLSX', async () => {
    const audit = (await api(t.baseUrl, pv01, 'GET', `/api/audits/${auditId}`)).body;
    expect(audit.status).toBe('closed');
    const pc08 = audit.units.find((u: { unit: string }) => u.unit === 'PC08');
    expect(pc08).toMatchObject({
      validN: 7,
      sampled: 7,
      reached: 5,
      confirmed: 3,
      differing: 1,
      denied: 1,
      unreachable: 1,
      blocked: 1,
      pending: 0,
      problemRate: 40,
    });
    // The denied ballot was the one dissatisfied with everything: without it every criterion is at 100%.
    // Before: access_location 6 of 7 satisfied (the browser ballot answered it too), every other criterion 5 of 6:
    // access (85.71 + 83.33 + 83.33) / 3 = 84.12, the four other elements 83.33, index (84.12 + 4 x 83.33) / 5 = 83.49.
    expect(pc08.indexAfter).toBe(100);
    expect(pc08.indexBefore).toBe(83.49);
    indexBefore = pc08.indexBefore;
    const csv = await fetch(`${t.baseUrl}/api/audits/${auditId}/report.csv`, { headers: { authorization: `Bearer ${pv01}` } });
    const text = await csv.text();
    expect(text.split('\r\n')[0]).toContain('"Đơn vị","Số phiếu hợp lệ","Số phiếu chọn mẫu","Liên hệ được"');
    expect(text).toContain('"PC08","7","7","5","3","1","1","1","1","0","40"');
    const xlsx = await fetch(`${t.baseUrl}/api/audits/${auditId}/report.xlsx`, { headers: { authorization: `Bearer ${pv01}` } });
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(Buffer.from(await xlsx.arrayBuffer()) as never);
    const sheet = book.getWorksheet('Hậu kiểm')!;
    expect(sheet.getRow(1).getCell(1).value).toBe('Đơn vị');
    expect([sheet.getRow(2).getCell(1).value, sheet.getRow(2).getCell(7).value, sheet.getRow(2).getCell(11).value]).toEqual(['PC08', 1, 40]);
    expect((await api(t.baseUrl, pv01, 'GET', `/api/audits/${auditId}/report.json`)).body.units).toEqual(audit.units);
  });

  it('an override puts a denied ballot back, with its reason, and the counts equal a recount again', async () => {
    const item = await itemOf(auditId, ballots.t2!.inv.id);
    const r = await api(t.baseUrl, pv01, 'POST', `/api/audits/${auditId}/items/${item._id}/override`, {
      outcome: 'confirmed',
      reason: 'Người dân gọi lại, bấm nhầm',
    });
    expect(r.body).toEqual({ item: String(item._id), outcome: 'confirmed', before: 'denied' });
    const back = (await models().Response.findOne({ invitationId: ballots.t2!.inv.id }).lean())!;
    expect(back.status).toBe('valid');
    expect((await checkCounters(t.service.db.models, 'soc-trang-2024')).mismatches).toEqual([]);
    expect(await invalidatedCount(back.unit, back.field!)).toBe(0);
    expect((await checkInvitationCounts(t.service.db.models, 'soc-trang-2024', 'Asia/Ho_Chi_Minh')).mismatches).toEqual([]);
    expect(await t.service.db.models.AuditLog.countDocuments({ action: 'audit.override', target: String(item._id) })).toBe(1);
    const pc08 = (await api(t.baseUrl, pv01, 'GET', `/api/audits/${auditId}`)).body.units.find((u: { unit: string }) => u.unit === 'PC08');
    expect([pc08.indexAfter, pc08.denied, pc08.confirmed]).toEqual([indexBefore, 0, 4]);
  });

  it('an open audit is flagged within 3 days of its deadline', async () => {
    const open = (await api(t.baseUrl, pv01, 'POST', '/api/audits', { units: ['PC08'], seed: 'late' })).body;
    expect(open.deadlineNear).toBe(false);
    clock.t = vn('2024-08-12T09:00:00');
    const listed = (await api(t.baseUrl, pv01, 'GET', '/api/audits')).body.audits as Array<{ id: string; deadlineNear: boolean }>;
    expect(listed.find((a) => a.id === open.id)!.deadlineNear).toBe(true);
    expect(listed.find((a) => a.id === auditId)!.deadlineNear).toBe(false); // closed
  });

  it("forgets respondents' contacts after the last deadline plus the retention period", async () => {
    // 2024 campaign: last deadline 30/9/2024, kept 30 days.
    clock.t = vn('2024-10-30T09:00:00');
    expect(await t.service.audits.purgeContacts()).toBe(0);
    clock.t = vn('2024-11-01T09:00:00');
    // An invitation's other writer at work (a ZNS delivery report): the purge waits for it, and both writes stay.
    const { Invitation } = t.service.db.models;
    const busy = (await Invitation.findOne({ phoneEnc: { $exists: true } }).lean())!;
    const redis = new Redis(inject('redisUrl'));
    const order: string[] = [];
    const delivered = new Date();
    const writer = invitationWriteLock(redis, t.prefix).hold(String(busy._id), async () => {
      await new Promise((r) => setTimeout(r, 500));
      await Invitation.updateOne({ _id: busy._id }, { $set: { znsDeliveredAt: delivered } });
      order.push('delivery recorded');
    });
    await new Promise((r) => setTimeout(r, 50));
    const purged = await t.service.audits.purgeContacts();
    order.push('purged');
    await writer;
    redis.disconnect();
    expect(order).toEqual(['delivery recorded', 'purged']);
    expect(purged).toBeGreaterThanOrEqual(8);
    expect(await Invitation.findById(busy._id).lean()).toMatchObject({ znsDeliveredAt: delivered });
    expect(await models().Response.countDocuments({ contactEnc: { $exists: true } })).toBe(0);
    expect(await t.service.db.models.Invitation.countDocuments({ phoneEnc: { $exists: true } })).toBe(0);
  });
});

describe('audit item writes', () => {
  it('an answer and a refused send recorded at the same moment both stay (FerretDB replaces whole documents)', async () => {
    const audit = new Types.ObjectId().toHexString();
    const items = await models().AuditItem.insertMany(
      Array.from({ length: 30 }, () => ({ audit, invitationId: new Types.ObjectId().toHexString(), unit: 'PC08', state: 'asked', overallBefore: 4 })),
    );
    // The citizen answers just as the platform refuses the reminder: two writers of one item at once.
    await Promise.all(
      items.flatMap((i) => [t.service.audits.recordAnswer(`a-${i._id}`, { took_survey: 'yes', overall: 4 }), t.service.audits.windowClosed(`a-${i._id}`)]),
    );
    const after = await models().AuditItem.find({ audit }).lean();
    expect(after.map((i) => [i.state, i.outcome, Boolean(i.znsAt)])).toEqual(items.map(() => ['done', 'confirmed', true]));
  });
});
