// The production image, as far as it can be checked without a Docker engine:
// the Dockerfile's stages run here (test/helpers/dockerfile.ts), then the image's
// command starts as its non-root user in a folder that user cannot write, with
// only the image's environment and what compose gives it, on the image's
// Node.js major.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { openDatabase } from '../src/db.js';
import { projectRoot } from '../src/local/paths.js';
import { untilReady, watched } from './helpers/child-service.js';
import { api, eventually, isolation, TEST_SECRET, TEST_TOKEN } from './helpers/context.js';
import { buildStages, type Stage } from './helpers/dockerfile.js';
import { freePort } from './helpers/ports.js';
import { TelegramEmulator, TelegramUser } from './helpers/telegram-emulator.js';

const root = mkdtempSync(join(tmpdir(), 'tthc-image-'));
const asRoot = process.getuid?.() === 0;
const { dbName } = isolation('image');
/** The test's Redis, in a database of its own (emptied first: update ids seen by an earlier run would be taken for redeliveries). */
const redisUrl = Object.assign(new URL(inject('redisUrl')), { pathname: '/9' }).toString();
beforeAll(async () => {
  const redis = new Redis(redisUrl);
  await redis.flushdb();
  redis.disconnect();
});
/** The image's user `node` (its files given to it by --chown) stands as nobody here. */
const owner = asRoot ? { uid: 65534, gid: 65534 } : undefined;
let image: Stage | undefined;
afterAll(() => {
  if (image && !asRoot) chmodSync(image.dir, 0o755);
  rmSync(root, { recursive: true, force: true });
});

/** What `.env` holds for every service of the stack (a test adds the Telegram bot's settings where it needs them). */
const dotEnv = {
  PUBLIC_BASE_URL: 'https://khaosat.congan.example.vn',
  PSEUDONYM_KEY: randomBytes(24).toString('base64url'),
  DATA_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
};

/**
 * Compose's environment of `service` with `.env` (and `extra`), on `port`; its servers are the test's (Redis in a
 * database of its own, so that the worker takes none of the other test files' jobs).
 */
function composeEnv(service: 'web' | 'worker', port: number, extra: Record<string, string> = {}): Record<string, string> {
  const compose = parse(readFileSync(join(projectRoot, 'compose.yaml'), 'utf8')).services[service].environment as Record<string, string>;
  return {
    ...compose,
    ...dotEnv,
    ...extra,
    REDIS_URL: redisUrl,
    MONGODB_URI: `${inject('mongoUrl')}/${dbName}`,
    PORT: String(port),
    HOST: '127.0.0.1',
  };
}

