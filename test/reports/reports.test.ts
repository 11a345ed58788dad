// Mẫu 01 and Mẫu 02 checked figure by figure against a known set of ballots
// (an invalidated one, small cells, both respondent types, two days), in JSON,
// CSV and XLSX read back; alerts, the digest, a late submission, publication;
// the dashboard and the public page in Chromium.
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFlows } from '../../src/engine/load.js';
import { loadCampaignFiles } from '../../src/invitations/campaign.js';
import { checkInvitationCounts } from '../../src/invitations/counts.js';
import { projectRoot } from '../../src/local/paths.js';
import { points } from '../../src/reports/forms.js';
import { tally } from '../../src/reports/tally.js';
import { COMMENT_LIMIT, rebuildCommentSamples, sampleComments } from '../../src/responses/comment-samples.js';
import { checkCounters, markCommented } from '../../src/responses/counters.js';
import { invalidateBallot, revalidateBallot } from '../../src/responses/validity.js';
import { launchChromium, SHOTS } from '../helpers/browser.js';
import { api, eventually, startTestService, type TestService } from '../helpers/context.js';
import { TelegramEmulator } from '../helpers/telegram-emulator.js';

const vn = (iso: string) => Date.parse(`${iso}+07:00`);
const clock = { t: vn('2024-06-12T10:00:00') };
const DAY1 = vn('2024-06-10T09:00:00');
const DAY2 = vn('2024-06-11T15:00:00');
const CRITERIA = [
  'access_location',
  'access_seating',
  'access_equipment',
  'proc_public',
  'proc_documents',
  'proc_fees',
  'proc_deadline',
  'officer_courtesy',
  'officer_guidance',
  'officer_compliance',
  'result_on_time',
  'result_accurate',
  'feedback_easy',
  'feedback_timely',
];
const PV01_CHAT = 7777;

let tg: TelegramEmulator;
let t: TestService;
let pv01: string;
let officer: string;
let browser: Browser;

/** One ballot: every criterion and the overall question at `level`. */
interface Spec {
  field: 'can-cuoc' | 'con-dau';
  level: number;
  type: 'citizen' | 'organization';
  at: number;
  proc?: string;
  harassment?: boolean;
  payment?: boolean;
  comment?: string;
}

// Passports... no: identity cards (can-cuoc): levels 2,3,3,4 | 4,4,4,5,5,5 -> per criterion n = (0,1,2,4,3), HL 70.00, mean 3.90.
const SPECS: Spec[] = [
  { field: 'can-cuoc', level: 2, type: 'citizen', at: DAY1, proc: 'cc-cap-moi', harassment: true, comment: 'Cần thêm ghế ngồi chờ' },
  { field: 'can-cuoc', level: 3, type: 'organization', at: DAY1, proc: 'cc-cap-moi', payment: true },
  { field: 'can-cuoc', level: 3, type: 'citizen', at: DAY1, proc: 'cc-cap-moi' },
  { field: 'can-cuoc', level: 4, type: 'organization', at: DAY1, proc: 'cc-cap-moi' },
  { field: 'can-cuoc', level: 4, type: 'citizen', at: DAY2, proc: 'cc-cap-moi' },
  { field: 'can-cuoc', level: 4, type: 'citizen', at: DAY2, proc: 'cc-cap-doi' },
  { field: 'can-cuoc', level: 4, type: 'citizen', at: DAY2, proc: 'cc-cap-doi' },
  { field: 'can-cuoc', level: 5, type: 'citizen', at: DAY2, proc: 'cc-cap-doi' },
  { field: 'can-cuoc', level: 5, type: 'citizen', at: DAY2, proc: 'cc-cap-doi' },
  { field: 'can-cuoc', level: 5, type: 'citizen', at: DAY2, proc: 'cc-cap-doi', comment: 'Cán bộ nhiệt tình' },
  // Invalidated by post-audit: it must not count (but its "overall 1" raised an alert).
  { field: 'can-cuoc', level: 1, type: 'citizen', at: DAY2, proc: 'cc-cap-doi' },
  // A small cell: one ballot of seals (con-dau), by an organization, with no coded procedure.
  { field: 'con-dau', level: 4, type: 'organization', at: DAY1 },
];

