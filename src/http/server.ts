// The HTTP surface: platform webhooks dispatched before express (the hot
// path), everything else through the express app.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import type { Audits } from '../audits/audits.js';
import type { Channel } from '../channels/channel.js';
import type { ConversationRunner, InboundEvent } from '../conversations/runner.js';
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import type { AgencyBallots } from '../invitations/agency-ballots.js';
import type { Invitations } from '../invitations/invitations.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { RedisClient } from '../redis.js';
import type { Reporting } from '../reports/reporting.js';
import { authenticator } from './auth.js';
import { errorHandler, HttpError } from './errors.js';
import { auditPageRoutes } from './pages/audits.js';
import { dashboardRoutes } from './pages/dashboard.js';
import { landingRoutes } from './pages/landing.js';
import { officerRoutes } from './pages/officer.js';
import { resultsRoutes } from './pages/results.js';
import { surveyRoutes, webSession } from './pages/survey.js';
import { tryRoutes } from './pages/try.js';
import { adminRoutes } from './routes/admin.js';
import { apiRoutes } from './routes/api.js';
import { auditRoutes } from './routes/audits.js';
import { type Check, healthRoutes } from './routes/health.js';
import { reportRoutes } from './routes/reports.js';
import { webhookHandler } from './webhook.js';

/**
 * Every answer: no inline script may run, no page may be framed, no type
 * sniffing, and no referrer (survey URLs carry tokens). Styles stay inline
 * (no build step); scripts are served from /assets.
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";
const securityHeaders: express.RequestHandler = (_req, res, next) => {
  res.set({ 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' });
  next();
};

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpDeps {
  channels: Channel[];
  handle: (ev: InboundEvent) => Promise<unknown>;
  /** A channel reported users who can no longer be reached. */
  unreachable: (channel: string, userKey: string) => Promise<void>;
  /** A template message (ZNS) was delivered. */
  delivered: (trackingId: string) => Promise<void>;
  checks: Check[];
  metrics: Metrics;
  models: Models;
  flows: FlowRegistry;
  invitations: Invitations;
  agencyBallots: AgencyBallots;
  audits: Audits;
  reporting: Reporting;
  runner: ConversationRunner;
  /** Serve the /try simulator (demonstration invitations). */
  tryIt: { redis: RedisClient; prefix: string } | undefined;
  /** Shared state of the edge itself (the API keys' request budgets). */
  redis: RedisClient;
  prefix: string;
  csrfSecret: string;
  /** Express's "trust proxy" (TRUST_PROXY). */
  trustProxy: string;
  codeAttempt: (address: string) => Promise<boolean>;
  publicBaseUrl: string;
  log: Logger;
}

/** An express app: what every answer carries, the routes `mount` adds, then a 404 saying `notFound`, errors mapped. */
function edgeApp(log: Logger, notFound: string, mount: (app: Express) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  mount(app);
  app.use(() => {
    throw new HttpError(404, 'not_found', notFound);
  });
  app.use(errorHandler(log));
  return app;
}

/** A ROLE=worker process's HTTP: its health and metrics only (probes, the image's HEALTHCHECK, Prometheus). */
export function createHealthHttp(d: Pick<HttpDeps, 'checks' | 'metrics' | 'log'>): { app: Express; listener: RequestListener } {
  const app = edgeApp(d.log, 'a worker process serves /healthz, /readyz and /metrics only', (a) => a.use(healthRoutes(d.checks, d.metrics.registry)));
  return { app, listener: app };
}

export function createHttp(d: HttpDeps): { app: Express; listener: RequestListener } {
  const app = edgeApp(d.log, 'no such route', (app) => {
    // A number of hops, true/false, or addresses and names ("loopback, 10.0.0.0/8").
    app.set(
      'trust proxy',
      /^\d+$/.test(d.trustProxy) ? Number(d.trustProxy) : d.trustProxy === 'true' ? true : d.trustProxy === 'false' ? false : d.trustProxy,
    );
    // A newcomer at the root lands on the officer page (the only page without a token).
    app.get('/', (_req, res) => res.redirect(302, '/officer'));
    const warnings = d.channels.filter((c) => c.trouble).map((c) => ({ name: c.name, check: () => c.trouble!() }));
    app.use(healthRoutes(d.checks, d.metrics.registry, warnings));
    app.use('/webhooks/:channel', () => {
      throw new HttpError(404, 'channel_disabled', 'this channel is not configured on this server');
    });
    const auth = authenticator(d.models, { redis: d.redis, prefix: d.prefix });
    app.use('/api/admin', express.json({ limit: '1mb' }), adminRoutes({ models: d.models, flows: d.flows, invitations: d.invitations, auth }));
    app.use('/api/audits', express.json({ limit: '100kb' }), auditRoutes({ audits: d.audits, models: d.models, auth }));
    app.use(auditPageRoutes());
    app.use(
      dashboardRoutes({
        invitations: d.invitations,
        reporting: d.reporting,
        audits: d.audits,
        auth,
        now: () => d.invitations.now(),
      }),
    );
    app.use(
      '/api',
      express.json({ limit: '100kb' }),
      reportRoutes({
        models: d.models,
        invitations: d.invitations,
        reporting: d.reporting,
        auth,
        now: () => d.invitations.now(),
      }),
    );
    app.use('/api', express.json({ limit: '100kb' }), apiRoutes({ invitations: d.invitations, agencyBallots: d.agencyBallots, models: d.models, auth }));
    // The browser channel's cookie is Secure when the public URL is https.
    const web = webSession(d.csrfSecret, d.publicBaseUrl.startsWith('https://'));
    app.use(surveyRoutes({ runner: d.runner, flows: d.flows, codeAttempt: d.codeAttempt }, web));
    if (d.tryIt) app.use(tryRoutes({ runner: d.runner, invitations: d.invitations, ...d.tryIt }, web));
    app.use(landingRoutes(d.invitations, web), officerRoutes(), resultsRoutes(d.models));
  });

  const webhooks = new Map(
    d.channels.map((c) => [
      `/webhooks/${c.name}`,
      webhookHandler(c.inbound, d.handle, {
        log: d.log,
        ...(c.webhookTimeoutMs ? { timeoutMs: c.webhookTimeoutMs } : {}),
        unreachable: (u) => d.unreachable(c.name, u),
        delivered: d.delivered,
      }),
    ]),
  );
  const listener: RequestListener = (req, res) => {
    const hook = req.method === 'POST' ? webhooks.get(req.url ?? '') : undefined;
    if (hook) void hook(req, res);
    else app(req, res);
  };
  return { app, listener };
}
