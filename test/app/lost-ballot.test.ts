// A ballot whose queueing was lost with its process (killed between the save
// that completed the survey and the queue), and the respondent writes again
// before the recovery has looked: the ballot still reaches MongoDB, once.
import { afterAll, describe, expect, it } from 'vitest';
import type { InboundEvent } from '../../src/conversations/runner.js';
import { eventually, startTestService, type TestService } from '../helpers/context.js';

let t: TestService;
afterAll(() => t?.close());

describe('a ballot lost with its process', () => {
  it('is queued again when the respondent writes soon after, and recorded once', async () => {
    t = await startTestService({ name: 'lost_ballot', listen: false });
    const { queues, runner, invitations } = t.service;
    const { view } = await invitations.create({ caseCode: 'LOST-1', unit: 'PC07', field: 'pccc', respondentType: 'citizen' }, { keyId: 't', role: 'admin' });
    const ev = (rest: Record<string, unknown>) => ({ channel: 'telegram', userKey: 'lost-ballot-user', ...rest }) as InboundEvent;
    await runner.handle(ev({ kind: 'start', token: view.token }));
    for (const text of ['1', ...Array(14).fill('4'), '2', '2', '4']) await runner.handle(ev({ kind: 'text', text }));

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
