// What a save owes beyond its reply (the ballot of a survey it ended, the
// opening of an invitation it opened), lost with its process (killed between
// the save and the queue), while the respondent goes on before the recovery
// has looked: it still reaches MongoDB, once.
import { afterAll, describe, expect, it } from 'vitest';
import type { InboundEvent } from '../../src/conversations/runner.js';
import { eventually, startTestService, type TestService } from '../helpers/context.js';

const services: TestService[] = [];
afterAll(async () => {
  for (const t of services.reverse()) await t.close();
});

const answers = ['1', ...Array(14).fill('4'), '2', '2', '4'];

describe('a ballot lost with its process', () => {
  it('is queued again when the respondent writes soon after, and recorded once', async () => {
    const t = await startTestService({ name: 'lost_ballot', listen: false });
    services.push(t);
    const { queues, runner, invitations } = t.service;
    const { view } = await invitations.create({ caseCode: 'LOST-1', unit: 'PC07', field: 'pccc', respondentType: 'citizen' }, { keyId: 't', role: 'admin' });
    const ev = (rest: Record<string, unknown>) => ({ channel: 'telegram', userKey: 'lost-ballot-user', ...rest }) as InboundEvent;
    await runner.handle(ev({ kind: 'start', token: view.token }));
    for (const text of answers) await runner.handle(ev({ kind: 'text', text }));

    // The process dies after the save that ends the survey, before its ballot is queued (the queue refuses once here).
    const addCompletion = queues.addCompletion.bind(queues);
    queues.addCompletion = () => {
      queues.addCompletion = addCompletion;
      return Promise.reject(new Error('process killed'));
    };
    await expect(runner.handle(ev({ kind: 'text', text: '/skip' }))).rejects.toThrow('process killed');
    expect(await queues.completion.getJob(`complete-${view.id}`)).toBeUndefined();

    // The respondent, not thanked, writes again a moment later: told the survey is done, and the ballot is queued.
    const again = await runner.handle(ev({ kind: 'text', text: 'Xong chưa ạ?' }));
    expect(again.outputs.length).toBeGreaterThan(0);
    const { Response } = t.service.db.models;
    await eventually(async () => (await Response.countDocuments({ invitationId: view.id })) === 1, 'the response in MongoDB', 15_000);

    // Writing again queues nothing twice.
    await runner.handle(ev({ kind: 'text', text: 'Cảm ơn' }));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await Response.countDocuments({ invitationId: view.id })).toBe(1);
  }, 60_000);
});

describe('an opening lost with its process', () => {
  it('is queued by the next answer, on another process, once the mark is older than a live process leaves one', async () => {
    // Process A opens the survey and dies before the opening is queued (its queue never answers).
    const a = await startTestService({ name: 'lost_opening', listen: false, workers: false });
    services.push(a);
    a.service.queues.addOpenings = () => new Promise(() => {});
    const { view } = await a.service.invitations.create(
      { caseCode: 'LOST-2', unit: 'PC07', field: 'pccc', respondentType: 'citizen' },
      { keyId: 't', role: 'admin' },
    );
    const ev = (rest: Record<string, unknown>) => ({ channel: 'telegram', userKey: 'lost-opening-user', ...rest }) as InboundEvent;
    const first = await a.service.runner.handle(ev({ kind: 'start', token: view.token }));
    expect(first.outputs[0]).toMatchObject({ type: 'question', questionId: 'consent' });

    // The next answer reaches process B, 6 s later (the recovery waits 20 s).
    const b = await startTestService({ name: 'lost_opening', listen: false, sameAs: a, now: () => Date.now() + 6_000 });
    services.push(b);
    const next = await b.service.runner.handle(ev({ kind: 'text', text: '1' }));
    expect(next.outputs.length).toBeGreaterThan(0);
    const { Invitation } = b.service.db.models;
    const opened = await eventually(async () => (await Invitation.findById(view.id).lean())?.openedAt, 'the opening recorded', 15_000);
    expect(opened.getTime()).toBeLessThanOrEqual(Date.now());

    // Later answers, marks settled at once, queue no opening again.
    const queued = async () =>
      (await b.service.queues.followUps.getJobs(['waiting', 'delayed', 'active', 'completed'])).filter((j) => j.name === 'opened').length;
    const before = await queued();
    for (const text of answers.slice(1, 4)) await b.service.runner.handle(ev({ kind: 'text', text }));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await queued()).toBe(before);
  }, 60_000);
});