beforeAll(async () => {
  tg = await new TelegramEmulator().start();
  t = await startTestService({ name: 'reports', telegramApiRoot: tg.apiRoot, now: () => clock.t });
  const admin = await t.key('admin');
  const { active: _a, ...data } = (await api(t.baseUrl, admin, 'GET', '/api/admin/campaigns/soc-trang-2024')).body;
  expect(
    (await api(t.baseUrl, admin, 'PUT', '/api/admin/campaigns/soc-trang-2024', { ...data, pv01Chat: { channel: 'telegram', chat: String(PV01_CHAT) } })).status,
  ).toBe(200);
  t.service.invitations.forgetCampaign();
  [pv01, officer] = await Promise.all([t.key('pv01'), t.key('officer', 'PC06')]);
  browser = await launchChromium();
}, 300_000);
afterAll(async () => {
  await browser?.close();
  await t.close();
  await tg.stop();
});

const get = (path: string, key = pv01) => api(t.baseUrl, key, 'GET', path);
async function file(path: string): Promise<Buffer> {
  const res = await fetch(t.baseUrl + path, { headers: { authorization: `Bearer ${pv01}` } });
  expect(res.status, path).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}
async function sheets(path: string) {
  const book = new ExcelJS.Workbook();
  await book.xlsx.load((await file(path)) as never);
  return book;
}

describe('the pure arithmetic (METHOD.md worked examples)', () => {
  const flows = loadFlows(join(projectRoot, 'flows'));
  const campaign = loadCampaignFiles(join(projectRoot, 'campaigns')).find((c) => c.id === 'soc-trang-2024')!;
  const row = (q: string, value: string, n: number) => ({ flow: 'citizen-satisfaction@1', q, value, n });

  it('n = (0,1,2,4,3) gives HL 70.00 and mean 3.90', () => {
    const c = tally([row('overall', '2', 1), row('overall', '3', 2), row('overall', '4', 4), row('overall', '5', 3)], flows).criteria[0]!;
    expect([c.n, c.rate, c.mean]).toEqual([10, 70, 3.9]);
  });

  it('elements at 70 and 80 give an index of 75.00; a maximum of 2 gives 1.50 points', () => {
    // access_location at 70% and officer_courtesy at 80%: two elements.
    const t2 = tally([row('access_location', '4', 7), row('access_location', '1', 3), row('officer_courtesy', '5', 8), row('officer_courtesy', '2', 2)], flows);
    expect(t2.elements).toEqual([
      { code: 'access', rate: 70 },
      { code: 'officer', rate: 80 },
    ]);
    expect(t2.index).toBe(75);
    expect(points({ ...campaign, scoring: { ...campaign.scoring, maxPoints: 2 } }, t2)[0]!.points).toBe(1.5);
  });
});

