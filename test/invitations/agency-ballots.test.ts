// The agency opinion survey issued in one batch and answered on Telegram and on
// Zalo; ballots of two questionnaire versions counted together; a survey in English.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tally } from '../../src/reports/tally.js';
import { persistCompletion } from '../../src/responses/complete.js';
import { api, eventually, startTestService, TEST_SECRET, type TestService } from '../helpers/context.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';
import { ZaloEmulator, ZaloUser } from '../helpers/zalo-emulator.js';

let tg: TelegramEmulator;
let zalo: ZaloEmulator;
let t: TestService;
let pv01: string;
let chatSeq = 7000;

beforeAll(async () => {
  [tg, zalo] = await Promise.all([new TelegramEmulator().start(), new ZaloEmulator().start()]);
  t = await startTestService({ name: 'agency_ballots', telegramApiRoot: tg.apiRoot, zalo });
  pv01 = await t.key('pv01');
});
afterAll(async () => {
  await t.close();
  await Promise.all([tg.stop(), zalo.stop()]);
});

interface Ballot {
  id: string;
  agency: string;
  addressee: string | null;
  unit: string;
  code: string;
  token: string;
  caseCode: string;
  links: Record<string, string>;
}

const telegramUser = () => new TelegramUser(tg, { url: `${t.baseUrl}/webhooks/telegram`, secret: TEST_SECRET }, chatSeq++);

/** Taps (or types) and waits for the next message that carries buttons or thanks. */
async function telegramAnswer(u: TelegramUser, act: () => Promise<{ status: number }>) {
  const mark = u.mark();
  expect((await act()).status).toBe(200);
  await u.waitFor(() => u.since(mark).some((x) => x.buttons.length > 0 || /cảm ơn|thank/i.test(x.text)), 'the next question');
}

async function zaloAnswer(u: ZaloUser, act: () => Promise<number>) {
  const before = u.messages().length;
  expect(await act()).toBe(200);
  await eventually(async () => u.messages().length > before, 'the next message');
}

