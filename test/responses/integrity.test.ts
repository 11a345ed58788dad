// Flow versions stay immutable once used; report counters can be recomputed and repaired.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundEvent } from '../../src/conversations/runner.js';
import { flagPendingCounters, moveCampaignCounters } from '../../src/db.js';
import { checkInvitationCounts, countInvitation, invitationCountRows } from '../../src/invitations/counts.js';
import { checkFlowVersions } from '../../src/invitations/seed.js';
import { projectRoot } from '../../src/local/paths.js';
import { addCounterRows, counterRows, countersPending, withCountersPaused } from '../../src/responses/complete.js';
import { checkCounters, repairPendingCounters, startCounterRepair } from '../../src/responses/counters.js';
import { invalidateBallot, revalidateBallot } from '../../src/responses/validity.js';
import { eventually, startTestService, type TestService } from '../helpers/context.js';

let t: TestService;
beforeAll(async () => {
  t = await startTestService({ name: 'integrity', listen: false });
});
afterAll(() => t.close());

async function completeSurvey(caseCode: string, level: string) {
  const { view } = await t.service.invitations.create({ caseCode, unit: 'PA08', field: 'xnc', respondentType: 'citizen' }, { keyId: 't', role: 'admin' });
  const ev = (rest: Record<string, unknown>) => ({ channel: 'telegram', userKey: `u-${caseCode}`, ...rest }) as InboundEvent;
  await t.service.runner.handle(ev({ kind: 'start', token: view.token }));
  for (const text of ['1', ...Array(14).fill(level), '2', '2', level, '/skip']) await t.service.runner.handle(ev({ kind: 'text', text }));
  // The invitation is marked completed after the response and its counters are written.
  await eventually(() => t.service.db.models.Invitation.findOne({ _id: view.id, status: 'completed' }).lean(), 'the response and its counters');
}

