// Load, kill, restart: the service as `npm start` runs it (local Redis and
// FerretDB on PostgreSQL), under the closed-loop load of the webhook
// benchmark, is killed with SIGKILL halfway through and started again, five
// times in a row. Each start must come up ready (/readyz 200) within the bound,
// every survey started must be able to finish after the restart, and every
// finished survey's ballot must reach MongoDB. Respondents tap through the
// running campaign's questionnaire (never back or stop) and see a tap's next
// question arrive as an edit of the tapped message, as on Telegram.
//
//   npm run bench:stress    (env: STRESS_USERS=300 STRESS_CYCLES=5 STRESS_LOG=<file for the service's log>)
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { openDatabase } from '../src/db.js';
import { VI_MESSAGES } from '../src/engine/messages.js';
import { createApiKey } from '../src/http/auth.js';
import { projectRoot } from '../src/local/paths.js';
import { ensureLocalServices, localMongoUri } from '../src/local/servers.js';
import { SERVICE_NODE_FLAGS } from '../src/node-flags.js';
import { Queues } from '../src/queues/queues.js';
import { SERVICE_KEY_PREFIX } from '../src/redis.js';
import { TelegramEmulator, TelegramUser } from '../test/helpers/telegram-emulator.js';
import { machine, recorder, saveResults } from './results.js';

const USERS = Number(process.env.STRESS_USERS ?? 300);
const CYCLES = Number(process.env.STRESS_CYCLES ?? 5);
const READY_BOUND_MS = 90_000;
const SECRET = 'stress-secret';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const agent = new Agent({ keepAlive: true, maxSockets: 40 });
let inFlight = 0;
const post = (url: string, headers: Record<string, string>, body: string) =>
  new Promise<{ status: number; text: string }>((resolve) => {
    inFlight++;
    let settled = false;
    const done = (r: { status: number; text: string }) => {
      if (settled) return;
      settled = true;
      inFlight--;
      resolve(r);
    };
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', () => done({ status: 0, text: '' }));
      res.on('close', () => done({ status: 0, text: '' }));
    });
    req.on('error', () => done({ status: 0, text: '' }));
    req.on('close', () => setTimeout(() => done({ status: 0, text: '' }), 50));
    // Telegram gives up on an answer after about a minute and redelivers; a shorter wait keeps the run short.
    req.setTimeout(15_000, () => req.destroy());
    req.end(body);
  });

/** What a respondent taps: the fourth answer on a scale ("Hài lòng"), else the first; never back or stop. */
function answerOn(labels: string[]): string {
  const answers = labels.filter((l) => l !== VI_MESSAGES.backLabel && l !== VI_MESSAGES.stopLabel);
  return answers[answers.length >= 4 ? 3 : 0]!;
}

