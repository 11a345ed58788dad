// The runner end to end with no channel: session in Redis, response in MongoDB.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConversationRunner, type Effects, type InboundEvent } from '../../src/conversations/runner.js';
import { ConversationStore, conversationKey, UnreadableConversationError } from '../../src/conversations/store.js';
import { loadFlows } from '../../src/engine/load.js';
import { allChatTags, chatTag } from '../../src/slots.js';
import { deleteKeys, eventually, isolation, startTestService, type TestService } from '../helpers/context.js';

let t: TestService;
beforeAll(async () => {
  t = await startTestService({ name: 'runner', listen: false });
});
afterAll(() => t.close());

const web = (userKey: string, rest: Record<string, unknown>) => ({ channel: 'telegram', userKey, ...rest }) as InboundEvent;

async function invitation(caseCode: string, respondentType?: 'citizen' | 'organization') {
  const { view } = await t.service.invitations.create(
    { caseCode, unit: 'PC06', field: 'can-cuoc', ...(respondentType ? { respondentType } : {}) },
    { keyId: 'test', role: 'admin' },
  );
  return view;
}

describe('conversation runner', () => {
  it('drives a whole citizen survey to exactly one response with counters', async () => {
    const inv = await invitation('RUN-1', 'citizen');
    const user = 'u-full';
    const r0 = await t.service.runner.handle(web(user, { kind: 'start', token: inv.token }));
    expect(r0.outputs[0]).toMatchObject({ type: 'question', questionId: 'consent' });
    for (const text of ['1', ...Array(14).fill('5'), 'không', 'không', '5', '/skip']) {
      await t.service.runner.handle(web(user, { kind: 'text', text }));
    }
    const conv = await t.service.runner.handle(web(user, { kind: 'text', text: 'hello' }));
    expect(conv.outputs).toEqual([{ type: 'text', text: expect.stringContaining('đã hoàn thành') }]);

    const { Response, Counter, Invitation } = t.service.db.models;
    const resp = await eventually(() => Response.findOne({ invitationId: inv.id }).lean(), 'the response');
    expect(resp).toMatchObject({
      unit: 'PC06',
      field: 'can-cuoc',
      caseCode: 'RUN-1',
      channel: 'telegram',
      flow: 'citizen-satisfaction',
      flowVersion: 1,
      status: 'valid',
    });
    expect(resp.respondent).not.toContain(user);
    expect(resp.answers.find((a) => a.q === 'overall')).toEqual({ q: 'overall', value: 5, label: 'Rất hài lòng' });
    expect(resp.answers).toHaveLength(20);
    await eventually(async () => (await Invitation.findById(inv.id).lean())?.status === 'completed', 'invitation completed');
    const overallFive = () => Counter.findOne({ campaign: 'soc-trang-2024', unit: 'PC06', field: 'can-cuoc', q: 'overall', value: '5' }).lean();
    const overall = await eventually(overallFive, 'counter');
    expect(overall.n).toBe(1);
    // Redelivering the completion (a crash after the write, a retried job) changes nothing.
    await t.service.queues.completion.add('complete', (await t.service.queues.completion.getJob(`complete-${inv.id}`))!.data, { jobId: 'again' });
    await new Promise((r) => setTimeout(r, 500));
    expect(await Response.countDocuments({ invitationId: inv.id })).toBe(1);
    expect((await overallFive())!.n).toBe(1);
  });

  it('a double tap on the last question creates one response', async () => {
    const inv = await invitation('RUN-2', 'organization');
    const user = 'u-double';
    await t.service.runner.handle(web(user, { kind: 'start', token: inv.token }));
    for (const text of ['1', ...Array(14).fill('4'), '2', '2', '4']) await t.service.runner.handle(web(user, { kind: 'text', text }));
    const seq = (await t.service.runner.handle(web(user, { kind: 'text', text: '/help' }))).outputs.find((o) => o.type === 'question')!;
    expect(seq).toMatchObject({ questionId: 'suggestion' });
    const tap = web(user, { kind: 'choice', seq: (seq as { seq: number }).seq, key: 'skip' });
    const [a, b] = await Promise.all([t.service.runner.handle(tap), t.service.runner.handle(tap)]);
    expect([a, b].filter((r) => r.events.some((e) => e.type === 'completed'))).toHaveLength(1);
    const { Response } = t.service.db.models;
    await eventually(() => Response.findOne({ invitationId: inv.id }).lean(), 'the response');
    await new Promise((r) => setTimeout(r, 300));
    expect(await Response.countDocuments({ invitationId: inv.id })).toBe(1);
  });

  it('refuses unknown, used and cancelled codes with clear messages, and locks out a guesser', async () => {
    const user = 'u-codes';
    const say = async (text: string) => (await t.service.runner.handle(web(user, { kind: 'text', text }))).outputs.map((o) => ('text' in o ? o.text : ''));
    expect((await say('xin chào'))[0]).toContain('gõ mã khảo sát');
    const inv = await invitation('RUN-3');
    await t.service.invitations.cancel(inv.id, { keyId: 'test', role: 'admin' });
    expect((await say(inv.code.toLowerCase()))[0]).toContain('đã bị hủy');
    for (let i = 0; i < 4; i++) expect((await say('BBBB-2222'))[0]).toContain('Mã khảo sát không đúng');
    expect((await say('BBBB 2223'))[0]).toContain('nhập sai mã nhiều lần');
    // Even a right code is refused while locked out.
    const ok = await invitation('RUN-4');
    expect((await say(ok.code))[0]).toContain('nhập sai mã nhiều lần');
  });

  it('a redelivered wrong code is not counted twice', async () => {
    const user = 'u-redelivered';
    for (let i = 0; i < 6; i++) {
      const r = await t.service.runner.handle(web(user, { kind: 'text', text: 'CCCC-3333', eventId: 'same-update' }));
      expect(r.duplicate).toBe(i > 0);
    }
    const next = await t.service.runner.handle(web(user, { kind: 'text', text: 'CCCC-3334', eventId: 'other-update' }));
    expect(next.outputs[0]).toMatchObject({ text: expect.stringContaining('Mã khảo sát không đúng') });
  });

  it('asks which survey to continue when a second invitation is opened mid-survey', async () => {
    const first = await invitation('RUN-5');
    const second = await invitation('RUN-6');
    const user = 'u-switch';
    await t.service.runner.handle(web(user, { kind: 'start', token: first.token }));
    await t.service.runner.handle(web(user, { kind: 'text', text: '1' }));
    const ask = await t.service.runner.handle(web(user, { kind: 'start', token: second.token }));
    expect(ask.outputs[0]).toMatchObject({ type: 'question', questionId: 'switch', seq: 0 });
    const keep = await t.service.runner.handle(web(user, { kind: 'choice', seq: 0, key: 'keep' }));
    expect(keep.outputs.at(-1)).toMatchObject({ type: 'question', questionId: 'respondent_type' });
    await t.service.runner.handle(web(user, { kind: 'start', token: second.token }));
    const fresh = await t.service.runner.handle(web(user, { kind: 'text', text: '2' }));
    expect(fresh.events).toEqual([{ type: 'abandoned', reason: 'expired' }, { type: 'started' }]);
    expect(fresh.outputs[0]).toMatchObject({ type: 'question', questionId: 'consent', text: expect.stringContaining('RUN-6') });
  });
});

