// Wires the service from a configuration: used by main.ts and by the tests,
// so the tests run exactly what production runs. It wires; the rules live
// in their domains.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Worker } from 'bullmq';
import type { Express } from 'express';
import { Audits } from './audits/audits.js';
import { BackgroundTasks } from './background.js';
import type { Channel } from './channels/channel.js';
import type { Notifier } from './channels/notifier.js';
import { CHANNEL_PLUGINS, type ChannelName, NOTIFIER_PLUGINS } from './channels/registry.js';
import type { Config } from './config.js';
import { ConversationRunner, type Effects, type InboundEvent } from './conversations/runner.js';
import { ConversationStore } from './conversations/store.js';
import { encrypt, pseudonym } from './crypto.js';
import { type Database, openDatabase } from './db.js';
import { type FlowRegistry, loadFlows } from './engine/load.js';
import { createHealthHttp, createHttp } from './http/server.js';
import { AgencyBallots } from './invitations/agency-ballots.js';
import { periodOver } from './invitations/campaign.js';
import { InvitationCopies } from './invitations/copies.js';
import { GuessLimiter } from './invitations/guess-limit.js';
import { Invitations, invitationWriteLock } from './invitations/invitations.js';
import { KeyedLock } from './keyed-lock.js';
import { projectRoot } from './local/paths.js';
import type { Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { ChatLock } from './outbound/chat-lock.js';
import { Dispatcher } from './outbound/dispatcher.js';
import { HeldReplies } from './outbound/held.js';
import { SendLimiter } from './outbound/rate-limit.js';
import type { Outlet } from './outbound/send-ops.js';
import { IntakePressure } from './queues/intake-pressure.js';
import { OpenedBatches } from './queues/opened-batches.js';
import { Queues } from './queues/queues.js';
import { createRedis, type RedisClient, SERVICE_KEY_PREFIX } from './redis.js';
import { Alerts, type NotifyPv01 } from './reports/alerts.js';
import { Reports } from './reports/forms.js';
import { Progress } from './reports/progress.js';
import { startCounterRepair } from './responses/counters.js';
import { startWorkers } from './workers.js';
import { shareWriteTurns, turnsThrough } from './write-turns.js';

export interface AppOptions {
  /** See App: how long a reply may be owed before it counts as lost (default 20 s). */
  unsentAfterMs?: number;
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
  /** See IntakePressure: the longest the database jobs step aside for a busy intake (default 30 s). */
  intakeMaxDeferMs?: number;
}

/** The running service: its parts (the tests reach into them) and its lifecycle. */
export class App {
  private server?: Server;
  private workers: Worker[] = [];
  private closing = false;
  /** Requests being served (for the shutdown's log). */
  private inFlight = 0;

  constructor(
    readonly app: Express,
    readonly runner: ConversationRunner,
    readonly db: Database,
    readonly redis: RedisClient,
    readonly queues: Queues,
    readonly invitations: Invitations,
    readonly audits: Audits,
    readonly flows: FlowRegistry,
    readonly channels: Channel[],
    private readonly store: ConversationStore,
    private readonly background: BackgroundTasks,
    readonly pressure: IntakePressure,
    private readonly startWorkersFn: () => Worker[],
    private readonly listener: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void,
    private readonly log: Logger,
    /** A reply owed for longer than this after its save was lost with its process: it is sent again. */
    private readonly unsentAfterMs = 20_000,
  ) {}

  /** Applies the running campaign's settings that live outside MongoDB (the conversation TTL). */
  async applyCampaign(): Promise<void> {
    const campaign = await this.invitations.currentCampaign();
    this.store.sessionTtlMs = campaign.sessionTtlDays * 86_400_000;
    this.log.info({ campaign: campaign.id, sessionTtlDays: campaign.sessionTtlDays }, 'running campaign');
    if (periodOver(campaign, this.invitations.now()))
      this.log.warn(
        { campaign: campaign.id, periodTo: campaign.period.to },
        `the running campaign "${campaign.name}" ended on ${campaign.period.to}: it still works (e.g. for training); activate the current campaign for real use`,
      );
  }

  private stopCounterRepair?: () => void;

  startWorkers() {
    this.workers = this.startWorkersFn();
    this.watchPressure();
    this.runner.startRecovery(5_000, this.unsentAfterMs, (err) => this.log.warn({ err: err.message }, 'could not recover unsent replies'));
    // Counters claimed by a process that died before writing them are recounted.
    this.stopCounterRepair = startCounterRepair(this.db.models, 10_000, this.unsentAfterMs, (n, err) =>
      err
        ? this.log.warn({ err: err.message }, 'could not repair pending counters')
        : this.log.warn({ responses: n }, 'counters left pending by a stopped process recounted'),
    );
    this.queues.scheduleExpirySweep().catch((err: Error) => this.log.warn({ err: err.message }, 'could not schedule the expiry sweep'));
    this.queues.scheduleDigest().catch((err: Error) => this.log.warn({ err: err.message }, 'could not schedule the daily digest'));
  }

  /** Web processes publish their intake rate, worker processes read it (see IntakePressure). */
  private watchPressure() {
    this.pressure.start((err) => this.log.debug({ err: err.message }, 'could not share the intake rate'));
  }

  /** `requestTimeoutMs`: a request whose headers and body have not all arrived by then is answered 408 and closed. */
  listen(port: number, host = '127.0.0.1', { requestTimeoutMs = 30_000 } = {}): Promise<AddressInfo> {
    // A client that trickles its headers or body does not hold a connection for long (checked every second).
    const server = createServer(
      { requestTimeout: requestTimeoutMs, headersTimeout: Math.min(15_000, requestTimeoutMs), connectionsCheckingInterval: 1_000 },
      (req, res) => {
        // Once closing, a keep-alive connection is closed after its answer (a busy client would keep it open).
        if (this.closing) res.setHeader('connection', 'close');
        this.inFlight++;
        res.once('close', () => this.inFlight--);
        this.listener(req, res);
      },
    );
    this.server = server;
    this.watchPressure();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(server.address() as AddressInfo));
    });
  }

  /**
   * Stops intake, lets what is in flight finish within `withinMs`, then closes
   * Redis and MongoDB. What is cut short is not lost: an unanswered webhook is
   * redelivered by its platform, an unfinished job runs again in the next
   * process once its lock expires, and a reply saved but not sent is owed
   * (see ConversationRunner.recoverUnsent).
   */
  async close(withinMs = 8_000): Promise<void> {
    this.runner.stopRecovery();
    this.stopCounterRepair?.();
    if (this.closing) return;
    this.closing = true;
    await this.pressure.stop();
    const deadline = Date.now() + withinMs;
    const tookMs: Record<string, number> = {};
    const cutShort: string[] = [];
    /** Runs a phase for at most `capMs` (and never past the deadline); says whether it finished. */
    const phase = async (name: string, capMs: number, run: () => Promise<unknown>): Promise<boolean> => {
      const t0 = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        run().then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, Math.min(capMs, deadline - t0))))),
      ]);
      clearTimeout(timer);
      tookMs[name] = Date.now() - t0;
      if (!finished) cutShort.push(name);
      return finished;
    };
    const server = this.server;
    if (server) {
      // Requests in flight get a few seconds; past that their connections are closed and the platforms redeliver.
      const served = await phase('requests', 3_000, () => new Promise<void>((resolve) => server.close(() => resolve())));
      if (!served) {
        cutShort.push(`${this.inFlight} requests`);
        server.closeAllConnections();
      }
    }
    await phase('background', 2_000, () => this.background.drain());
    // Workers finish their active jobs (bounded: with Redis down that would never end); a job cut short stalls and runs again elsewhere.
    await phase('jobs', 3_000, () => Promise.all(this.workers.map((w) => w.close())));
    // Replies sent meanwhile are settled before Redis closes (else the next process would send them again).
    await phase('settled', 1_000, () => this.store.flushSettled());
    await phase('channels', 1_000, () => Promise.all(this.channels.map((c) => c.stop?.())));
    await phase('queues', 1_000, () => this.queues.close());
    this.redis.disconnect();
    await phase('database', 1_000, () => this.db.close());
    this.log.info({ tookMs, ...(cutShort.length ? { cutShort } : {}) }, 'service closed');
  }
}

