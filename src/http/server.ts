// The HTTP surface: platform webhooks dispatched before express (the hot
// path), everything else through the express app.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import type { Channel } from '../channels/channel.js';
import type { InboundEvent } from '../conversations/runner.js';
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import type { Invitations } from '../invitations/invitations.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { authenticator } from './auth.js';
import { errorHandler, HttpError } from './errors.js';
import { landingRoutes } from './pages/landing.js';
import { officerRoutes } from './pages/officer.js';
import { adminRoutes } from './routes/admin.js';
import { apiRoutes } from './routes/api.js';
import { type Check, healthRoutes } from './routes/health.js';
import { webhookHandler } from './webhook.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpDeps {
  channels: Channel[];
  handle: (ev: InboundEvent) => Promise<unknown>;
  checks: Check[];
  metrics: Metrics;
  models: Models;
  flows: FlowRegistry;
  invitations: Invitations;
  log: Logger;
}

export function createHttp(d: HttpDeps): { app: Express; listener: RequestListener } {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(d.checks, d.metrics.registry));
  app.use('/webhooks/:channel', () => {
    throw new HttpError(404, 'channel_disabled', 'this channel is not configured on this server');
  });
  const auth = authenticator(d.models);
  app.use('/api/admin', express.json({ limit: '1mb' }), adminRoutes({ models: d.models, flows: d.flows, invitations: d.invitations, auth }));
  app.use('/api', express.json({ limit: '100kb' }), apiRoutes({ invitations: d.invitations, models: d.models, auth }));
  app.use(landingRoutes(d.invitations), officerRoutes());
  app.use(() => {
    throw new HttpError(404, 'not_found', 'no such route');
  });
  app.use(errorHandler(d.log));

  const webhooks = new Map(d.channels.map((c) => [`/webhooks/${c.name}`, webhookHandler(c.inbound, d.handle, { log: d.log })]));
  const listener: RequestListener = (req, res) => {
    const hook = req.method === 'POST' ? webhooks.get(req.url ?? '') : undefined;
    if (hook) void hook(req, res);
    else app(req, res);
  };
  return { app, listener };
}