describe('two runners on one conversation', () => {
  it("keeps every answer exactly once and in each writer's order", async () => {
    const flows = loadFlows(join(import.meta.dirname, '../fixtures/flows'));
    const redisUrl = inject('redisUrl');
    const { prefix } = isolation('cas');
    const clients = [new Redis(redisUrl), new Redis(redisUrl)];
    const effects: Effects = { deliver: async () => {}, completed: async () => {}, opened: async () => {}, delivers: () => false };
    const opener = { codeIn: () => undefined, open: async () => ({ ok: true as const, start: { ref: 'r1', flow: 'stress-text@1', ctx: {} } }) };
    const runners = clients.map(
      (redis) => new ConversationRunner({ store: new ConversationStore(redis, { prefix, sessionTtlMs: 60_000 }), flows, opener, effects }),
    );
    await runners[0]!.handle(web('same', { kind: 'start', token: 'x'.repeat(22) }));

    const inputs = (name: string) => Array.from({ length: 20 }, (_, i) => `${name}${i}`);
    let conflicts = 0;
    const hammer = async (runner: ConversationRunner, texts: string[]) => {
      for (const text of texts) {
        const r = await runner.handle(web('same', { kind: 'text', text, eventId: `${text}` }));
        if (r.events.length !== 1) conflicts++;
      }
    };
    await Promise.all([hammer(runners[0]!, inputs('a')), hammer(runners[1]!, inputs('b'))]);

    const loaded = await new ConversationStore(clients[0]!, { prefix, sessionTtlMs: 60_000, cacheSize: 0 }).read('telegram:same');
    const answers = Object.values(loaded.conversation.s!.ans) as string[];
    expect(answers).toHaveLength(40);
    expect(new Set(answers)).toEqual(new Set([...inputs('a'), ...inputs('b')]));
    expect(answers.filter((a) => a.startsWith('a'))).toEqual(inputs('a'));
    expect(answers.filter((a) => a.startsWith('b'))).toEqual(inputs('b'));
    expect(conflicts).toBe(0);
    // The two writers really raced: some saves were refused and recomputed.
    expect(runners[0]!.casRetries + runners[1]!.casRetries).toBeGreaterThan(0);
    expect(loaded.version).toBe(41);
    await deleteKeys(redisUrl, prefix);
    for (const c of clients) c.disconnect();
  });
});