async function ready(base: string, child: ChildProcess): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < READY_BOUND_MS) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode} before it was ready`);
    const ok = await fetch(`${base}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ready within ${READY_BOUND_MS / 1000} s: the start hung`);
}

async function main() {
  const local = await ensureLocalServices({ redis: true, mongo: true });
  const db = await openDatabase(localMongoUri(local.mongo!));
  const { key } = await createApiKey(db.models, 'admin', undefined, 'stress');
  const emu = await new TelegramEmulator().start();
  emu.latencyMs = 20;
  emu.setMaxListeners(0);
  emu.nextUpdateId = Date.now() * 100; // update ids are unique per bot, across runs on the same Redis
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    TELEGRAM_BOT_TOKEN: '42:STRESS',
    TELEGRAM_WEBHOOK_SECRET: SECRET,
    TELEGRAM_API_ROOT: emu.apiRoot,
    TELEGRAM_SEND_RATE: '100000',
  };
  // STRESS_LOG=<file>: the service's log (every start appended), to see what happened to a survey that did not finish.
  const log = process.env.STRESS_LOG ? openSync(process.env.STRESS_LOG, 'a') : 'ignore';
  const start = () => spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(projectRoot, 'dist/src/main.js')], { env, stdio: ['ignore', log, 'inherit'] });

  const { lines, say } = recorder();
  say(machine());
  let child = start();
  say(`first start: ready in ${await ready(base, child)} ms (${local.mongo!.kind}); ${USERS} respondents, ${CYCLES} kills`);
  const stamp = Date.now();
  const users: Array<{ u: TelegramUser; token: string }> = [];
  for (let i = 0; i < USERS; i++) {
    const r = await fetch(`${base}/api/invitations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ caseCode: `STRESS-${stamp}-${i}`, unit: 'PC06', field: 'can-cuoc', respondentType: 'citizen' }),
    });
    const inv = (await r.json()) as { token: string };
    users.push({
      u: new TelegramUser(emu, { url: `${base}/webhooks/telegram`, secret: SECRET, post }, 9_000_000 + (stamp % 100_000) * 1000 + i),
      token: inv.token,
    });
  }

  let answered = 0;
  let waiting = 0;
  let refused = 0;
  /** Every respondent answers until the thanks; an update refused (the service is down) is redelivered after 1 s. */
  const respondent = async ({ u, token }: { u: TelegramUser; token: string }) => {
    const deliver = async (act: (id: number) => Promise<{ status: number }>) => {
      const id = emu.newUpdateId();
      for (;;) {
        const { status } = await act(id).catch(() => ({ status: 0 }));
        if (status === 200) return;
        refused++;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    };
    const thanked = () => u.messages().some((m) => m.text.includes('Xin chân thành cảm ơn'));
    // The thanks lost in a kill, and the respondent asked again before the recovery resent it (about 20 s): told so.
    const toldCompleted = () => u.messages().some((m) => m.text.includes(VI_MESSAGES.alreadyCompleted));
    // The next question: sent, or (after a tap, usually) edited into the tapped message. A change is a send or an
    // edit (`rev` rises); a tapped answer shown without buttons is not yet the question.
    const nextQuestion = (mark: number) => u.since(mark).findLast((m) => m.buttons.length > 0);
    let before = u.mark();
    let unanswered = 0;
    await deliver((id) => u.send(`/start ${token}`, id));
    for (let k = 0; k < 40; k++) {
      waiting++;
      await u.waitFor(() => thanked() || toldCompleted() || nextQuestion(before) !== undefined, 'the next question', 20_000).catch(() => {});
      waiting--;
      if (thanked()) return 'thanked';
      if (toldCompleted()) return 'told completed';
      const shown = nextQuestion(before);
      // As it was shown: the stored message changes with later edits.
      const q = shown && { ...shown, buttons: [...shown.buttons] };
      before = u.mark();
      // Nothing arrived (a reply lost in the kill): ask again, as a respondent would; after three times, give up.
      if (!q && ++unanswered === 3) return undefined;
      if (q) unanswered = 0;
      if (!q) await deliver((id) => u.send('/help', id));
      else await deliver((id) => u.tap(answerOn(q.buttons.map((b) => b.text)), q, id));
      answered++;
    }
    return undefined;
  };
  const load = Promise.all(users.map(respondent));
  const progress = setInterval(
    () => console.log(`  ... ${answered} answers, ${refused} refused, ${inFlight} requests in flight, ${waiting} waiting for a reply`),
    5_000,
  );
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const target = answered + (USERS * 19) / (CYCLES + 1);
    while (answered < target) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const t0 = Date.now();
    child = start();
    const ms = await ready(base, child);
    say(`cycle ${cycle}: SIGKILL after ${answered} answers; ready again in ${ms} ms (process start included; ${Date.now() - t0} ms)`);
  }
  const outcomes = await load;
  const finished = outcomes.filter(Boolean).length;
  const told = outcomes.filter((o) => o === 'told completed').length;
  clearInterval(progress);
  // Nothing lost: every finished survey's ballot reaches MongoDB. Its job may still be waiting out the burst: wait for
  // the completion queue to drain (Redis), then count once (an $in FerretDB does not hand to PostgreSQL reads every
  // ballot, which polled would load the database being timed).
  const queues = new Queues(local.redis!.url, SERVICE_KEY_PREFIX, () => {});
  const loadEnd = Date.now();
  const deadline = loadEnd + 120_000;
  const queued = async () => Object.values(await queues.completion.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).reduce((a, b) => a + b, 0);
  while ((await queued()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  const drainedS = (Date.now() - loadEnd) / 1000;
  await queues.close();
  const caseCodes = users.map((_, i) => `STRESS-${stamp}-${i}`);
  const stored = await db.models.Response.countDocuments({ caseCode: { $in: caseCodes } });
  await db.close();
  // A survey that did not finish: its chat as the respondent sees it (STRESS_DEBUG: the first respondent's too).
  const unfinished = users.filter((_, i) => !outcomes[i] || (process.env.STRESS_DEBUG && i === 0));
  for (const { u } of unfinished.slice(0, 3)) {
    console.log(`chat ${u.chatId}:`);
    for (const m of u.messages()) console.log('  |', m.text.slice(0, 70).replace(/\n/g, ' '), m.buttons.map((b) => b.text).join('/'));
  }
  say(`${finished} of ${USERS} surveys finished across ${CYCLES} kills; ${refused} updates refused while the service was down and redelivered`);
  say(
    `${finished - told} thanked; ${told} told the survey was already completed (the thanks lost in a kill, the respondent writing again before it was resent)`,
  );
  say(`${stored} ballots stored in MongoDB for ${finished} finished surveys, recorded ${drainedS.toFixed(1)} s after the last answer`);
  console.log(`\nwritten to ${saveResults('stress', lines)}`);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await emu.stop();
  process.exit(finished === USERS && stored === USERS ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
