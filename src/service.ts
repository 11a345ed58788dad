// Wires the service from a configuration: used by main.ts and by the tests,
// so the tests run exactly what production runs.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Worker } from 'bullmq';
import express, { type Express } from 'express';
import { Redis } from 'ioredis';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { telegramChannel } from '../webhooks/telegram/index.js';
import { BackgroundTasks } from './background.js';
import type { ChannelAdapter } from './channels/channel.js';
import type { Config } from './config.js';
import { ConversationRunner, type Effects, type InboundEvent } from './conversations/runner.js';
import { ConversationStore } from './conversations/store.js';
import { pseudonym } from './crypto.js';
import { type Database, openDatabase } from './db.js';
import { type FlowRegistry, loadFlows } from './engine/load.js';
import { authenticator } from './http/auth.js';
import { errorHandler, HttpError } from './http/errors.js';
import { landingRoutes } from './http/pages/landing.js';
import { officerRoutes } from './http/pages/officer.js';
import { adminRoutes } from './http/routes/admin.js';
import { apiRoutes } from './http/routes/api.js';
import { healthRoutes } from './http/routes/health.js';
import { webhookHandler } from './http/webhook.js';
import { GuessLimiter } from './invitations/guess-limit.js';
import { reminderTimes } from './invitations/schedule.js';
import { InvitationService } from './invitations/service.js';
import type { Logger } from './log.js';
import { ChatLock } from './outbound/chat-lock.js';
import { Dispatcher } from './outbound/dispatcher.js';
import { SendLimiter } from './outbound/rate-limit.js';
import { Queues, startWorkers } from './queues/index.js';
import { projectRoot } from './services/paths.js';

export interface ServiceOptions {
  config: Config;
  redisUrl: string;
  mongoUrl: string;
  /** Overrides the database of the URI (tests use one per file). */
  dbName?: string;
  /** Redis key prefix (tests use one per file). */
  prefix?: string;
  pseudonymKey: string;
  encryptionKey: Buffer;
  log: Logger;
  flowsDir?: string;
  now?: () => number;
  sessionTtlMs?: number;
}

export class Service {
  private server?: Server;
  private workers: Worker[] = [];
  private closing = false;

  constructor(
    readonly app: Express,
    readonly runner: ConversationRunner,
    readonly db: Database,
    readonly redis: Redis,
    readonly queues: Queues,
    readonly invitations: InvitationService,
    readonly flows: FlowRegistry,
    private readonly store: ConversationStore,
    private readonly background: BackgroundTasks,
    private readonly startWorkersFn: () => Worker[],
    private readonly webhooks: Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>,
    private readonly log: Logger,
  ) {}

  /** Applies the running campaign's settings that live outside MongoDB (the conversation TTL). */
  async applyCampaign(): Promise<void> {
    const campaign = await this.invitations.currentCampaign();
    this.store.sessionTtlMs = campaign.sessionTtlDays * 86_400_000;
    this.log.info({ campaign: campaign.id, sessionTtlDays: campaign.sessionTtlDays }, 'running campaign');
  }