describe('a reply lost with its process', () => {
  const setup = (
    prefix: string,
    redis: Redis,
    deliver: Effects['deliver'],
    completed: Effects['completed'] = async () => {},
    opened: Effects['opened'] = async () => {},
  ) =>
    new ConversationRunner({
      store: new ConversationStore(redis, { prefix, sessionTtlMs: 60_000 }),
      flows: loadFlows(join(import.meta.dirname, '../fixtures/flows')),
      opener: { codeIn: () => undefined, open: async () => ({ ok: true as const, start: { ref: 'r-lost', flow: 'stress-text@1', ctx: {} } }) },
      effects: { deliver, completed, opened, delivers: () => true },
    });

  it.each([
    ['a question', 3, 'q04'],
    ['the thanks that ended the survey', Number.POSITIVE_INFINITY, 'Xong.'],
  ])('%s is sent again by the process that recovers it', async (_name, answers, expected) => {
    const { prefix } = isolation('lost-reply');
    const redis = new Redis(inject('redisUrl'));
    // The first process never sends its replies (killed in the middle of each send): none is settled.
    const dying = setup(prefix, redis, async () => {});
    await dying.handle(web('lost', { kind: 'start', token: 'x'.repeat(22) }));
    for (let i = 0; i < answers; i++) {
      const r = await dying.handle(web('lost', { kind: 'text', text: `a${i}` }));
      if (r.events.some((e) => e.type === 'completed')) break;
    }
    const sent: string[] = [];
    const recovering = setup(prefix, redis, async (_to, outputs) => void sent.push(...outputs.map((o) => ('questionId' in o ? o.questionId : o.text))));
    expect(await recovering.recoverUnsent(Date.now() + 1)).toBe(1);
    expect(sent).toEqual([expected]);
    // Said once: the mark is gone.
    await eventually(async () => (await recovering.recoverUnsent(Date.now() + 1)) === 0, 'the mark cleared');
    await deleteKeys(inject('redisUrl'), prefix);
    redis.disconnect();
  });

  it('an opening not yet queued when its process died is queued by the process that recovers it', async () => {
    const { prefix } = isolation('lost-opening');
    const redis = new Redis(inject('redisUrl'));
    const sent: string[] = [];
    const deliver: Effects['deliver'] = async (_to, outputs, how) => {
      sent.push(...outputs.map((o) => ('questionId' in o ? o.questionId : o.text)));
      how.settled?.();
    };
    // The first question went out; the opening waited for its batch, and the process was killed meanwhile.
    const dying = setup(prefix, redis, deliver, undefined, () => new Promise(() => {}));
    const before = Date.now();
    await dying.handle(web('lost-opening', { kind: 'start', token: 'x'.repeat(22) }));
    expect(sent).toEqual(['q01']);
    const opened: Array<[string, string, number]> = [];
    const recovering = setup(prefix, redis, deliver, undefined, async (ref, who, at) => void opened.push([ref, who.userKey, at]));
    expect(await recovering.recoverUnsent(Date.now() + 1)).toBe(1);
    // Opened at the survey's start, by that chat; the question is asked again (the recovery cannot tell it went).
    expect(opened).toEqual([['r-lost', 'lost-opening', expect.any(Number)]]);
    expect(opened[0]![2]).toBeGreaterThanOrEqual(before);
    expect(sent).toEqual(['q01', 'q01']);
    await eventually(async () => (await recovering.recoverUnsent(Date.now() + 1)) === 0, 'the mark cleared');
    // An opening that was queued leaves no mark behind.
    await recovering.handle(web('queued-opening', { kind: 'start', token: 'x'.repeat(22) }));
    await new Promise((r) => setTimeout(r, 300)); // the marks are cleared in batches, every 50 ms
    expect(await recovering.recoverUnsent(Date.now() + 1)).toBe(0);
    expect(opened).toHaveLength(2);
    await deleteKeys(inject('redisUrl'), prefix);
    redis.disconnect();
  });

  it('a ballot that could not be queued (its Redis node lost) is queued by the process that recovers it', async () => {
    const { prefix } = isolation('lost-ballot');
    const redis = new Redis(inject('redisUrl'));
    const queued: string[] = [];
    let queueDown = true;
    const sent: string[] = [];
    const deliver: Effects['deliver'] = async (_to, outputs, how) => {
      sent.push(...outputs.map((o) => ('questionId' in o ? o.questionId : o.text)));
      how.settled?.();
    };
    const runner = setup(prefix, redis, deliver, async (c) => {
      if (queueDown) throw new Error('Connection is closed.');
      queued.push(c.ref);
    });
    await runner.handle(web('lost-ballot', { kind: 'start', token: 'x'.repeat(22) }));
    let failed: unknown;
    for (let i = 0; i < 50 && !failed; i++)
      failed = await runner.handle(web('lost-ballot', { kind: 'text', text: `a${i}` })).then(
        () => undefined,
        (err) => err,
      );
    // The thanks went out; the ballot did not reach its queue (the webhook is refused, and its redelivery is a duplicate).
    expect((failed as Error).message).toBe('Connection is closed.');
    expect(sent.at(-1)).toBe('Xong.');
    queueDown = false;
    expect(await runner.recoverUnsent(Date.now() + 1)).toBe(1);
    expect(queued).toEqual(['r-lost']);
    await eventually(async () => (await runner.recoverUnsent(Date.now() + 1)) === 0, 'the mark cleared');
    expect(queued).toEqual(['r-lost']);
    // The recovery cannot tell that the thanks was sent: it is said again (the price of not losing the ballot).
    expect(sent.filter((x) => x === 'Xong.')).toHaveLength(2);
    await deleteKeys(inject('redisUrl'), prefix);
    redis.disconnect();
  });
});

