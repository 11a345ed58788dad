// Opening a survey reads and claims the Redis copy of the invitation (the
// webhook path never waits on MongoDB); MongoDB is asked only when the copy is missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundEvent } from '../../src/conversations/runner.js';
import { checkInvitationCounts } from '../../src/invitations/counts.js';
import { type OpenedJob, openingsOf } from '../../src/queues/jobs.js';
import { eventually, startTestService, type TestService } from '../helpers/context.js';

let t: TestService;
beforeAll(async () => {
  t = await startTestService({ name: 'opening', listen: false });
});
afterAll(() => t.close());

const admin = { keyId: 't', role: 'admin' as const };
const start = (userKey: string, token: string) => t.service.runner.handle({ channel: 'telegram', userKey, kind: 'start', token } as InboundEvent);
const firstText = (r: Awaited<ReturnType<typeof start>>) => {
  const o = r.outputs[0];
  return o && 'text' in o ? o.text : '';
};

describe('opening an invitation', () => {
  it('gives the survey to exactly one of several chats opening it at once', async () => {
    for (let round = 0; round < 5; round++) {
      const { view } = await t.service.invitations.create({ caseCode: `RACE-${round}`, unit: 'PC06', field: 'can-cuoc' }, admin);
      const results = await Promise.all(['a', 'b', 'c'].map((who) => start(`racer-${round}-${who}`, view.token)));
      const surveys = results.filter((r) => r.events.some((e) => e.type === 'started'));
      expect(surveys).toHaveLength(1);
      const others = results.filter((r) => !r.events.length).map(firstText);
      expect(others).toEqual([expect.stringContaining('đang được trả lời trên một tài khoản khác'), expect.stringContaining('tài khoản khác')]);
    }
  });

  it('an opening, a completion and a ZNS delivery recorded at the same moment all stay (FerretDB replaces whole documents)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await t.service.invitations.create({ caseCode: `BOTH-${i}`, unit: 'PC06', field: 'can-cuoc' }, admin)).view.id);
    const at = Date.now();
    // The two jobs of one invitation at once: as when a burst or an outage held both back.
    await Promise.all(
      ids.flatMap((id, i) => [
        t.service.invitations.markOpened(id, { channel: 'telegram', userKey: `both-${i}` }, at),
        t.service.invitations.markCompleted(id, at + 1),
        // Zalo reports the ZNS delivered as the citizen opens it.
        t.service.invitations.recordZnsDelivered(id, at),
      ]),
    );
    const invs = await t.service.db.models.Invitation.find({ _id: { $in: ids } }).lean();
    expect(invs.map((inv) => [inv.status, Boolean(inv.openedAt), Boolean(inv.znsDeliveredAt)])).toEqual(ids.map(() => ['completed', true, true]));
    const campaign = await t.service.invitations.currentCampaign();
    // The first test's openings are recorded by jobs a second later: one may be written but not yet counted. A count
    // lost for good still fails here.
    await eventually(
      async () => (await checkInvitationCounts(t.service.db.models, campaign.id, campaign.timezone)).mismatches.length === 0,
      'the counts equal to the invitations',
    );
  });

  it('an expiry and ZNS deliveries recorded at the same moment both stay', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await t.service.invitations.create({ caseCode: `LATE-${i}`, unit: 'PC06', field: 'can-cuoc' }, admin)).view.id);
    await t.service.db.models.Invitation.updateMany({ _id: { $in: ids } }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const at = Date.now();
    const [expired] = await Promise.all([t.service.invitations.expireDue(), ...ids.map((id) => t.service.invitations.recordZnsDelivered(id, at))]);
    expect(expired).toBe(30);
    const invs = await t.service.db.models.Invitation.find({ _id: { $in: ids } }).lean();
    expect(invs.map((inv) => [inv.status, Boolean(inv.znsDeliveredAt)])).toEqual(ids.map(() => ['expired', true]));
  });

  it('the sweep expires the open invitations past their lifetime, unopened or opened, and nothing else', async () => {
    const make = async (caseCode: string) => (await t.service.invitations.create({ caseCode, unit: 'PC06', field: 'can-cuoc' }, admin)).view;
    const [unopened, opened, answered, current] = await Promise.all(['SWEEP-1', 'SWEEP-2', 'SWEEP-3', 'SWEEP-4'].map(make));
    await t.service.invitations.markOpened(opened!.id, { channel: 'telegram', userKey: 'sweep-2' }, Date.now());
    await t.service.invitations.markOpened(answered!.id, { channel: 'telegram', userKey: 'sweep-3' }, Date.now());
    await t.service.invitations.markCompleted(answered!.id, Date.now());
    const { Invitation } = t.service.db.models;
    const past = [unopened!.id, opened!.id, answered!.id];
    await Invitation.updateMany({ _id: { $in: past } }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await t.service.invitations.expireDue()).toBe(2);
    const status = async (id: string) => (await Invitation.findById(id).lean())!.status;
    expect(await Promise.all([unopened, opened, answered, current].map((v) => status(v!.id)))).toEqual(['expired', 'expired', 'completed', 'created']);
  });

  it('a burst of openings is queued as a few jobs, and each is recorded with its reminders', async () => {
    const views: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < 30; i++) views.push((await t.service.invitations.create({ caseCode: `BURST-${i}`, unit: 'PC06', field: 'can-cuoc' }, admin)).view);
    const results = await Promise.all(views.map((v, i) => start(`burst-${i}`, v.token)));
    expect(results.every((r) => r.events.some((e) => e.type === 'started'))).toBe(true);
    const refs = new Set(views.map((v) => v.id));
    const { Invitation } = t.service.db.models;
    await eventually(async () => (await Invitation.countDocuments({ _id: { $in: [...refs] }, status: 'opened' })) === 30, 'the openings recorded');
    // A BullMQ add per opening was a sixth of the CPU of an opening burst: a few jobs for the 30.
    const jobs = (await t.service.queues.followUps.getJobs(['completed', 'active', 'delayed', 'waiting'])).filter(
      (j) => j.name === 'opened' && openingsOf(j.data as OpenedJob).some((o) => refs.has(o.ref)),
    );
    expect(jobs.length).toBeLessThanOrEqual(5);
    await eventually(
      async () => (await Promise.all(views.map((v) => t.service.queues.followUps.getJob(`remind-${v.id}-0`)))).every(Boolean),
      'the first reminder of each survey scheduled',
    );
  });

  it('an opening queued alone, as before batches (a deployment upgraded with jobs waiting), is still recorded', async () => {
    const { view } = await t.service.invitations.create({ caseCode: 'LEGACY-1', unit: 'PC06', field: 'can-cuoc' }, admin);
    await t.service.queues.followUps.add('opened', { ref: view.id, channel: 'telegram', userKey: 'legacy', at: Date.now() });
    await eventually(async () => (await t.service.db.models.Invitation.findById(view.id).lean())?.status === 'opened', 'the opening recorded');
    await eventually(() => t.service.queues.followUps.getJob(`remind-${view.id}-0`), 'its first reminder scheduled');
  });

  it('a survey whose opening was never recorded (its job lost) is counted opened once, at its completion', async () => {
    const { view } = await t.service.invitations.create({ caseCode: 'LOST-OPENING', unit: 'PC06', field: 'can-cuoc', respondentType: 'citizen' }, admin);
    await start('lost-opening', view.token);
    // The process that queued it died before the job ran: the job is gone.
    const openedJob = await eventually(
      async () =>
        (await t.service.queues.followUps.getJobs(['delayed', 'waiting'])).find(
          (j) => j.name === 'opened' && openingsOf(j.data as OpenedJob).some((o) => o.ref === view.id),
        ),
      'the opening queued',
    );
    await openedJob.remove();
    for (const text of ['1', ...Array(14).fill('5'), 'không', 'không', '5', '/skip'])
      await t.service.runner.handle({ channel: 'telegram', userKey: 'lost-opening', kind: 'text', text } as InboundEvent);
    const { Invitation } = t.service.db.models;
    const inv = await eventually(async () => {
      const doc = await Invitation.findById(view.id).lean();
      return doc?.status === 'completed' ? doc : undefined;
    }, 'the invitation completed');
    expect(inv.openedAt).toBeInstanceOf(Date);
    const response = await eventually(() => t.service.db.models.Response.findOne({ invitationId: view.id }).lean(), 'the response');
    expect(inv.openedBy).toBe(response.respondent);
    // Counted opened once: the counts equal a recount from the invitations.
    const campaign = await t.service.invitations.currentCampaign();
    await eventually(
      async () => (await checkInvitationCounts(t.service.db.models, campaign.id, campaign.timezone)).mismatches.length === 0,
      'the counts equal to the invitations',
    );
  });

  it('an opening of a survey no invitation opened (a post-audit verification, named by a recovery) records nothing', async () => {
    expect(await t.service.invitations.markOpened('a-0123456789abcdef01234567', { channel: 'telegram', userKey: 'audited' }, Date.now())).toBeNull();
  });

  it('the winner can open it again (resume), and it stays claimed for the others', async () => {
    const { view } = await t.service.invitations.create({ caseCode: 'CLAIM-1', unit: 'PC06', field: 'can-cuoc' }, admin);
    await start('claimer', view.token);
    expect(firstText(await start('claimer', view.token))).toContain('Mời ông/bà tiếp tục');
    expect(firstText(await start('someone-else', view.token))).toContain('tài khoản khác');
  });

  it('falls back to MongoDB when the Redis copy is missing, and repairs the copy', async () => {
    const { view } = await t.service.invitations.create({ caseCode: 'LOST-1', unit: 'PC06', field: 'can-cuoc' }, admin);
    // Redis lost the copy (a restart without AOF, an eviction).
    const keys = await t.service.redis.keys(`${t.prefix}inv*`);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    await t.service.redis.del(...keys);
    const r = await start('after-loss', view.token);
    expect(r.events).toContainEqual({ type: 'started' });
    expect(await t.service.redis.exists(`${t.prefix}inv:${view.id}`)).toBe(1);
    // The claim of the first opener survives another loss: MongoDB has it once the opening is recorded.
    await eventually(async () => (await t.service.db.models.Invitation.findById(view.id).lean())?.openedBy, 'the opening recorded');
    await t.service.redis.del(...(await t.service.redis.keys(`${t.prefix}inv*`)));
    expect(firstText(await start('intruder', view.token))).toContain('tài khoản khác');
  });

  it('a cancelled invitation is refused at once, from the copy', async () => {
    const { view } = await t.service.invitations.create({ caseCode: 'CXL-1', unit: 'PC06', field: 'can-cuoc' }, admin);
    await t.service.invitations.cancel(view.id, admin);
    expect(firstText(await start('late', view.token))).toContain('đã bị hủy');
  });
});