describe('report counters', () => {
  it('agree with the responses, and a damaged counter is found and repaired', async () => {
    await completeSurvey('CNT-1', '4');
    await completeSurvey('CNT-2', '5');
    const { Counter, CounterTotal } = t.service.db.models;
    expect(await checkCounters(t.service.db.models, 'soc-trang-2024')).toEqual({ rows: 102, mismatches: [] }); // consent, type, 2 observations shared; 14 items and overall twice; per day, month and campaign
    // Written and confirmed: no mark left for the repair.
    expect(await t.service.db.models.Response.countDocuments({ countersPending: true })).toBe(0);
    const overall = (value: string) => Counter.findOne({ campaign: 'soc-trang-2024', unit: 'PA08', field: 'xnc', q: 'overall', value, span: 'day' }).lean();
    const four = (await overall('4'))!;
    const five = (await overall('5'))!;
    expect(four.n).toBe(1);
    // Per questionnaire version, day (in the campaign's time zone), respondent type and procedure.
    expect(four).toMatchObject({ flow: 'citizen-satisfaction@1', rtype: 'citizen', proc: '' });
    expect(four.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // And rolled up: the same ballot counted in its month, and in the campaign's total (kept apart).
    const spans = await Counter.find({ campaign: 'soc-trang-2024', unit: 'PA08', q: 'overall', value: '4' }).lean();
    expect(spans.map((c) => [c.span, c.day, c.n]).sort()).toEqual([
      ['day', four.day, 1],
      ['month', four.day!.slice(0, 7), 1],
    ]);
    const total = await CounterTotal.find({ campaign: 'soc-trang-2024', unit: 'PA08', q: 'overall', value: '4' }).lean();
    expect(total.map((c) => [c.span, c.day, c.n])).toEqual([['all', '', 1]]);

    await Counter.updateOne({ _id: four._id }, { $inc: { n: 5 } });
    await Counter.deleteOne({ _id: five._id });
    // A campaign row where an earlier version kept it, among the day rows: found, and moved by the repair.
    const misplaced = (await CounterTotal.findOneAndDelete({ _id: total[0]!._id }).lean())!;
    await Counter.create({ ...misplaced, n: 1 });
    const broken = await checkCounters(t.service.db.models, 'soc-trang-2024', true);
    expect(broken.mismatches).toHaveLength(3);
    expect(broken.mismatches).toEqual(
      expect.arrayContaining([
        { id: four._id, expected: 1, actual: 6 },
        { id: five._id, expected: 1, actual: 0 },
        { id: misplaced._id, expected: 1, actual: 0 },
      ]),
    );
    expect((await checkCounters(t.service.db.models, 'soc-trang-2024')).mismatches).toEqual([]);
    expect(await Counter.countDocuments({ _id: misplaced._id })).toBe(0);
    expect((await CounterTotal.findById(misplaced._id).lean())?.n).toBe(1);
  });
});

describe('counter writes', () => {
  const rows = (unit: string, questions: number) =>
    counterRows({
      campaign: 'bench-counters',
      unit,
      flow: 'citizen-satisfaction',
      flowVersion: 1,
      day: '2024-06-20',
      completedAt: new Date(),
      answers: Array.from({ length: questions }, (_, i) => ({ q: `q${i + 1}`, value: i + 1, label: String(i + 1) })),
    });
  const counts = async (unit: string) =>
    Object.fromEntries((await t.service.db.models.Counter.find({ campaign: 'bench-counters', unit }).lean()).map((c) => [c.q, c.n]));

  it('a burst in one process adds up exactly (merged into few writes)', async () => {
    const { models } = t.service.db;
    await Promise.all(Array.from({ length: 300 }, (_, i) => addCounterRows(models, rows('BURST', 5), i % 3 === 2 ? -1 : 1)));
    expect(await counts('BURST')).toEqual({ q1: 100, q2: 100, q3: 100, q4: 100, q5: 100 });
  });
});

describe('counts written by two processes at the same moment', () => {
  // Another process of the deployment: its own connection and its own batches of counts.
  let other: TestService;
  beforeAll(async () => {
    other = await startTestService({ name: 'integrity', listen: false, workers: false, sameAs: t });
  });
  afterAll(() => other.service.close());
  /** Each stored row's span and count, against the same count in the day's, the month's and the campaign's row. */
  const spans = (rows: Array<{ span?: string | null }>, count: (row: any) => number) => rows.map((r) => [r.span, count(r)]).sort();
  const inEverySpan = (n: number) => [
    ['all', n],
    ['day', n],
    ['month', n],
  ];

  it('invitation counts add up when both create the same new rows, and every invitation is reported created', async () => {
    const officer = { keyId: 't', role: 'admin' as const };
    const created = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? other : t).service.invitations.create({ caseCode: `TWO-${i}`, unit: 'PC06', field: 'can-cuoc', respondentType: 'citizen' }, officer),
      ),
    );
    expect(created.filter((c) => c.created)).toHaveLength(40);
    const { InvitationCount, InvitationCountTotal } = t.service.db.models;
    const rows = [...(await InvitationCount.find({ unit: 'PC06' }).lean()), ...(await InvitationCountTotal.find({ unit: 'PC06' }).lean())];
    expect(spans(rows, (r) => r.created)).toEqual(inEverySpan(40));
  });

  it('report counters add up', async () => {
    const rows = counterRows({
      campaign: 'two-processes',
      unit: 'PC06',
      flow: 'citizen-satisfaction',
      flowVersion: 1,
      day: '2024-06-20',
      completedAt: new Date(),
      answers: [{ q: 'overall', value: 5, label: '5' }],
    });
    await Promise.all(Array.from({ length: 60 }, (_, i) => addCounterRows((i % 2 ? other : t).service.db.models, rows, 1)));
    const { Counter, CounterTotal } = t.service.db.models;
    const stored = [...(await Counter.find({ campaign: 'two-processes' }).lean()), ...(await CounterTotal.find({ campaign: 'two-processes' }).lean())];
    expect(spans(stored, (r) => r.n)).toEqual(inEverySpan(60));
  });
});