describe('a conversation damaged in Redis', () => {
  const tokenOpener = { codeIn: () => undefined, open: async () => ({ ok: true as const, start: { ref: 'r-owed', flow: 'stress-text@1', ctx: {} } }) };
  const runnerWith = (redis: Redis, prefix: string, deliver: Effects['deliver'], onDamaged?: (err: Error, keptAs: string) => void) =>
    new ConversationRunner({
      store: new ConversationStore(redis, { prefix, sessionTtlMs: 60_000, ...(onDamaged ? { onDamaged } : {}) }),
      flows: loadFlows(join(import.meta.dirname, '../fixtures/flows')),
      opener: tokenOpener,
      effects: { deliver, completed: async () => {}, opened: async () => {}, delivers: () => true },
    });

  it('is set aside and the chat starts afresh: the respondent is told how to start, where each update failed before', async () => {
    const { prefix } = isolation('damaged');
    const redis = new Redis(inject('redisUrl'));
    await runnerWith(redis, prefix, async () => {}).handle(web('damaged', { kind: 'start', token: 'x'.repeat(22) }));
    const stored = '{"s":{"ref":"r-owed","ans":{"q1":"Chờ lâu"';
    await redis.hset(conversationKey(prefix, 'telegram:damaged'), 'd', stored);
    const reports: Array<[Error, string]> = [];
    // Another process (its cache empty) gets the respondent's next answer.
    const other = runnerWith(
      redis,
      prefix,
      async () => {},
      (err, keptAs) => reports.push([err, keptAs]),
    );
    const r = await other.handle(web('damaged', { kind: 'text', text: 'Nhanh', eventId: 'u-1' }));
    expect(r.outputs).toEqual([{ type: 'text', text: expect.stringContaining('quét mã QR') }]);
    expect(reports).toHaveLength(1);
    const [err, keptAs] = reports[0]!;
    expect(err).toBeInstanceOf(UnreadableConversationError);
    expect(err.message).not.toContain('Chờ lâu');
    expect(keptAs).not.toContain('damaged:telegram');
    // The damaged data is kept, for as long as a conversation is, under the name the log gives.
    expect(JSON.parse((await redis.get(keptAs))!)).toEqual({ conv: 'telegram:damaged', data: stored });
    expect(await redis.pttl(keptAs)).toBeGreaterThan(50_000);
    // The chat works again: the invitation starts the survey.
    const again = await other.handle(web('damaged', { kind: 'start', token: 'x'.repeat(22), eventId: 'u-2' }));
    expect(again.outputs[0]).toMatchObject({ type: 'question' });
    expect(reports).toHaveLength(1);
    // Valid JSON that is not a conversation is damaged too.
    await redis.hset(conversationKey(prefix, 'telegram:damaged'), 'd', '[1]');
    const fresh = runnerWith(
      redis,
      prefix,
      async () => {},
      (e, k) => reports.push([e, k]),
    );
    expect((await fresh.handle(web('damaged', { kind: 'text', text: 'Nhanh', eventId: 'u-3' }))).outputs).toHaveLength(1);
    expect(reports).toHaveLength(2);
    await deleteKeys(inject('redisUrl'), prefix);
    redis.disconnect();
  });

  it('the recovery settles a damaged conversation without a send, and recovers the others when one cannot be sent or a bucket cannot be read', async () => {
    const { prefix } = isolation('unreadable');
    const redis = new Redis(inject('redisUrl'));
    // Three replies owed (their process died before sending them); one conversation is then damaged.
    const dying = runnerWith(redis, prefix, async () => {});
    for (const chat of ['owed-damaged', 'owed-refused', 'owed-fine']) await dying.handle(web(chat, { kind: 'start', token: 'x'.repeat(22) }));
    await redis.hset(conversationKey(prefix, 'telegram:owed-damaged'), 'd', '{"s":{');
    // And a bucket of marks that cannot be read (as one whose cluster node is down): a value of the wrong type.
    const chatTags = new Set(['owed-damaged', 'owed-refused', 'owed-fine'].map((c) => chatTag(`telegram:${c}`)));
    const unreadable = allChatTags().find((tag) => !chatTags.has(tag))!;
    await redis.set(`${prefix}unsent:${unreadable}`, 'not a set');
    const sent: string[] = [];
    const damaged: string[] = [];
    const recovering = runnerWith(
      redis,
      prefix,
      async (to) => {
        if (to.userKey === 'owed-refused') throw new Error('the outbound queue is out of reach');
        sent.push(to.userKey);
      },
      (_err, keptAs) => damaged.push(keptAs),
    );
    const errors: Error[] = [];
    expect(await recovering.recoverUnsent(Date.now() + 1, (err) => errors.push(err))).toBe(2);
    expect(sent).toEqual(['owed-fine']);
    expect(damaged).toHaveLength(1);
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('WRONGTYPE'), 'the outbound queue is out of reach']);
    // Without a handler the error is thrown, once the others are done; the one not sent keeps its mark, the others do not.
    await redis.del(`${prefix}unsent:${unreadable}`);
    await expect(recovering.recoverUnsent(Date.now() + 1)).rejects.toThrow('out of reach');
    expect(sent).toEqual(['owed-fine']);
    await deleteKeys(inject('redisUrl'), prefix);
    redis.disconnect();
  });
});

describe('session size', () => {
  it('a completed citizen survey session stays under 2 KB', async () => {
    const inv = await invitation('RUN-SIZE');
    const user = 'u-size';
    await t.service.runner.handle(web(user, { kind: 'start', token: inv.token }));
    for (const text of ['1', '2', ...Array(14).fill('2'), '1', '1', '2', 'Chờ lâu, phải đi lại nhiều lần vì thiếu giấy tờ', 'Nên hướng dẫn rõ hơn']) {
      await t.service.runner.handle(web(user, { kind: 'text', text }));
    }
    const store = new ConversationStore(t.service.redis, { prefix: t.prefix, sessionTtlMs: 1 });
    const bytes = await store.sizeOf(`telegram:${user}`);
    console.log(`full citizen survey session: ${bytes} bytes`);
    expect(bytes).toBeGreaterThan(300);
    expect(bytes).toBeLessThan(2048);
  });
});