describe('Mẫu 01 and Mẫu 02 from a known set of ballots', () => {
  it('takes in the ballots (through the completion queue, as chats do)', async () => {
    const ids: string[] = [];
    for (const [i, s] of SPECS.entries()) {
      const inv = await api(t.baseUrl, officer, 'POST', '/api/invitations', {
        caseCode: `RP-${i}`,
        unit: 'PC06',
        field: s.field,
        ...(s.proc ? { procedureCode: s.proc } : {}),
      });
      ids.push(inv.body.id);
      const answers: Record<string, string | number | null> = { consent: 'agree', respondent_type: s.type, overall: s.level };
      for (const q of CRITERIA) answers[q] = s.level;
      answers.obs_harassment = s.harassment ? 'yes' : 'no';
      answers.obs_extra_payment = s.payment ? 'yes' : 'no';
      answers.suggestion = s.comment ?? null;
      await t.service.queues.addCompletion({
        ref: inv.body.id,
        flow: 'citizen-satisfaction@1',
        channel: 'telegram',
        respondent: `r${i}`,
        answers,
        startedAt: s.at - 240_000,
        completedAt: s.at,
      });
    }
    // Two invitations of identity cards never answered; every answered one was opened.
    for (const c of ['RP-X1', 'RP-X2']) await api(t.baseUrl, officer, 'POST', '/api/invitations', { caseCode: c, unit: 'PC06', field: 'can-cuoc' });
    await eventually(async () => (await t.service.db.models.Response.countDocuments({})) === SPECS.length, 'every ballot stored');
    await eventually(async () => (await t.service.db.models.Invitation.countDocuments({ status: 'completed' })) === SPECS.length, 'every invitation completed');
    // Every answered invitation was opened (recorded as the opening job does, after the completion here).
    for (const [i, id] of ids.entries()) await t.service.invitations.markOpened(id, { channel: 'telegram', userKey: `r${i}` }, DAY1);
    await invalidateBallot(t.service.db.models, ids[10]!, 'denied at post-audit verification', 'audit-test');
    expect((await checkCounters(t.service.db.models, 'soc-trang-2024')).mismatches).toEqual([]);
    expect((await checkInvitationCounts(t.service.db.models, 'soc-trang-2024', 'Asia/Ho_Chi_Minh')).mismatches).toEqual([]);
    // A ballot stored before the comments' `commented` mark: found, and marked by the fix (its comment then reaches Mẫu 01).
    const { Response } = t.service.db.models;
    const commented = ids[SPECS.findIndex((s) => s.comment)]!;
    await Response.updateOne({ invitationId: commented }, { $unset: { commented: 1 } });
    expect(await markCommented(t.service.db.models, t.service.flows, 'soc-trang-2024')).toBe(1);
    expect(await markCommented(t.service.db.models, t.service.flows, 'soc-trang-2024', true)).toBe(1);
    expect(await markCommented(t.service.db.models, t.service.flows, 'soc-trang-2024')).toBe(0);
    expect((await Response.findOne({ invitationId: commented }).lean())?.commented).toBe(true);
    // A count damaged (a process died between the invitation and its count) is found and repaired.
    const { InvitationCount, InvitationCountTotal } = t.service.db.models;
    const damaged = (await InvitationCountTotal.findOne({ campaign: 'soc-trang-2024', span: 'all', unit: 'PC06', field: 'can-cuoc' }).lean())!;
    await InvitationCountTotal.updateOne({ _id: damaged._id }, { $inc: { created: -1 } });
    // And a campaign row where an earlier version kept it, among the day rows: found, and moved by the repair.
    const misplaced = (await InvitationCountTotal.findOneAndDelete({ campaign: 'soc-trang-2024', span: 'all', _id: { $ne: damaged._id } }).lean())!;
    await InvitationCount.create(misplaced);
    expect((await checkInvitationCounts(t.service.db.models, 'soc-trang-2024', 'Asia/Ho_Chi_Minh', true)).mismatches.map((m) => m.id).sort()).toEqual(
      [damaged._id, misplaced._id].sort(),
    );
    expect((await checkInvitationCounts(t.service.db.models, 'soc-trang-2024', 'Asia/Ho_Chi_Minh')).mismatches).toEqual([]);
    expect([await InvitationCount.countDocuments({ _id: misplaced._id }), await InvitationCountTotal.countDocuments({ _id: misplaced._id })]).toEqual([0, 1]);
  });

  it('Mẫu 01 for PC06, every table', async () => {
    const r = (await get('/api/reports/form-01?unit=PC06')).body;
    expect([r.unit, r.ballots, r.index, r.smallCells]).toEqual(['PC06', 11, 72.73, 3]);
    const T = r.tables;
    // A: per field.
    const none = (field: string) => ({ field, target: 30, created: 0, opened: 0, completed: 0, invalidated: 0, valid: 0, responseRate: null });
    expect(T['form-01.A']).toEqual([
      none('Quản lý ngành, nghề đầu tư, kinh doanh có điều kiện về an ninh, trật tự'),
      { field: 'Đăng ký, quản lý con dấu', target: 30, created: 1, opened: 1, completed: 1, invalidated: 0, valid: 1, responseRate: 100 },
      none('Quản lý vũ khí, vật liệu nổ, công cụ hỗ trợ và pháo'),
      // 11 answered of 13 invitations (84.62%), one invalidated by post-audit.
      { field: 'Cấp, quản lý căn cước công dân', target: 30, created: 13, opened: 11, completed: 11, invalidated: 1, valid: 10, responseRate: 84.62 },
    ]);
    // B: all 14 criteria and the overall question at n = (0,1,2,5,3): HL 8/11 = 72.73, mean 43/11 = 3.91.
    expect(T['form-01.B']).toHaveLength(15);
    for (const b of T['form-01.B'])
      expect(b).toMatchObject({ n1: 0, n2: 1, n3: 2, n4: 5, n5: 3, n: 11, excluded: 0, rate: 72.73, mean: 3.91, reliability: '' });
    expect(T['form-01.B'].find((b: { element: string }) => b.element === 'Câu hỏi tổng quát').criterion).toMatch(/^Nhìn chung/);
    // C: five elements at 72.73; index, pooled and overall.
    expect(T['form-01.C'].map((c: { rate: number }) => c.rate)).toEqual([72.73, 72.73, 72.73, 72.73, 72.73, 72.73, 72.73, 72.73]);
    // D: citizens 6 of 8 satisfied (75.00); organizations 2 of 3 (66.67, a small cell); per field; per procedure.
    const d = (by: string, group: string) => T['form-01.D'].find((x: { by: string; group: string }) => x.by === by && x.group === group);
    expect(d('Đối tượng', 'Người dân')).toMatchObject({ ballots: 8, index: 75, pooled: 75, overall: 75, reliability: '' });
    expect(d('Đối tượng', 'Tổ chức, doanh nghiệp')).toMatchObject({ ballots: 3, index: 66.67, reliability: 'không đủ tin cậy' });
    expect(d('Lĩnh vực', 'Cấp, quản lý căn cước công dân')).toMatchObject({ ballots: 10, index: 70 });
    expect(d('Lĩnh vực', 'Đăng ký, quản lý con dấu')).toMatchObject({ ballots: 1, index: 100, reliability: 'không đủ tin cậy' });
    expect(d('Thủ tục', 'Cấp thẻ căn cước')).toMatchObject({ ballots: 5, index: 40 });
    expect(d('Thủ tục', 'Cấp đổi thẻ căn cước')).toMatchObject({ ballots: 5, index: 100 });
    expect(d('Thủ tục', 'Khác (không theo danh mục)')).toMatchObject({ ballots: 1, index: 100 });
    // E: one "yes" each of 11.
    expect(T['form-01.E']).toEqual([
      { observation: 'Cán bộ có gây phiền hà, sách nhiễu ông/bà không?', yes: 1, n: 11, percent: 9.09 },
      { observation: 'Ông/bà có phải trả khoản chi nào ngoài quy định không?', yes: 1, n: 11, percent: 9.09 },
    ]);
    // F: comments with field and date, no case code or respondent.
    expect(T['form-01.F']).toEqual([
      { date: '2024-06-10', field: 'Cấp, quản lý căn cước công dân', question: expect.stringMatching(/^Ông\/bà có góp ý/), text: 'Cần thêm ghế ngồi chờ' },
      { date: '2024-06-11', field: 'Cấp, quản lý căn cước công dân', question: expect.stringMatching(/^Ông\/bà có góp ý/), text: 'Cán bộ nhiệt tình' },
    ]);
    expect(JSON.stringify(r)).not.toMatch(/RP-\d|"r\d+"/);
    // G: proportional, maximum 1 point.
    expect(T['form-01.G']).toEqual([
      {
        criterion: 'Chỉ số hài lòng về giải quyết thủ tục hành chính',
        rate: 72.73,
        maxPoints: 1,
        rule: 'Tỷ lệ thuận: điểm tối đa x tỷ lệ / 100',
        points: 0.73,
      },
    ]);
  });

  it('a date range reads only its days', async () => {
    const r = (await get('/api/reports/form-01?unit=PC06&from=2024-06-11&to=2024-06-11')).body;
    // 11 June: identity cards at 4,4,4,5,5,5 (the invalidated one left out): everyone satisfied, mean 4.5.
    expect([r.ballots, r.index]).toEqual([6, 100]);
    expect(r.tables['form-01.B'][0]).toMatchObject({ n4: 3, n5: 3, n: 6, rate: 100, mean: 4.5 });
    expect((await get('/api/reports/form-01?unit=PC06&from=2024-13-01')).status).toBe(400);
  });

  it('a district report has its communes as sub-rows; officers read only their units', async () => {
    const district = (await get('/api/reports/form-01?unit=HKS')).body;
    expect(district.tables['form-01.units'].map((u: { unit: string }) => u.unit)).toEqual([
      'Công an thị trấn Kế Sách',
      'Công an thị trấn An Lạc Thôn',
      'Công an xã Ba Trinh',
    ]);
    expect(district.tables['form-01.units'][0]).toMatchObject({ ballots: 0, index: null, reliability: 'không đủ tin cậy' });
    expect((await get('/api/reports/form-01', officer)).body.unit).toBe('PC06');
    expect((await get('/api/reports/form-01?unit=PC07', officer)).status).toBe(403);
    expect((await get('/api/reports/form-02', officer)).status).toBe(403);
  });

  it('Mẫu 01 as CSV and XLSX carries the same figures, with Vietnamese headers', async () => {
    const csv = (await file('/api/reports/form-01?unit=PC06&format=csv')).toString('utf8');
    expect(csv.charCodeAt(0)).toBe(0xfeff);
    expect(csv).toContain(
      '"B. Theo tiêu chí"\r\n"Tiêu chí","Yếu tố","Mức 1","Mức 2","Mức 3","Mức 4","Mức 5","N","Không đánh giá","Tỷ lệ hài lòng (%)","Điểm trung bình","Độ tin cậy"',
    );
    expect(csv).toContain('"Nhìn chung, ông/bà hài lòng với việc giải quyết thủ tục hành chính ở mức nào?","Câu hỏi tổng quát",0,1,2,5,3,11,0,72.73,3.91,""');
    const book = await sheets('/api/reports/form-01?unit=PC06&format=xlsx');
    expect(book.worksheets.map((w) => w.name)).toEqual([
      'A. Phiếu theo lĩnh vực',
      'B. Theo tiêu chí',
      'C. Theo yếu tố',
      'D. Theo nhóm',
      'E. Phản ánh tiêu cực',
      'F. Ý kiến góp ý',
      'G. Điểm CCHC',
      'Đơn vị trực thuộc',
    ]);
    const b = book.getWorksheet('B. Theo tiêu chí')!;
    expect(b.getRow(1).getCell(10).value).toBe('Tỷ lệ hài lòng (%)');
    // Numbers as numbers.
    expect([b.getRow(2).getCell(8).value, b.getRow(2).getCell(10).value, b.getRow(2).getCell(11).value]).toEqual([11, 72.73, 3.91]);
    expect(book.getWorksheet('G. Điểm CCHC')!.getRow(2).getCell(5).value).toBe(0.73);
    expect(b.pageSetup.orientation).toBe('landscape');
  });

  it('the per-ballot attachment has every ballot without identities', async () => {
    const book = await sheets('/api/reports/ballots?unit=PC06&format=xlsx');
    const sheet = book.getWorksheet('Phiếu khảo sát')!;
    expect(sheet.rowCount).toBe(1 + SPECS.length);
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    expect(header.slice(0, 7)).toEqual(['STT', 'Đơn vị', 'Lĩnh vực', 'Thủ tục', 'Ngày', 'Đối tượng', 'Tình trạng']);
    expect(header).toContain('overall');
    const rows = Array.from({ length: SPECS.length }, (_, i) => (sheet.getRow(i + 2).values as unknown[]).slice(1));
    expect(rows.filter((r) => r[6] === 'Bị loại')).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toMatch(/RP-\d/);
  });

  it('Mẫu 02: per agency, per area with "không đủ thông tin" out of N, by level and unit assessed', async () => {
    const batch = (await api(t.baseUrl, pv01, 'POST', '/api/agency-ballots', {})).body;
    // Publicity: 3 Tốt, 1 Khá, 1 Kém, 1 not enough information -> 4 of 5 = 80.00. Conduct: Tốt... 2 of 4 = 50.00. Others all Tốt.
    const publicity = [4, 4, 4, 3, 1, 'na'];
    const conduct = [4, 3, 2, 2, 'na', 'na'];
    for (let i = 0; i < 6; i++) {
      const b = batch.ballots[i];
      await t.service.queues.addCompletion({
        ref: b.id,
        flow: 'agency-opinion@2',
        channel: 'web',
        respondent: `agency-${i}`,
        answers: {
          consent: 'agree',
          area_publicity: publicity[i]!,
          area_conduct: conduct[i]!,
          area_deadline: 4,
          area_digital: 4,
          area_coordination: 4,
          area_feedback: 4,
          comment: i === 0 ? 'Đề nghị tăng cường phối hợp' : null,
        },
        startedAt: DAY2 - 600_000,
        completedAt: DAY2,
      });
    }
    await eventually(
      async () => (await t.service.db.models.Invitation.countDocuments({ kind: 'agency', status: 'completed' })) === 6,
      'the agency ballots counted',
    );
    const r = (await get('/api/reports/form-02')).body;
    expect(r.period).toEqual({ from: '2023-09-15', to: '2024-09-14' });
    expect(r.ballots).toBe(6);
    const area = (name: string) => r.tables['form-02.areas'].find((a: { area: string }) => a.area === name);
    expect(area('Công khai thủ tục hành chính')).toEqual({
      area: 'Công khai thủ tục hành chính',
      good: 3,
      fair: 1,
      average: 0,
      poor: 1,
      noInfo: 1,
      n: 5,
      rate: 80,
      reliability: '',
    });
    expect(area('Thái độ, tác phong cán bộ')).toMatchObject({ good: 1, fair: 1, average: 2, noInfo: 2, n: 4, rate: 50, reliability: 'không đủ tin cậy' });
    // Mean of the six areas (80 + 50 + 4 x 100) / 6 = 88.33; pooled (4 + 2 + 24) / (5 + 4 + 24) = 90.91.
    expect([r.mean, r.pooled]).toEqual([88.33, 90.91]);
    const splits = r.tables['form-02.splits'];
    expect(splits.filter((s: { by: string }) => s.by === 'Cấp cơ quan').map((s: { group: string; ballots: number }) => [s.group, s.ballots])).toEqual([
      ['Cấp huyện', 2],
      ['Cấp tỉnh', 4],
    ]);
    expect(splits.find((s: { group: string }) => s.group === 'Công an tỉnh Sóc Trăng')).toMatchObject({ ballots: 4 });
    const agencies = r.tables['form-02.agencies'];
    expect(agencies).toHaveLength(8);
    expect(agencies[0]).toEqual({
      agency: 'Văn phòng Đoàn đại biểu Quốc hội và Hội đồng nhân dân tỉnh',
      level: 'Cấp tỉnh',
      unit: 'Công an tỉnh Sóc Trăng',
      sent: 1,
      received: 1,
      receivedOn: '2024-06-11',
    });
    expect(agencies.at(-1)).toMatchObject({ sent: 1, received: 0, receivedOn: null });
    expect(r.tables['form-02.comments']).toEqual([{ date: '2024-06-11', level: 'Cấp tỉnh', text: 'Đề nghị tăng cường phối hợp' }]);
    const book = await sheets('/api/reports/form-02?format=xlsx');
    const areas = book.getWorksheet('Theo lĩnh vực đánh giá')!;
    expect((areas.getRow(1).values as unknown[]).slice(1)).toEqual([
      'Lĩnh vực đánh giá',
      'Tốt',
      'Khá',
      'Trung bình',
      'Kém',
      'Không đủ thông tin',
      'N',
      'Tỷ lệ Tốt + Khá (%)',
      'Độ tin cậy',
    ]);
    expect((areas.getRow(2).values as unknown[]).slice(1, 9)).toEqual(['Công khai thủ tục hành chính', 3, 1, 0, 1, 1, 5, 80]);
    // The citizens' Mẫu 01 is not touched by agency ballots.
    expect((await get('/api/reports/form-01?unit=PC06')).body.ballots).toBe(11);
  });
});