describe('counters left pending by a process that died', () => {
  it('are recounted, whether the write landed or not, and the marks go', async () => {
    await completeSurvey('PEND-1', '3');
    await completeSurvey('PEND-2', '3');
    const { Response, Counter } = t.service.db.models;
    const [lost, landed] = await Response.find({ caseCode: { $in: ['PEND-1', 'PEND-2'] } }).lean();
    // PEND-1: claimed, then the process died before the increments; PEND-2: died after them, before the confirmation.
    await addCounterRows(t.service.db.models, counterRows(lost as never), -1);
    const old = new Date(Date.now() - 60_000);
    await Response.updateMany({ _id: { $in: [lost!._id, landed!._id] } }, { $set: countersPending(old) });
    expect((await checkCounters(t.service.db.models, 'soc-trang-2024')).mismatches.length).toBeGreaterThan(0);

    // A mark younger than the bound is a write in progress: left alone.
    expect(await repairPendingCounters(t.service.db.models, new Date(old.getTime() - 1))).toBe(0);
    expect(await repairPendingCounters(t.service.db.models, new Date())).toBe(2);
    expect((await checkCounters(t.service.db.models, 'soc-trang-2024')).mismatches).toEqual([]);
    expect(await Response.countDocuments({ countersPending: true })).toBe(0);
    const three = await Counter.findOne({ campaign: 'soc-trang-2024', unit: 'PA08', q: 'overall', value: '3' }).lean();
    expect(three!.n).toBe(2);
  });

  it('a ballot a live writer claimed as the repair runs is counted once', async () => {
    await completeSurvey('PEND-3', '3');
    await completeSurvey('PEND-4', '3');
    const { models } = t.service.db;
    const [crashed, live] = await models.Response.find({ caseCode: { $in: ['PEND-3', 'PEND-4'] } })
      .sort({ caseCode: 1 })
      .lean();
    // PEND-3: its process died after the increments, before the confirmation. PEND-4, in the same slice: claimed
    // by a live writer a moment ago, its increments not written yet.
    await models.Response.updateOne({ _id: crashed!._id }, { $set: countersPending(new Date(Date.now() - 60_000)) });
    await addCounterRows(models, counterRows(live as never), -1);
    const claim = { id: live!._id, at: new Date() };
    await models.Response.updateOne({ _id: live!._id }, { $set: countersPending(claim.at) });

    expect(await repairPendingCounters(models, new Date(Date.now() - 30_000))).toBe(1);
    // The live writer's batch lands after the repair.
    await addCounterRows(models, counterRows(live as never), 1, claim);
    // Every row as its ballots say: the live ballot is not counted twice (the repair left it to its writer).
    expect((await checkCounters(models, 'soc-trang-2024')).mismatches).toEqual([]);
  });
  it("set a day's rows from its ballots, its month's from its days and the campaign's from its months", async () => {
    const { models } = t.service.db;
    const ballot = (day: string, i: number) => ({
      invitationId: `rollup-${i}`,
      campaign: 'rollup',
      unit: 'PC06',
      field: 'can-cuoc',
      channel: 'telegram',
      respondent: `rollup-${i}`,
      flow: 'citizen-satisfaction',
      flowVersion: 2,
      day,
      rtype: 'citizen',
      countersApplied: true,
      startedAt: new Date(`${day}T02:00:00Z`),
      completedAt: new Date(`${day}T02:10:00Z`),
      answers: [{ q: 'overall', value: 5, label: '5' }],
    });
    const days = ['2024-06-01', '2024-06-02', '2024-06-02', '2024-06-30', '2024-07-01'];
    const ballots = await models.Response.create(days.map(ballot));
    for (const b of ballots) await addCounterRows(models, counterRows(b as never), 1);
    // One ballot of 2 June: its process died after writing its day row, before its month's and the campaign's.
    const dead = ballots[2]!;
    const [dayRow, monthRow, allRow] = counterRows(dead as never);
    await models.Counter.updateOne({ _id: monthRow!._id }, { $inc: { n: -1 } });
    await models.CounterTotal.updateOne({ _id: allRow!._id }, { $inc: { n: -1 } });
    await models.Response.updateOne({ _id: dead._id }, { $set: countersPending(new Date(Date.now() - 60_000)) });

    expect(await repairPendingCounters(models, new Date(Date.now() - 30_000))).toBe(1);
    expect((await models.Counter.findById(dayRow!._id).lean())?.n).toBe(2);
    expect((await models.Counter.findById(monthRow!._id).lean())?.n).toBe(4);
    expect((await models.CounterTotal.findById(allRow!._id).lean())?.n).toBe(5);
    expect((await checkCounters(models, 'rollup')).mismatches).toEqual([]);
  });

  it('are repaired by one run at a time, however short the interval', async () => {
    await completeSurvey('PEND-6', '3');
    const { models } = t.service.db;
    const dead = (await models.Response.findOne({ caseCode: 'PEND-6' }).lean())!;
    await addCounterRows(models, counterRows(dead as never), -1);
    await models.Response.updateOne({ _id: dead._id }, { $set: countersPending(new Date(Date.now() - 60_000)) });
    const reports: number[] = [];
    // Every millisecond: a run takes far longer (it recounts three slices, each in a turn of its own).
    const stop = startCounterRepair(models, 1, 20_000, (n, err) => void reports.push(err ? -1 : n));
    try {
      await eventually(async () => (await models.Response.countDocuments({ countersPending: true })) === 0, 'the mark gone');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      stop();
    }
    // Runs overlapping would each have recounted the ballot's slices and reported it.
    expect(reports).toEqual([1]);
    expect((await checkCounters(models, 'soc-trang-2024')).mismatches).toEqual([]);
  });

  it('a writer slower than the bound, not dead, finds its ballot counted by the repair and leaves it out', async () => {
    await completeSurvey('PEND-5', '3');
    const { models } = t.service.db;
    const slow = await models.Response.findOne({ caseCode: 'PEND-5' }).lean();
    const three = () => models.Counter.findOne({ campaign: 'soc-trang-2024', unit: 'PA08', q: 'overall', value: '3', span: 'day' }).lean();
    const counted = (await three())!.n;
    // Claimed a minute ago; its writer is still waiting for its turn (a loaded database), its increments not written.
    await addCounterRows(models, counterRows(slow as never), -1);
    const claim = { id: slow!._id, at: new Date(Date.now() - 60_000) };
    await models.Response.updateOne({ _id: slow!._id }, { $set: countersPending(claim.at) });
    expect(await repairPendingCounters(models, new Date(Date.now() - 20_000))).toBe(1);
    expect((await three())!.n).toBe(counted);
    // Its turn comes: the batch leaves the ballot out, and the rows stay as its ballots say.
    await addCounterRows(models, counterRows(slow as never), 1, claim);
    expect((await three())!.n).toBe(counted);
    expect((await checkCounters(models, 'soc-trang-2024')).mismatches).toEqual([]);
  });
});