export async function createApp(o: AppOptions): Promise<App> {
  const { config, log } = o;
  const prefix = o.prefix ?? SERVICE_KEY_PREFIX;
  const clock = o.now ?? Date.now;
  const flows = loadFlows(o.flowsDir ?? join(projectRoot, 'flows'));

  // Fail fast while Redis is down: a webhook answers 503 at once and the platform retries.
  // Auto-pipelining: commands issued in one turn of the event loop go out in one write (one syscall, not one each).
  const redis = createRedis(o.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true, enableAutoPipelining: true });
  redis.on('error', () => {}); // reconnects by itself; readiness reports it
  await redis.connect();
  const db = await openDatabase(o.mongoUrl, o.dbName);
  shareWriteTurns(db.models, turnsThrough(redis, prefix));
  const queues = new Queues(o.redisUrl, prefix, (err) => log.debug({ err: err.message }, 'queue connection error'));
  await queues.ready();

  const store = new ConversationStore(redis, {
    prefix,
    sessionTtlMs: o.sessionTtlMs ?? 7 * 86_400_000,
    onDamaged: (err, keptAs) => log.error({ err: err.message, keptAs }, 'a stored conversation could not be read: set aside, the chat starts afresh'),
  });
  const guessLimiter = new GuessLimiter(redis, prefix);
  const invitations = new Invitations({
    models: db.models,
    copies: new InvitationCopies(redis, prefix),
    writeLock: invitationWriteLock(redis, prefix),
    limiter: guessLimiter,
    queues,
    config,
    pseudonymKey: o.pseudonymKey,
    encryptionKey: o.encryptionKey,
    ...(o.now ? { now: o.now } : {}),
  });

  const outlets = new Map<ChannelName, Outlet>();
  for (const plugin of CHANNEL_PLUGINS) {
    const created = plugin.create({ config, redis, prefix, log, conn: db.conn, encryptionKey: o.encryptionKey, now: clock });
    if ('inline' in created) continue;
    if ('disabled' in created) {
      log.warn(`${plugin.name} channel disabled: ${created.disabled}`);
      continue;
    }
    outlets.set(plugin.name, { channel: created, limiter: new SendLimiter(redis, prefix, plugin.name, created.limits) });
  }

  const notifiers = new Map<string, Notifier>();
  for (const plugin of NOTIFIER_PLUGINS) {
    const created = plugin.create({ config, redis, prefix, log, conn: db.conn, encryptionKey: o.encryptionKey, now: clock });
    if ('disabled' in created) log.info(`${plugin.name} notifier disabled: ${created.disabled}`);
    else notifiers.set(plugin.name, created);
  }

  const background = new BackgroundTasks(log);
  const heldReplies = new HeldReplies(redis, prefix);
  const dispatcher = new Dispatcher(outlets, queues, log, background, heldReplies);
  const openings = new OpenedBatches(
    (batch, jobId) => queues.addOpenings(batch, jobId),
    (queued) => background.run('queueing openings', queued),
    (err) => log.debug({ err: err.message }, 'openings not queued; trying again'),
  );
  const effects: Effects = {
    deliver: (to, outputs, how) => dispatcher.deliver(to, outputs, how),
    delivers: (channel) => outlets.has(channel as ChannelName),
    async completed(c) {
      await queues.addCompletion({
        ref: c.ref,
        flow: c.flow,
        channel: c.channel,
        respondent: pseudonym(o.pseudonymKey, c.channel, c.userKey),
        contact: encrypt(o.encryptionKey, JSON.stringify({ channel: c.channel, userKey: c.userKey })),
        answers: c.answers,
        ...(c.lang ? { lang: c.lang } : {}),
        startedAt: c.startedAt,
        completedAt: c.completedAt,
      });
    },
    // After the webhook's answer (see OpenedBatches); a graceful shutdown waits for it.
    opened: (ref, who, at) => openings.add({ ref, ...who, at }),
  };
  const runner = new ConversationRunner({ store, flows, opener: invitations, effects, ...(o.now ? { now: o.now } : {}) });
  const reports = new Reports(db.models, flows);
  const progress = new Progress(db.models, flows);
  const notifyPv01: NotifyPv01 = async (campaign, text) => {
    const to = campaign.pv01Chat;
    if (!to || !outlets.has(to.channel as ChannelName)) {
      if (to) log.warn({ channel: to.channel }, 'PV01 chat channel is not enabled: the alert is only in the dashboard inbox');
      return false;
    }
    await dispatcher.deliver({ channel: to.channel as ChannelName, userKey: to.chat }, [{ type: 'text', text }], { reply: false });
    return true;
  };
  const alerts = new Alerts(db.models, (id) => invitations.campaign(id).catch(() => undefined), notifyPv01);
  const audits = new Audits({
    models: db.models,
    flows,
    invitations,
    runner,
    queues,
    encryptionKey: o.encryptionKey,
    isBlocked: async (who) => (await outlets.get(who.channel)?.limiter.isUnreachable(who.userKey)) ?? false,
    writeLock: new KeyedLock(redis, `${prefix}auditlock:`, 10_000),
    now: clock,
  });

  const metrics = createMetrics();
  const pressure = new IntakePressure(redis, prefix, { busyRate: config.intakeBusyRate, maxDeferMs: o.intakeMaxDeferMs });
  const handle = async (ev: InboundEvent) => {
    pressure.note();
    const end = metrics.latency.startTimer({ channel: ev.channel });
    try {
      const r = await runner.handle(ev);
      metrics.updates.inc({ channel: ev.channel, result: r.duplicate ? 'duplicate' : 'ok' });
      return r;
    } catch (err) {
      metrics.updates.inc({ channel: ev.channel, result: 'error' });
      throw err;
    } finally {
      end();
    }
  };
  const channels = [...outlets.values()].map((x) => x.channel);
  const checks = [
    {
      name: 'redis',
      check: async () => {
        if (redis.status !== 'ready') throw new Error(redis.status);
        await redis.ping();
      },
    },
    { name: 'mongodb', check: () => db.ping() },
  ];
  const unreachable = async (channel: string, userKey: string) => {
    await outlets.get(channel as ChannelName)?.limiter.markUnreachable(userKey);
  };
  const delivered = async (trackingId: string) => void (await queues.addZnsDelivered(trackingId));
  const http =
    config.role === 'worker'
      ? createHealthHttp({ checks, metrics, log })
      : createHttp({
          channels,
          handle,
          unreachable,
          delivered,
          checks,
          metrics,
          models: db.models,
          flows,
          invitations,
          agencyBallots: new AgencyBallots(invitations, db.models, o.encryptionKey),
          audits,
          reporting: { reports, progress, alerts },
          runner,
          tryIt: tryItOn(config, channels) ? { redis, prefix } : undefined,
          redis,
          prefix,
          csrfSecret: o.pseudonymKey,
          trustProxy: config.trustProxy,
          codeAttempt: (address) => guessLimiter.attemptFrom(address),
          publicBaseUrl: config.publicBaseUrl,
          log,
        });

  const workerDeps = {
    redisUrl: o.redisUrl,
    prefix,
    models: db.models,
    flows,
    runner,
    invitations,
    audits,
    alerts,
    digest: async () => {
      const campaign = await invitations.currentCampaign();
      return notifyPv01(campaign, await progress.digest(campaign, clock()));
    },
    queues,
    outlets,
    notifiers,
    locks: new ChatLock(redis, prefix),
    held: heldReplies,
    pressure,
    log,
    completionConcurrency: config.completionConcurrency,
  };
  return new App(
    http.app,
    runner,
    db,
    redis,
    queues,
    invitations,
    audits,
    flows,
    channels,
    store,
    background,
    pressure,
    () => startWorkers(workerDeps),
    http.listener,
    log,
  );
}

/** The /try simulator is on when asked, or by default when no chat channel is configured (evaluators and training). */
export const tryItOn = (config: Config, channels: Channel[]) => config.tryIt === 'on' || (config.tryIt === 'auto' && channels.length === 0);
