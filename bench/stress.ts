// Load, kill, restart: the service as `npm start` runs it (local Redis and
// FerretDB on PostgreSQL), under the closed-loop load of the webhook
// benchmark, is killed with SIGKILL halfway through and started again, five
// times in a row. Each start must come up ready (/readyz 200) within the bound,
// and every survey started must be able to finish after the restart.
//
//   npm run bench:stress    (env: STRESS_USERS=300 STRESS_CYCLES=5)
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { openDatabase } from '../src/db.js';
import { createApiKey } from '../src/http/auth.js';
import { projectRoot } from '../src/local/paths.js';
import { ensureLocalServices, localMongoUri } from '../src/local/servers.js';
import { SERVICE_NODE_FLAGS } from '../src/node-flags.js';
import { TelegramEmulator, TelegramUser } from '../test/helpers/telegram-emulator.js';

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
  await db.close();
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
    LOG_LEVEL: 'warn',
    TELEGRAM_BOT_TOKEN: '42:STRESS',
    TELEGRAM_WEBHOOK_SECRET: SECRET,
    TELEGRAM_API_ROOT: emu.apiRoot,
    TELEGRAM_SEND_RATE: '100000',
  };
  const start = () => spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(projectRoot, 'dist/src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });

  let child = start();
  console.log(`first start: ready in ${await ready(base, child)} ms (${local.mongo!.kind})`);
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

  const results: string[] = [];
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
    let before = u.messages().length;
    await deliver((id) => u.send(`/start ${token}`, id));
    for (let k = 0; k < 40; k++) {
      waiting++;
      await u.waitFor((m) => m.length > before, 'a reply', 20_000).catch(() => {});
      waiting--;
      if (u.messages().some((m) => m.text.includes('Xin chân thành cảm ơn'))) return true;
      const q = u.lastWithButtons();
      const nothing = u.messages().length === before;
      before = u.messages().length;
      // Nothing arrived (a reply lost in the kill): ask again, as a respondent would.
      if (!q || nothing) await deliver((id) => u.send('/help', id));
      else await deliver((id) => u.tap(q.buttons.length >= 4 ? 4 : 1, q, id));
      answered++;
    }
    return false;
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
    results.push(`cycle ${cycle}: SIGKILL after ${answered} answers; ready again in ${ms} ms (process start included; ${Date.now() - t0} ms)`);
    console.log(results.at(-1));
  }
  const finished = (await load).filter(Boolean).length;
  clearInterval(progress);
  if (process.env.STRESS_DEBUG)
    for (const m of users[0]!.u.messages()) console.log('  |', m.text.slice(0, 70).replace(/\n/g, ' '), m.buttons.map((b) => b.text).join('/'));
  console.log(`\n${finished} of ${USERS} surveys finished across ${CYCLES} kills; ${refused} updates refused while the service was down and redelivered`);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await emu.stop();
  process.exit(finished === USERS ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