describe('the recount (counters:check --fix)', () => {
  it('counts a ballot once when its writer adds it after the recount', async () => {
    await completeSurvey('FIX-1', '4');
    await completeSurvey('FIX-2', '4');
    const { models } = t.service.db;
    const live = await models.Response.findOne({ caseCode: 'FIX-2' }).lean();
    const four = () => models.Counter.findOne({ campaign: 'soc-trang-2024', unit: 'PA08', q: 'overall', value: '4', span: 'day' }).lean();
    const counted = (await four())!.n;
    // The row damaged; FIX-2 claimed by a live writer a moment ago, its increments not written yet.
    await models.Counter.updateOne({ _id: (await four())!._id }, { $inc: { n: 5 } });
    await addCounterRows(models, counterRows(live as never), -1);
    const claim = { id: live!._id, at: new Date() };
    await models.Response.updateOne({ _id: live!._id }, { $set: countersPending(claim.at) });

    const fixed = await checkCounters(models, 'soc-trang-2024', true);
    expect(fixed.mismatches).toContainEqual({ id: (await four())!._id, expected: counted - 1, actual: counted + 4 });
    expect((await four())!.n).toBe(counted - 1);
    // The live writer's batch lands after the recount: FIX-2 is counted once, by its writer.
    await addCounterRows(models, counterRows(live as never), 1, claim);
    expect((await four())!.n).toBe(counted);
    expect((await checkCounters(models, 'soc-trang-2024')).mismatches).toEqual([]);
  });
});