describe('alerts, digest, submissions, publication', () => {
  it('alerts PV01 at once in their chat and the inbox, with the case reference and never the respondent', async () => {
    const texts = () => tg.chat(PV01_CHAT).map((m) => m.text);
    await eventually(async () => texts().length >= 3, 'three alerts in the PV01 chat');
    const alerts = texts().filter((x) => x.startsWith('⚠️ CẢNH BÁO'));
    expect(alerts).toHaveLength(3);
    expect(alerts.find((x) => x.includes('sách nhiễu'))).toContain('Hồ sơ: RP-0');
    expect(alerts.find((x) => x.includes('ngoài quy định'))).toContain('Hồ sơ: RP-1');
    expect(alerts.find((x) => x.includes('rất không hài lòng'))).toContain('Đơn vị: Phòng Cảnh sát quản lý hành chính về trật tự xã hội (PC06)');
    expect(alerts.join('\n')).not.toMatch(/\br\d+\b/);
    const { alerts: open } = (await get('/api/alerts')).body;
    expect(open).toHaveLength(3);
    const one = open.find((a: { caseCode: string }) => a.caseCode === 'RP-0');
    expect((await api(t.baseUrl, pv01, 'POST', `/api/alerts/${one.id}/handled`, {})).status).toBe(400);
    expect((await api(t.baseUrl, pv01, 'POST', `/api/alerts/${one.id}/handled`, { note: 'Đã làm việc với cán bộ' })).status).toBe(200);
    expect((await api(t.baseUrl, pv01, 'POST', `/api/alerts/${one.id}/handled`, { note: 'lại' })).status).toBe(404);
    expect((await get('/api/alerts')).body.alerts).toHaveLength(2);
    expect(await t.service.db.models.AuditLog.countDocuments({ action: 'alert.handled' })).toBe(1);
  });

  it('sends the daily digest to PV01: progress, units behind, open alerts, the next deadline', async () => {
    await t.service.queues.followUps.add('digest', {}, { jobId: 'digest-now' });
    await eventually(async () => (await t.service.queues.followUps.getJob('digest-now'))?.returnvalue === 'sent', 'the digest sent');
    const digest = await eventually(async () => tg.chat(PV01_CHAT).find((m) => m.text.startsWith('Tổng hợp ngày')), 'the digest');
    expect(digest.text).toContain('Tổng hợp ngày 12/06/2024');
    expect(digest.text).toMatch(/Phiếu hợp lệ: 11\/\d+/);
    expect(digest.text).toContain('Đơn vị chậm tiến độ');
    expect(digest.text).toContain('Cảnh báo chưa xử lý: 2');
    expect(digest.text).toContain('Hạn gần nhất: Hoàn thành khảo sát (01/07/2024, còn 19 ngày)');
    const progress = (await get('/api/progress', officer)).body;
    expect(progress.units.every((u: { unit: string }) => u.unit === 'PC06')).toBe(true);
    expect(progress.units.find((u: { field: string }) => u.field === 'can-cuoc')).toMatchObject({ target: 30, completed: 10, behind: true });
  });

  it('records a report as sent, late after its deadline', async () => {
    const onTime = await api(t.baseUrl, pv01, 'POST', '/api/reports/form-01/submissions', { unit: 'PC06' });
    expect(onTime.body).toMatchObject({ form: 'form-01', unit: 'PC06', deadline: '2024-07-10', late: false });
    clock.t = vn('2024-07-12T09:00:00');
    try {
      expect((await api(t.baseUrl, pv01, 'POST', '/api/reports/form-01/submissions', { unit: 'PC07' })).body.late).toBe(true);
    } finally {
      clock.t = vn('2024-06-12T10:00:00');
    }
    expect((await get('/api/reports/submissions')).body.submissions.map((s: { late: boolean }) => s.late)).toEqual([false, true]);
    expect((await api(t.baseUrl, pv01, 'POST', '/api/reports/form-03/submissions', {})).status).toBe(400);
  });

  it('publishes per-unit results on a public page: nothing before, no comments, no small cells', async () => {
    const before = await fetch(`${t.baseUrl}/ket-qua/soc-trang-2024`);
    expect(before.status).toBe(404);
    expect(await before.text()).toContain('Chưa có kết quả được công bố');
    const pub = await api(t.baseUrl, pv01, 'POST', '/api/publications', {});
    expect(pub.status).toBe(201);
    expect(pub.body.rows.find((u: { unit: string }) => u.unit === 'PC06')).toEqual({
      unit: 'PC06',
      name: 'Phòng Cảnh sát quản lý hành chính về trật tự xã hội (PC06)',
      n: 11,
      rate: 72.73,
      points: 0.73,
    });
    expect(pub.body.rows.find((u: { unit: string }) => u.unit === 'PC07')).toMatchObject({ n: 0, rate: null, points: null });
    const html = await (await fetch(`${t.baseUrl}/ket-qua/soc-trang-2024`)).text();
    expect(html).toContain('72.73');
    expect(html).toContain('Chưa đủ số phiếu');
    expect(html).not.toContain('ghế ngồi');
    const page = await browser.newPage({ viewport: { width: 1000, height: 1400 } });
    await page.goto(`${t.baseUrl}/ket-qua/soc-trang-2024`);
    await page.screenshot({ path: join(SHOTS, 'public-results.png'), fullPage: true });
    expect(await page.locator('svg[role=img]').count()).toBe(1);
    await page.close();
  });

  it('the dashboard shows the index, charts, progress, alerts and audits, and downloads reports', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1600 }, acceptDownloads: true });
    await page.goto(`${t.baseUrl}/admin`);
    await page.fill('#key', officer);
    await page.click('#signin-form button');
    await page.waitForSelector('#signin-error:has-text("dành cho PV01")');
    await page.fill('#key', pv01);
    await page.click('#signin-form button');
    await page.waitForSelector('#index');
    expect(await page.textContent('#index')).toBe('72.73');
    expect(await page.locator('svg[role=img]').count()).toBe(2);
    expect(await page.textContent('#board')).toContain('Cảnh báo chưa xử lý (2)');
    expect(await page.textContent('#board')).toContain('Chậm tiến độ');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button[data-name="mau-01.xlsx"]')]);
    expect(download.suggestedFilename()).toBe('mau-01.xlsx');
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    await page.close();
  });
});

