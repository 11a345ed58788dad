// The engine's concurrency across processes: npm start's process as two
// ROLE=web processes and one ROLE=worker on the same Redis and database. Each
// answer of a survey reaches both web processes at once with the same update
// id (Telegram redelivering to a load balancer while the first delivery is
// still in flight): one of them applies it, the other sees a duplicate or a
// newer conversation, and the respondent gets each next question once.
import { describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../../src/db.js';
import { createApiKey } from '../../src/http/auth.js';
import { childEnv, startService } from '../helpers/child-service.js';
import { api, eventually, isolation, TEST_SECRET } from '../helpers/context.js';
import { freePort } from '../helpers/ports.js';
import { TelegramEmulator, TelegramUser } from '../helpers/telegram-emulator.js';

describe('two web processes and a worker', () => {
  it('apply each answer delivered to both at once exactly once, and the worker records the survey', async () => {
    const emu = await new TelegramEmulator().start();
    // The default prefix outlives this run: update ids it has seen before would be taken as redeliveries.
    emu.nextUpdateId = Date.now();
    const { dbName } = isolation('cross_process');
    const env = {
      ...childEnv(dbName, emu.apiRoot),
    };
    // The worker first: it creates the indexes and seeds the campaigns.
    const workerPort = await freePort();
    const worker = await startService(workerPort, { ...env, ROLE: 'worker', LOG_LEVEL: 'info' });
    // A worker serves its health checks and metrics, and nothing of the web's.
    expect((await fetch(`http://127.0.0.1:${workerPort}/metrics`)).status).toBe(200);
    const page = await fetch(`http://127.0.0.1:${workerPort}/officer`);
    expect(page.status).toBe(404);
    expect(await page.json()).toMatchObject({ error: { code: 'not_found' } });
    const ports = [await freePort(), await freePort()];
    await Promise.all(ports.map((port) => startService(port, { ...env, ROLE: 'web' })));
    const db = await openDatabase(`${inject('mongoUrl')}/${dbName}`);
    try {
      const { key } = await createApiKey(db.models, 'officer', 'PC08');
      const invite = async (caseCode: string) => {
        const created = await api(`http://127.0.0.1:${ports[0]}`, key, 'POST', '/api/invitations', {
          caseCode,
          unit: 'PC08',
          field: 'dang-ky-xe',
          respondentType: 'citizen',
        });
        expect(created.status).toBe(201);
        return created.body as { id: string; token: string };
      };

      /**
       * Takes a whole survey, each update delivered to the first process only, or to both at the same moment.
       * Returns how many messages the respondent was sent or shown after each step.
       */
      const takeSurvey = async (to: 'one' | 'both', token: string) => {
        // A chat id of its own: the default prefix is shared with other runs of npm start's process.
        const chat = 770_000_000 + Math.floor(Math.random() * 1_000_000);
        const [a, b] = ports.map((port) => new TelegramUser(emu, { url: `http://127.0.0.1:${port}/webhooks/telegram`, secret: TEST_SECRET }, chat)) as [
          TelegramUser,
          TelegramUser,
        ];
        const shown = () =>
          emu.calls.filter((c) => (c.method === 'sendMessage' || c.method === 'editMessageText') && String(c.payload.chat_id) === String(chat)).length;
        const perStep: number[] = [];
        const step = async (deliver: (u: TelegramUser, updateId: number) => Promise<{ status: number }>) => {
          const before = shown();
          const mark = a.mark();
          const updateId = emu.newUpdateId();
          const statuses = await Promise.all((to === 'both' ? [a, b] : [a]).map(async (u) => (await deliver(u, updateId)).status));
          expect(statuses.every((st) => st === 200)).toBe(true);
          await a.waitFor(() => a.since(mark).length > 0, 'the next message');
          // Anything a second processing would send comes within this.
          await new Promise((r) => setTimeout(r, 200));
          perStep.push(shown() - before);
        };
        await step((u, id) => u.send(`/start ${token}`, id));
        // Then whatever the questionnaire asks: the first button of the question, or a typed answer where there is none.
        const current = () => a.messages().reduce((x, y) => (y.rev > x.rev ? y : x));
        while (!current().text.includes('Xin chân thành cảm ơn')) {
          expect(perStep.length).toBeLessThan(40);
          const question = current();
          await step((u, id) => (question.buttons.length ? u.tap(1, question, id) : u.send('Cán bộ làm việc nhanh', id)));
        }
        return perStep;
      };

      const once = await invite('XPROC-ONCE');
      const twice = await invite('XPROC-TWICE');
      const expected = await takeSurvey('one', once.token);
      expect(expected.length).toBeGreaterThan(15);
      // Delivered twice at once, the respondent sees exactly what one delivery shows, step by step.
      expect(await takeSurvey('both', twice.token)).toEqual(expected);

      // The worker process wrote one response per survey, with the same answers, each once.
      const responses = await eventually(
        async () => {
          const found = await db.models.Response.find({ invitationId: { $in: [once.id, twice.id] } }).lean();
          return found.length === 2 && found;
        },
        'both responses',
        30_000,
      );
      const answersOf = (id: string) => responses.find((r) => r.invitationId === id)!.answers.map((x) => [x.q, x.value]);
      expect(answersOf(twice.id)).toEqual(answersOf(once.id));
      expect(new Set(answersOf(twice.id).map(([q]) => q)).size).toBe(answersOf(twice.id).length);
      expect(worker.output()).not.toMatch(/"level":[56]0/);
    } finally {
      await db.conn.dropDatabase().catch(() => {});
      await db.close();
      await emu.stop();
    }
  }, 120_000);
});