describe('the recount of invitation counts (counters:check --fix)', () => {
  it('counts an invitation once when its own count lands after the fix (created while the fix ran)', async () => {
    const { models } = t.service.db;
    const campaign = await t.service.invitations.currentCampaign();
    const { view } = await t.service.invitations.create(
      { caseCode: 'FIX-INV', unit: 'PA08', field: 'xnc', respondentType: 'citizen' },
      { keyId: 't', role: 'admin' },
    );
    const inv = (await models.Invitation.findById(view.id).lean())!;
    // As if its count were still waiting for its turn in another process: not in the rows yet.
    const [day, month, all] = invitationCountRows(inv, campaign.timezone).map((r) => r._id);
    await models.InvitationCount.updateOne({ _id: day }, { $inc: { created: -1 } });
    await models.InvitationCount.updateOne({ _id: month }, { $inc: { created: -1 } });
    await models.InvitationCountTotal.updateOne({ _id: all }, { $inc: { created: -1 } });
    const fixed = await checkInvitationCounts(models, campaign.id, campaign.timezone, true);
    expect(fixed.mismatches.map((m) => m.id).sort()).toEqual([day, month, all].sort());
    // The waiting count lands: the fix counted the invitation already, so it is left out.
    await countInvitation(models, inv, 'created', campaign.timezone);
    expect((await models.InvitationCountTotal.findById(all).lean())?.created).toBe(fixed.mismatches.find((m) => m.id === all)!.expected[0]);
    await eventually(
      async () => (await checkInvitationCounts(models, campaign.id, campaign.timezone)).mismatches.length === 0,
      'the counts equal to the invitations',
    );
  });
});