describe('comment samples (what a report without a date range shows)', () => {
  const models = () => t.service.db.models;
  const sample = async (scope: string) =>
    (await models().CommentSample.find({ campaign: 'soc-trang-2024', kind: 'citizen', scope }).lean()).map((s) => s.invitationId!).sort();
  const shown = async (query = '') =>
    ((await get(`/api/reports/form-01?unit=PC06${query}`)).body.tables['form-01.F'] as Array<{ text: string }>).map((c) => c.text);

  it('keep the first comments per unit and campaign, follow invalidation and override, and rebuild the same from the ballots', async () => {
    const pc06 = await sample('PC06');
    expect(pc06).toHaveLength(2);
    expect(await sample('')).toEqual(expect.arrayContaining(pc06));
    // A full sample takes no more of the unit's ballots; the campaign's, not full, still does.
    await models().CommentSlot.updateOne({ _id: 'soc-trang-2024|citizen|PC06' }, { $set: { n: COMMENT_LIMIT } });
    const extra = {
      invitationId: 'cs-extra',
      campaign: 'soc-trang-2024',
      kind: 'citizen',
      unit: 'PC06',
      field: 'can-cuoc',
      day: '2024-06-12',
      rtype: 'citizen',
      flow: 'citizen-satisfaction',
      flowVersion: 1,
      answers: [{ q: 'suggestion', value: 'Thêm chỗ gửi xe' }],
    };
    await sampleComments(models(), t.service.flows, extra);
    expect(await sample('PC06')).toEqual(pc06);
    expect(await sample('')).toContain('cs-extra');
    // Invalidated: out of both samples (and out of the report), making room; an override puts it back.
    const [first] = pc06;
    await invalidateBallot(models(), first!, 'denied at post-audit verification', 'audit-samples');
    expect(await sample('PC06')).toEqual(pc06.filter((id) => id !== first));
    expect(await sample('')).not.toContain(first);
    expect((await models().CommentSlot.findById('soc-trang-2024|citizen|PC06').lean())?.n).toBe(COMMENT_LIMIT - 1);
    expect(await shown()).toEqual(['Cán bộ nhiệt tình']);
    await revalidateBallot(models(), t.service.flows, first!);
    expect(await sample('PC06')).toEqual(pc06);
    expect(await shown()).toEqual(['Cần thêm ghế ngồi chờ', 'Cán bộ nhiệt tình']);
    // Rebuilt from the ballots: the same unit sample; the ballot that exists only as a sample is gone.
    expect(await rebuildCommentSamples(models(), t.service.flows, 'soc-trang-2024')).toBeGreaterThanOrEqual(2);
    expect(await sample('PC06')).toEqual(pc06);
    expect(await sample('')).not.toContain('cs-extra');
  });

  it('a report with a date range reads the ballots instead', async () => {
    await models().CommentSample.deleteMany({ campaign: 'soc-trang-2024', scope: 'PC06' });
    expect(await shown()).toEqual([]);
    expect(await shown('&from=2024-06-01&to=2024-06-30')).toEqual(['Cần thêm ghế ngồi chờ', 'Cán bộ nhiệt tình']);
    await rebuildCommentSamples(models(), t.service.flows, 'soc-trang-2024');
    expect(await shown()).toHaveLength(2);
  });
});