/** Runs a command in the image: its folder, its user, its environment only (as in a container), plus `env`. */
function inImage(cmd: string[], env: Record<string, string>) {
  return watched(
    spawn(cmd[0]!, cmd.slice(1), {
      cwd: image!.dir,
      env: { PATH: `${image!.nodeBin}:${process.env.PATH}`, HOME: '/nonexistent', ...image!.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(owner ?? {}),
    }),
  );
}

const finished = (cmd: string[], env: Record<string, string>) => inImage(cmd, env).exited;

/** The image's command, ready (its /readyz answers 200). */
const startInImage = async (env: Record<string, string>) => ({ env, process: await untilReady(inImage(image!.cmd!, env), env.PORT!, 60_000) });

describe('the production image, without Docker', () => {
  it('builds from what its Dockerfile copies, with production dependencies only', () => {
    chmodSync(root, 0o755); // the image's user must reach its folder
    const stages = buildStages(readFileSync(join(projectRoot, 'Dockerfile'), 'utf8'), { context: projectRoot, root, ...(owner ? { owner } : {}) });
    image = stages.at(-1)!;
    expect(image.user).toBe('node');
    expect(existsSync(join(image.dir, 'dist/src/main.js'))).toBe(true);
    expect(existsSync(join(image.dir, 'node_modules/vitest'))).toBe(false);
    // The folder stays the root's, as WORKDIR leaves it: the service must not need to write there.
    if (!asRoot) chmodSync(image.dir, 0o555);
  }, 300_000);

  it("runs on its base image's Node.js major", async () => {
    const major = /^node:(\d+)/.exec(image!.base)![1];
    expect((await finished(['node', '-p', 'process.versions.node'], {})).output).toMatch(new RegExp(`^${major}\\.`));
  });

  it('refuses to start without the shared keys, naming them, and writes nothing', async () => {
    const { PSEUDONYM_KEY: _p, DATA_ENCRYPTION_KEY: _d, ...withoutKeys } = composeEnv('web', await freePort());
    const { code, output } = await finished(image!.cmd!, withoutKeys);
    expect(code).toBe(2);
    expect(output).toMatch(/PSEUDONYM_KEY: must be set when NODE_ENV=production/);
    expect(output).toMatch(/DATA_ENCRYPTION_KEY: must be set when NODE_ENV=production/);
    expect(existsSync(join(image!.dir, '.data'))).toBe(false);
  });

  it("runs compose's worker and web as its user: health checks pass, an admin command works, a survey is recorded, SIGTERM stops them", async () => {
    const emu = await new TelegramEmulator().start();
    // .env's Telegram settings, the platform emulated.
    const telegram = {
      TELEGRAM_BOT_TOKEN: TEST_TOKEN,
      TELEGRAM_WEBHOOK_SECRET: TEST_SECRET,
      TELEGRAM_API_ROOT: emu.apiRoot,
      TELEGRAM_BOT_USERNAME: 'tthc_image_bot',
    };
    // The worker first, as compose starts both at once and the first one seeds the empty database.
    const worker = await startInImage(composeEnv('worker', await freePort(), telegram));
    const web = await startInImage(composeEnv('web', await freePort(), telegram));
    expect([worker.env.ROLE, web.env.ROLE]).toEqual(['worker', 'web']);
    const db = await openDatabase(worker.env.MONGODB_URI!);
    try {
      for (const s of [worker, web]) {
        const health = await finished(['sh', '-c', image!.healthcheck!], s.env);
        expect(health.code, `${s.env.ROLE}: ${health.output}`).toBe(0);
      }
      // As the README says to run it: `docker compose exec web node dist/scripts/admin.js keys:create ...`.
      const admin = await finished(['node', 'dist/scripts/admin.js', 'keys:create', '--role', 'officer', '--unit', 'PC08'], web.env);
      expect(admin.code, admin.output).toBe(0);
      expect(admin.output).toMatch(/created officer key \S+ for unit PC08/);
      const key = admin.output.trim().split('\n').at(-1)!;

      // A citizen's survey through the web process; the worker records it.
      const base = `http://127.0.0.1:${web.env.PORT}`;
      const created = await api(base, key, 'POST', '/api/invitations', { caseCode: 'IMAGE-1', unit: 'PC08', field: 'dang-ky-xe', respondentType: 'citizen' });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const inv = created.body as { id: string; token: string };
      const u = new TelegramUser(emu, { url: `${base}/webhooks/telegram`, secret: TEST_SECRET }, 72_000);
      await u.send(`/start ${inv.token}`);
      await u.waitForText('Kính chào');
      await u.finishSurvey();
      const response = await eventually(() => db.models.Response.findOne({ invitationId: inv.id }).lean(), 'the response recorded', 30_000);
      expect(response.answers.length).toBeGreaterThan(15);
    } finally {
      for (const s of [web, worker]) s.process.kill('SIGTERM');
      await db.conn.dropDatabase().catch(() => {});
      await db.close();
      await emu.stop();
    }
    for (const s of [web, worker]) {
      const { code, output } = await s.process.exited;
      expect(code, output).toBe(0);
      expect(output).not.toMatch(/EACCES|"level":(50|60)/);
    }
    expect(existsSync(join(image!.dir, '.data'))).toBe(false);
  }, 120_000);
});