describe('post-audit verdicts against the recount and the repair', () => {
  // The process of `counters:check --fix` (or of the repair): its own connection and its own batches.
  let other: TestService;
  beforeAll(async () => {
    other = await startTestService({ name: 'integrity', listen: false, workers: false, sameAs: t });
  });
  afterAll(() => other.service.close());
  const invitationOf = async (caseCode: string) => (await t.service.db.models.Response.findOne({ caseCode }).lean())!.invitationId;
  /** Runs `verdict` with this process's counter writes held back: its ballot changes, its change to the counters waits. */
  async function withVerdictWaiting(caseCode: string, verdict: Promise<boolean>, meanwhile: () => Promise<unknown>) {
    const { Response } = t.service.db.models;
    await withCountersPaused(t.service.db.models, async () => {
      await eventually(() => Response.exists({ caseCode, countersPending: true }), 'the verdict recorded, its counters claimed');
      await meanwhile();
    });
    expect(await verdict).toBe(true);
    expect(await Response.countDocuments({ caseCode, countersPending: true })).toBe(0);
  }
  const bothChecks = async (fix = false) => {
    const campaign = await other.service.invitations.currentCampaign();
    return [
      ...(await checkCounters(other.service.db.models, campaign.id, fix)).mismatches,
      ...(await checkInvitationCounts(other.service.db.models, campaign.id, campaign.timezone, fix)).mismatches,
    ];
  };

  it('a verdict recorded while counters:check --fix runs is counted once, in the report counters and in table A', async () => {
    await completeSurvey('VERDICT-1', '4');
    const { models } = t.service.db;
    const invitationId = await invitationOf('VERDICT-1');
    expect(await bothChecks()).toEqual([]);
    const invalidated = () => models.InvitationCountTotal.findOne({ campaign: 'soc-trang-2024', unit: 'PA08', field: 'xnc' }).lean();
    const before = (await invalidated())?.invalidated ?? 0;

    // Invalidated: the fix (another process) runs after the ballot changed and before its subtraction and count land.
    await withVerdictWaiting('VERDICT-1', invalidateBallot(models, invitationId, 'denied at post-audit verification', 'audit-fix'), () => bothChecks(true));
    expect(await bothChecks()).toEqual([]);
    expect((await invalidated())!.invalidated).toBe(before + 1);

    // Put back by PV01, the same way.
    await withVerdictWaiting('VERDICT-1', revalidateBallot(models, t.service.flows, invitationId), () => bothChecks(true));
    expect(await bothChecks()).toEqual([]);
    expect((await invalidated())!.invalidated).toBe(before);
  });

  it("a verdict's change is settled once by the repair when its writer was slower than the bound", async () => {
    await completeSurvey('VERDICT-2', '4');
    const { models } = t.service.db;
    // As if the claim were old: the repair takes it over, and the writer, when its turn comes, leaves it out.
    await withVerdictWaiting('VERDICT-2', invalidateBallot(models, await invitationOf('VERDICT-2'), 'denied on a post-audit call', 'audit-slow'), async () => {
      expect(await repairPendingCounters(other.service.db.models, new Date(Date.now() + 1000))).toBe(1);
    });
    expect(await bothChecks()).toEqual([]);
  });

  it('a live verdict in a slice the repair recounts is counted once', async () => {
    await completeSurvey('VERDICT-3', '4');
    await completeSurvey('VERDICT-4', '4');
    const { models } = t.service.db;
    // VERDICT-3: its completion's process died before the increments. VERDICT-4, in the same slices: invalidated by a
    // live process a moment ago, its subtraction not written yet.
    const dead = (await models.Response.findOne({ caseCode: 'VERDICT-3' }).lean())!;
    await addCounterRows(models, counterRows(dead as never), -1);
    await models.Response.updateOne({ _id: dead._id }, { $set: countersPending(new Date(Date.now() - 60_000)) });
    await withVerdictWaiting('VERDICT-4', invalidateBallot(models, await invitationOf('VERDICT-4'), 'denied on a post-audit call', 'audit-live'), async () => {
      expect(await repairPendingCounters(other.service.db.models, new Date(Date.now() - 30_000))).toBe(1);
    });
    expect(await bothChecks()).toEqual([]);
  });
});

describe('flow versions', () => {
  it('refuse to start when a used flow version was edited', async () => {
    const { FlowVersion } = t.service.db.models;
    await eventually(() => FlowVersion.findById('citizen-satisfaction@1').lean(), 'the flow version recorded at completion');
    await expect(checkFlowVersions(t.service.db.models, t.service.flows)).resolves.toBeUndefined();
    await FlowVersion.updateOne({ _id: 'citizen-satisfaction@1' }, { $set: { hash: 'something-else' } });
    await expect(checkFlowVersions(t.service.db.models, t.service.flows)).rejects.toThrow(
      /citizen-satisfaction@1: .*flows\/citizen-satisfaction\.v1\.yaml changed after responses referenced it; add a new version file instead/,
    );
  });

  it('npm run flows:check validates every flow and campaign', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(projectRoot, 'dist/scripts/flows-check.js')]);
    expect(stdout).toContain('ok  citizen-satisfaction@1  26 questions');
    expect(stdout).toContain('ok  agency-opinion@1');
    expect(stdout).toContain('ok  post-audit@1');
    expect(stdout).toContain('ok  campaign soc-trang-2024: 19 units, 8 fields, 8 agencies');
    expect(stdout).toContain('ok  campaign can-tho-2025: 9 units, 6 fields, 6 agencies');
    expect(stdout).toMatch(/ok {2}citizen-satisfaction@2 {2}\d+ questions {2}languages vi, en/);
    expect(stdout).toMatch(/ok {2}agency-opinion@2 {2}\d+ questions {2}languages vi, en/);
  });
});