  startWorkers() {
    this.workers = this.startWorkersFn();
    this.queues.scheduleExpirySweep().catch((err: Error) => this.log.warn({ err: err.message }, 'could not schedule the expiry sweep'));
  }

  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    // Webhooks (the hot path) are dispatched before express; everything else goes to the express app.
    const server = createServer((req, res) => {
      const hook = req.method === 'POST' ? this.webhooks.get(req.url ?? '') : undefined;
      if (hook) void hook(req, res);
      else this.app(req, res);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(server.address() as AddressInfo));
    });
  }

  /** Stops intake, drains in-flight requests and jobs, then closes Redis and MongoDB. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    }
    await this.background.drain();
    // Workers finish their active jobs; with Redis down that would never end, so it is bounded.
    await Promise.all(this.workers.map((w) => Promise.race([w.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000).unref())])));
    await this.queues.close();
    this.redis.disconnect();
    await this.db.close();
    this.log.info('service closed');
  }
}

export async function createService(o: ServiceOptions): Promise<Service> {
  const { config, log } = o;
  const prefix = o.prefix ?? 'tthc:';
  const clock = o.now ?? Date.now;
  const flows = loadFlows(o.flowsDir ?? join(projectRoot, 'flows'));

  // Fail fast while Redis is down: a webhook answers 503 at once and the platform retries.
  const redis = new Redis(o.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {}); // reconnects by itself; readiness reports it
  await redis.connect();
  const db = await openDatabase(o.mongoUrl, o.dbName);
  const queues = new Queues(o.redisUrl, prefix, (err) => log.debug({ err: err.message }, 'queue connection error'));
  await queues.ready();

  const store = new ConversationStore(redis, { prefix, sessionTtlMs: o.sessionTtlMs ?? 7 * 86_400_000 });
  const invitations = new InvitationService({
    models: db.models,
    limiter: new GuessLimiter(redis, prefix),
    publicBaseUrl: config.publicBaseUrl,
    telegramUsername: config.telegramUsername,
    zaloOaId: config.zalo.ZALO_OA_ID,
    pseudonymKey: o.pseudonymKey,
    encryptionKey: o.encryptionKey,
    ...(o.now ? { now: o.now } : {}),
  });

  const adapters: Partial<Record<'telegram' | 'zalo', ChannelAdapter<unknown>>> = {};
  const limiters: Partial<Record<'telegram' | 'zalo', SendLimiter>> = {};
  if (config.telegram) {
    const tg = config.telegram;
    adapters.telegram = telegramChannel({ token: tg.token, webhookSecret: tg.webhookSecret, apiRoot: tg.apiRoot, redis, prefix }) as ChannelAdapter<unknown>;
    limiters.telegram = new SendLimiter(redis, prefix, 'telegram', { globalPerSec: tg.sendRate, chatIntervalMs: tg.chatIntervalMs, chatBurst: 3 });
  } else {
    log.warn(`Telegram channel disabled: ${config.telegramDisabledReason}`);
  }
  log.warn('Zalo channel disabled: not implemented yet');

  const background = new BackgroundTasks(log);
  const dispatcher = new Dispatcher(adapters, limiters, queues, log, background);
  const effects: Effects = {
    async deliver(ev, outputs, reply) {
      const adapter = ev.channel === 'web' ? undefined : adapters[ev.channel];
      if (!adapter) return;
      const ops = adapter.render(ev, outputs);
      if (!ops.length) return;
      if (reply) dispatcher.reply(adapter.name, ev.userKey, ops);
      else await dispatcher.enqueue(adapter.name, ev.userKey, ops);
    },
    async completed(c) {
      await queues.addCompletion({
        ref: c.ref,
        flow: c.flow,
        channel: c.channel,
        respondent: pseudonym(o.pseudonymKey, c.channel, c.userKey),
        answers: c.answers,
        startedAt: c.startedAt,
        completedAt: c.completedAt,
      });
    },
    // Not on the webhook's path: the invitation status and the reminders follow a moment later.
    async opened(ref, who) {
      background.run(
        'marking the invitation opened',
        (async () => {
          const inv = await invitations.markOpened(ref, who);
          // Only the first opening schedules: reopening the same survey does not add reminders.
          if (!inv) return;
          const campaign = await invitations.currentCampaign();
          const now = clock();
          const times = reminderTimes(now, campaign.reminderDelaysMinutes, campaign.timezone, campaign.quietHours);
          await queues.scheduleFollowUps({ channel: who.channel, userKey: who.userKey, ref }, times, inv.expiresAt.getTime(), now);
        })(),
      );
    },
  };
  const runner = new ConversationRunner({ store, flows, opener: invitations, effects, ...(o.now ? { now: o.now } : {}) });

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const updates = new Counter({ name: 'webhook_updates_total', help: 'Inbound platform events', labelNames: ['channel', 'result'], registers: [registry] });
  const latency = new Histogram({
    name: 'webhook_handle_seconds',
    help: 'Time to process one inbound event',
    labelNames: ['channel'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const handle = async (ev: InboundEvent) => {
    const end = latency.startTimer({ channel: ev.channel });
    try {
      const r = await runner.handle(ev);
      updates.inc({ channel: ev.channel, result: r.duplicate ? 'duplicate' : 'ok' });
      return r;
    } catch (err) {
      updates.inc({ channel: ev.channel, result: 'error' });
      throw err;
    } finally {
      end();
    }
  };

  const app = express();
  app.disable('x-powered-by');
  app.use(
    healthRoutes(
      [
        {
          name: 'redis',
          check: async () => {
            if (redis.status !== 'ready') throw new Error(redis.status);
            await redis.ping();
          },
        },
        { name: 'mongodb', check: () => db.ping() },
      ],
      registry,
    ),
  );
  const webhooks = new Map(Object.values(adapters).map((a) => [`/webhooks/${a.name}`, webhookHandler(a.inbound, handle, { log })]));
  app.use('/webhooks/:channel', () => {
    throw new HttpError(404, 'channel_disabled', 'this channel is not configured on this server');
  });
  const auth = authenticator(db.models);
  app.use('/api/admin', express.json({ limit: '1mb' }), adminRoutes({ models: db.models, flows, invitations, auth }));
  app.use('/api', express.json({ limit: '100kb' }), apiRoutes({ invitations, models: db.models, auth }));
  app.use(landingRoutes(invitations), officerRoutes());
  app.use(() => {
    throw new HttpError(404, 'not_found', 'no such route');
  });
  app.use(errorHandler(log));

  const locks = new ChatLock(redis, prefix);
  const workerDeps = { redisUrl: o.redisUrl, prefix, models: db.models, flows, adapters, limiters, locks, log, runner, invitations };
  return new Service(app, runner, db, redis, queues, invitations, flows, store, background, () => startWorkers(workerDeps), webhooks, log);
}