describe('agency ballots', () => {
  let ballots: Ballot[];

  it('PV01 issues one ballot per agency, and one per named respondent; a rerun creates nothing', async () => {
    const officer = await t.key('officer', 'PC06');
    expect((await api(t.baseUrl, officer, 'POST', '/api/agency-ballots', {})).status).toBe(403);
    const unknown = await api(t.baseUrl, pv01, 'POST', '/api/agency-ballots', { agencies: ['SO-KHONG-CO'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('unknown_agency');
    expect((await api(t.baseUrl, pv01, 'POST', '/api/agency-ballots', { respondents: { 'SO-TU-PHAP': [] } })).status).toBe(400);

    const batch = await api(t.baseUrl, pv01, 'POST', '/api/agency-ballots', { respondents: { 'SO-TU-PHAP': ['Nguyễn Văn An', 'Trần Thị Bình'] } });
    expect(batch.status).toBe(201);
    // 8 agencies in the 2024 campaign, the Sở Tư pháp with two named respondents.
    expect([batch.body.created, batch.body.existing]).toEqual([9, 0]);
    ballots = batch.body.ballots;
    expect(ballots.filter((b) => b.agency === 'SO-TU-PHAP').map((b) => b.addressee)).toEqual(['Nguyễn Văn An', 'Trần Thị Bình']);
    // Provincial offices assess the provincial police; a commune People's Committee its commune police.
    expect(ballots.find((b) => b.agency === 'VP-UBND')!.unit).toBe('CATST');
    expect(ballots.find((b) => b.agency === 'UBND-KS-TT')!.unit).toBe('KS-TT');
    expect(ballots.every((b) => b.links.telegram && b.links.zalo && b.links.landing)).toBe(true);

    const again = await api(t.baseUrl, pv01, 'POST', '/api/agency-ballots', { agencies: ['VP-UBND'] });
    expect(again.status).toBe(200);
    expect([again.body.created, again.body.ballots[0].code]).toEqual([0, ballots.find((b) => b.agency === 'VP-UBND')!.code]);
  });

  it('prints a letter per ballot: addressee, unit assessed, period, QR, link and code', async () => {
    const res = await fetch(`${t.baseUrl}/api/agency-ballots/letters`, { headers: { authorization: `Bearer ${pv01}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html.match(/<section class="letter">/g)).toHaveLength(9);
    expect(html).toContain('Kính gửi: Nguyễn Văn An, <strong>Sở Tư pháp</strong>');
    expect(html).toContain('<strong>Công an thị trấn Kế Sách</strong> trong thời gian từ ngày 15/09/2023 đến ngày 14/09/2024');
    const sample = ballots.find((b) => b.agency === 'VP-UBND')!;
    expect(html).toContain(sample.links.landing);
    expect(html).toContain(`${sample.code.slice(0, 4)}-${sample.code.slice(4)}`);
    expect(html).toContain('<svg');
  });

  it('is answered on Telegram and on Zalo; "not enough information" is kept out of N', async () => {
    // The provincial People's Committee office, on Telegram from the letter's link.
    const office = ballots.find((b) => b.agency === 'VP-UBND')!;
    const tu = telegramUser();
    await telegramAnswer(tu, () => tu.send(`/start ${office.token}`));
    expect(tu.last()!.text).toContain('Kính gửi Văn phòng Ủy ban nhân dân tỉnh! Công an tỉnh Sóc Trăng');
    expect(tu.last()!.text).toContain('của Công an tỉnh Sóc Trăng trong thời gian từ ngày 15/09/2023 đến ngày 14/09/2024');
    await telegramAnswer(tu, () => tu.tap('Bắt đầu trả lời'));
    for (const label of ['Tốt', 'Không đủ thông tin để đánh giá', 'Khá', 'Tốt', 'Không đủ thông tin để đánh giá', 'Kém'])
      await telegramAnswer(tu, () => tu.tap(label));
    await telegramAnswer(tu, () => tu.tap('Bỏ qua'));

    // The Kế Sách district People's Committee, on Zalo with the code typed from the letter.
    const district = ballots.find((b) => b.agency === 'UBND-HKS')!;
    const zu = new ZaloUser(zalo, `${t.baseUrl}/webhooks/zalo`, '9007199254740999');
    await zaloAnswer(zu, () => zu.send(`Mã phiếu ${district.code}`));
    expect(zu.messages().at(-1)!.text).toContain('của Công an huyện Kế Sách trong thời gian');
    await zaloAnswer(zu, () => zu.tap('Bắt đầu trả lời'));
    for (const answer of ['khong du thong tin', 'Tốt', 'Khá', 'Khá', 'Tốt', 'Trung bình'])
      await zaloAnswer(zu, () => (answer.includes(' ') ? zu.send(answer) : zu.tap(answer)));
    await zaloAnswer(zu, () => zu.send('Đề nghị tăng cường phối hợp.'));

    const { Response, CounterTotal } = t.service.db.models;
    const responses = await eventually(async () => {
      const rs = await Response.find({ kind: 'agency' }).lean();
      return rs.length === 2 && rs;
    }, 'both agency responses');
    expect(responses.map((r) => [r.agency, r.channel, r.field ?? null]).sort()).toEqual([
      ['UBND-HKS', 'zalo', null],
      ['VP-UBND', 'telegram', null],
    ]);
    const rows = await eventually(async () => {
      const cs = await CounterTotal.find({ campaign: 'soc-trang-2024', field: '', span: 'all' }).lean();
      return cs.reduce((n, c) => n + (c.n ?? 0), 0) === 14 && cs;
    }, 'the counters of both ballots');
    const byArea = Object.fromEntries(tally(rows as never, t.service.flows).criteria.map((c) => [c.q, c]));
    // Publicity: one "not enough information" (left out), one Tốt: N = 1, rate 100.
    expect(byArea.area_publicity).toMatchObject({ n: 1, excluded: 1, rate: 100 });
    // Conduct: "not enough information" and Tốt; digital: Tốt and Khá (N = 2, 100%); feedback: Kém and Trung bình (0%).
    expect(byArea.area_conduct).toMatchObject({ n: 1, excluded: 1, rate: 100 });
    expect(byArea.area_digital).toMatchObject({ n: 2, excluded: 0, rate: 100, mean: 3.5 });
    expect(byArea.area_coordination).toMatchObject({ n: 1, excluded: 1 });
    expect(byArea.area_feedback).toMatchObject({ n: 2, rate: 0, mean: 1.5 });
  });

  it('progress counts sent and received per agency', async () => {
    const { progress } = (await api(t.baseUrl, pv01, 'GET', '/api/agency-ballots')).body as {
      progress: Array<{ agency: string; sent: number; received: number; lastReceivedAt: string | null; unit: string }>;
    };
    const of = (code: string) => progress.find((p) => p.agency === code)!;
    await eventually(async () => {
      const p = (await api(t.baseUrl, pv01, 'GET', '/api/agency-ballots')).body.progress as typeof progress;
      return p.find((x) => x.agency === 'UBND-HKS')!.received === 1;
    }, 'the Zalo ballot received');
    expect(of('SO-TU-PHAP')).toMatchObject({ sent: 2, unit: 'CATST' });
    expect(of('SO-NOI-VU')).toMatchObject({ sent: 1, received: 0, lastReceivedAt: null });
  });
});

describe('questionnaire versions', () => {
  it('a v1 and a v2 ballot are counted together, each with its own questions', async () => {
    const officer = await t.key('officer', 'PC06');
    const make = async (caseCode: string) =>
      (await api(t.baseUrl, officer, 'POST', '/api/invitations', { caseCode, unit: 'PC06', field: 'can-cuoc' })).body.id as string;
    const [v1, v2] = [await make('VER-1'), await make('VER-2')];
    const base = { channel: 'telegram' as const, respondent: 'r', startedAt: 1, completedAt: 2 };
    const scores = { access_location: 5, access_seating: 4, access_equipment: 4, proc_public: 4, proc_documents: 4, proc_fees: 4, proc_deadline: 2 };
    await persistCompletion(t.service.db.models, t.service.flows, {
      ...base,
      ref: v1,
      flow: 'citizen-satisfaction@1',
      answers: { ...scores, result_on_time: 2, result_accurate: 5, feedback_easy: 4, feedback_timely: 4, overall: 4 },
    });
    await persistCompletion(t.service.db.models, t.service.flows, {
      ...base,
      ref: v2,
      flow: 'citizen-satisfaction@2',
      lang: 'en',
      answers: {
        ...scores,
        officer_listening: 5,
        result_lawful: 5,
        result_accurate: 3,
        feedback_easy: 'none',
        feedback_timely: 5,
        overall: 5,
        profile_age: 'over-60',
      },
    });
    const rows = await t.service.db.models.CounterTotal.find({ campaign: 'soc-trang-2024', unit: 'PC06', field: 'can-cuoc', span: 'all' }).lean();
    expect(new Set(rows.map((r) => r.flow))).toEqual(new Set(['citizen-satisfaction@1', 'citizen-satisfaction@2']));
    const { criteria, elements, overall } = tally(rows as never, t.service.flows);
    const c = Object.fromEntries(criteria.map((x) => [x.q, x]));
    // Shared criteria pool both ballots; a criterion only one version asks counts that version's ballots.
    expect(c.access_location).toMatchObject({ n: 2, rate: 100, mean: 5 });
    expect(c.result_accurate).toMatchObject({ n: 2, rate: 50, mean: 4 });
    expect(c.result_on_time).toMatchObject({ n: 1, rate: 0 });
    expect(c.result_lawful).toMatchObject({ n: 1, rate: 100 });
    expect(c.officer_listening).toMatchObject({ n: 1, element: 'officer' });
    // "Không góp ý" on v2 is not in N: only the v1 ballot rated feedback_easy.
    expect(c.feedback_easy).toMatchObject({ n: 1, excluded: 1, rate: 100 });
    // Result element: mean of result_on_time 0, result_accurate 50, result_lawful 100.
    expect(elements.find((e) => e.code === 'result')!.rate).toBe(50);
    expect(overall).toBe(100);
    // Profile answers are not criteria.
    expect(c.profile_age).toBeUndefined();
    const v2Response = await t.service.db.models.Response.findOne({ invitationId: v2 }).lean();
    expect([v2Response!.flowVersion, v2Response!.lang]).toEqual([2, 'en']);
  });
});

describe('the 2025 campaign', () => {
  it('asks version 2 with the procedure chosen by the officer, and can be answered in English', async () => {
    await t.service.db.models.Campaign.updateMany({}, { $set: { active: false } });
    await t.service.db.models.Campaign.updateOne({ _id: 'can-tho-2025' }, { $set: { active: true, updatedAt: new Date() } });
    t.service.invitations.forgetCampaign();
    const officer = await t.key('officer', 'P-PHU-LOI');
    const ward = (extra: Record<string, string>) => api(t.baseUrl, officer, 'POST', '/api/invitations', { unit: 'P-PHU-LOI', field: 'cu-tru', ...extra });
    const bad = await ward({ caseCode: 'CT-0', procedureCode: 'xnc-ho-chieu-cap' });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'unknown_procedure']);
    const future = await ward({ caseCode: 'CT-0', handedBackOn: '2999-01-01' });
    expect([future.status, future.body.error.code]).toEqual([400, 'future_date']);
    const created = await ward({
      caseCode: 'CT-1',
      procedure: 'Đăng ký tạm trú',
      submittedVia: 'direct',
      respondentType: 'citizen',
      handedBackOn: '2025-10-02',
    });
    expect(created.status).toBe(201);
    const stored = await t.service.db.models.Invitation.findById(created.body.id).lean();
    expect(stored).toMatchObject({
      procedure: 'Đăng ký tạm trú',
      procedureCode: 'ct-tam-tru',
      submittedVia: 'direct',
      handedBackOn: '2025-10-02',
      flow: 'citizen-satisfaction@2',
    });

    const u = telegramUser();
    await telegramAnswer(u, () => u.send(`/start ${created.body.token}`));
    // Respondent type and submission are prefilled: 21 questions are left (the 2025 contacts are kept until 14/01/2026).
    expect(u.last()!.text).toContain('Khảo sát gồm khoảng 21 câu');
    expect(u.last()!.text).toContain('được xóa sau ngày 14/01/2026');
    await telegramAnswer(u, () => u.tap('English'));
    expect(u.last()!.text).toContain('The survey has about 21 questions');
    await telegramAnswer(u, () => u.tap('I agree to take part'));
    for (let i = 0; i < 13; i++) await telegramAnswer(u, () => (i % 2 ? u.tap('Satisfied') : u.send('5')));
    await telegramAnswer(u, () => u.tap('I made no comment or complaint'));
    await telegramAnswer(u, () => u.tap('Very satisfied'));
    await telegramAnswer(u, () => u.tap('No'));
    await telegramAnswer(u, () => u.send('no'));
    await telegramAnswer(u, () => u.tap('Very satisfied'));
    await telegramAnswer(u, () => u.tap('Skip'));
    expect(u.last()!.text).toMatch(/Two last questions about you.*Gender/s);
    await telegramAnswer(u, () => u.tap('Female'));
    await telegramAnswer(u, () => u.tap('Skip'));
    expect(u.last()!.text).toContain('Thank you very much for taking part');

    const r = await eventually(() => t.service.db.models.Response.findOne({ invitationId: created.body.id }).lean(), 'the English response');
    expect(r).toMatchObject({ flow: 'citizen-satisfaction', flowVersion: 2, lang: 'en', procedureCode: 'ct-tam-tru', submittedVia: 'direct' });
    const answers = Object.fromEntries(r.answers.map((a) => [a.q, [a.value, a.label]]));
    // Values and stored labels are the questionnaire's own, whatever the language.
    expect(answers.feedback_easy).toEqual(['none', 'Không góp ý, phản ánh']);
    expect(answers.profile_gender).toEqual(['female', 'Nữ']);
    expect(answers.submitted_via).toEqual(['direct', 'Trực tiếp tại nơi tiếp nhận']);
    expect(answers.profile_age).toEqual([null, undefined]);
  });
});