describe('upgrading', () => {
  it("moves the campaign's counter rows an earlier version kept among the day rows to their own collection at start-up, once", async () => {
    const { Counter, CounterTotal } = t.service.db.models;
    const row = { campaign: 'upgrade', unit: 'PC06', field: 'can-cuoc', flow: 'citizen-satisfaction@1', rtype: 'citizen', proc: '', q: 'overall', value: '5' };
    const id = (day: string) => ['upgrade', 'PC06', 'can-cuoc', 'citizen-satisfaction@1', day, 'citizen', '', 'overall', '5'].join('|');
    await Counter.create([
      { ...row, _id: id(''), day: '', span: 'all', n: 7 },
      { ...row, _id: id('2024-05-02'), day: '2024-05-02', span: 'day', n: 7 },
    ]);
    // Counted there already by a process of this version that started first: added to, not overwritten.
    await CounterTotal.create({ ...row, _id: id(''), day: '', span: 'all', n: 2 });
    // Two processes starting at once (ensureIndexes runs this first).
    await Promise.all([moveCampaignCounters(t.service.db.models), moveCampaignCounters(t.service.db.models)]);
    expect((await CounterTotal.findById(id('')).lean())?.n).toBe(9);
    expect((await Counter.find({ campaign: 'upgrade' }).lean()).map((c) => c._id)).toEqual([id('2024-05-02')]);
  });

  it('flags the counter claims an earlier version marked by time only, once, so that the repair finds them', async () => {
    await completeSurvey('UPG-1', '3');
    const { models } = t.service.db;
    const { Response } = models;
    const ballot = (await Response.findOne({ caseCode: 'UPG-1' }).lean())!;
    // Its writer, of the earlier version, died after the claim and before the increments.
    await addCounterRows(models, counterRows(ballot as never), -1);
    await Response.collection.updateOne({ _id: ballot._id }, { $set: { countersPendingAt: new Date(Date.now() - 60_000) }, $unset: { countersPending: 1 } });
    await Response.collection.createIndex({ countersPendingAt: 1 }, { sparse: true, name: 'countersPendingAt_1' });
    expect(await repairPendingCounters(models, new Date())).toBe(0);

    // Two processes starting at once.
    await Promise.all([flagPendingCounters(models), flagPendingCounters(models)]);
    expect((await Response.collection.indexes()).map((i) => i.name)).not.toContain('countersPendingAt_1');
    expect(await repairPendingCounters(models, new Date())).toBe(1);
    expect((await checkCounters(models, 'soc-trang-2024')).mismatches).toEqual([]);
  });

  it("moves the invitation counts' campaign rows likewise", async () => {
    const { InvitationCount, InvitationCountTotal } = t.service.db.models;
    const row = { campaign: 'upgrade-inv', unit: 'PC06', field: 'can-cuoc' };
    await InvitationCount.create([
      { ...row, _id: 'upgrade-inv|PC06|can-cuoc|', day: '', span: 'all', created: 5, opened: 3, invalidated: 1 },
      { ...row, _id: 'upgrade-inv|PC06|can-cuoc|2024-05-02', day: '2024-05-02', span: 'day', created: 5, opened: 3, invalidated: 1 },
    ]);
    await InvitationCountTotal.create({ ...row, _id: 'upgrade-inv|PC06|can-cuoc|', day: '', span: 'all', created: 2, opened: 2, invalidated: 0 });
    await Promise.all([moveCampaignCounters(t.service.db.models), moveCampaignCounters(t.service.db.models)]);
    expect(await InvitationCountTotal.findById('upgrade-inv|PC06|can-cuoc|').lean()).toMatchObject({ created: 7, opened: 5, invalidated: 1 });
    expect((await InvitationCount.find({ campaign: 'upgrade-inv' }).lean()).map((c) => c._id)).toEqual(['upgrade-inv|PC06|can-cuoc|2024-05-02']);
  });
});
