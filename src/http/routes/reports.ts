// /api/reports, /api/progress, /api/alerts, /api/publications: what PV01 and
// the leadership read, send and publish. Officers read their own units' Mẫu 01
// and progress; everything else is PV01's (admins may read).
import { Router } from 'express';
import { z } from 'zod';
import { calendarDay } from '../../days.js';
import type { Models } from '../../db.js';
import type { Campaign } from '../../invitations/campaign.js';
import type { Actor, Invitations } from '../../invitations/invitations.js';
import { type Table, toCsv, toXlsx } from '../../reports/export.js';
import type { Reporting } from '../../reports/reporting.js';
import type { authenticator } from '../auth.js';
import { HttpError, validInput } from '../errors.js';

const reportQuery = z.strictObject({
  campaign: z.string().max(32).optional(),
  unit: z.string().max(32).optional(),
  from: calendarDay.optional(),
  to: calendarDay.optional(),
  format: z.enum(['json', 'csv', 'xlsx']).default('json'),
});

export function reportRoutes(deps: {
  models: Models;
  invitations: Invitations;
  reporting: Reporting;
  auth: ReturnType<typeof authenticator>;
  now: () => number;
}): Router {
  const d = { ...deps, ...deps.reporting };
  const r = Router();
  const actorOf = (res: { locals: Record<string, unknown> }) => res.locals.actor as Actor;
  const log = (actor: Actor, action: string, target: string, details?: Record<string, unknown>) =>
    d.models.AuditLog.create({ at: new Date(), actor: actor.keyId, role: actor.role, action, target, details });
  const campaignOf = (id?: string) => d.invitations.campaign(id);
  /** An officer reads only the units its key covers, and must name one. */
  const scoped = async (actor: Actor, unit: string | undefined) => {
    const scope = await d.invitations.scopeOf(actor);
    if (!scope) return unit;
    const wanted = unit ?? actor.unit;
    if (!wanted || !scope.has(wanted)) throw new HttpError(403, 'forbidden', `unit: this key is for unit ${actor.unit}`);
    return wanted;
  };
  const send = async (
    res: import('express').Response,
    campaign: Campaign,
    name: string,
    format: string,
    body: unknown,
    tables: Record<string, Table>,
    extra = {},
  ) => {
    if (format === 'json') return void res.json(body);
    if (format === 'csv')
      return void res
        .type('text/csv; charset=utf-8')
        .attachment(`${name}.csv`)
        .send(toCsv(campaign, tables, extra));
    res.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet').attachment(`${name}.xlsx`);
    res.send(await toXlsx(campaign, name, tables, extra));
  };

  r.get('/reports/form-01', d.auth('officer', 'pv01', 'admin'), async (req, res) => {
    const q = validInput(reportQuery, req.query, 'invalid_query');
    const campaign = await campaignOf(q.campaign);
    const unit = await scoped(actorOf(res), q.unit);
    if (unit && !campaign.units.some((u) => u.code === unit)) throw new HttpError(400, 'unknown_unit', `unit: unknown unit "${unit}"`);
    const report = await d.reports.form01(campaign, { ...q, unit });
    await send(res, campaign, `mau-01-${unit ?? campaign.id}`, q.format, report, report.tables);
  });

  r.get('/reports/form-02', d.auth('pv01', 'admin'), async (req, res) => {
    const q = validInput(reportQuery, req.query, 'invalid_query');
    const campaign = await campaignOf(q.campaign);
    const report = await d.reports.form02(campaign, q);
    await send(res, campaign, `mau-02-${q.unit ?? campaign.id}`, q.format, report, report.tables);
  });

  r.get('/reports/ballots', d.auth('officer', 'pv01', 'admin'), async (req, res) => {
    const q = validInput(reportQuery, req.query, 'invalid_query');
    const campaign = await campaignOf(q.campaign);
    const unit = await scoped(actorOf(res), q.unit);
    const { questions, rows } = await d.reports.ballots(campaign, { ...q, unit });
    await send(
      res,
      campaign,
      `phieu-${unit ?? campaign.id}`,
      q.format,
      { questions, ballots: rows },
      { ballots: rows },
      { ballots: questions.map((key) => ({ key, title: key })) },
    );
  });

  r.post('/reports/:form/submissions', d.auth('pv01'), async (req, res) => {
    const form = validInput(z.enum(['form-01', 'form-02']), req.params.form, 'not_found');
    const body = validInput(z.strictObject({ unit: z.string().max(32).optional(), campaign: z.string().max(32).optional() }), req.body, 'invalid_body');
    const campaign = await campaignOf(body.campaign);
    const actor = actorOf(res);
    const s = await d.progress.submit(campaign, form, body.unit, actor.keyId, d.now());
    await log(actor, 'report.submit', form, s);
    res.status(201).json(s);
  });

  r.get('/reports/submissions', d.auth('pv01', 'admin'), async (req, res) => {
    res.json({ submissions: await d.progress.submissions(await campaignOf(req.query.campaign ? String(req.query.campaign) : undefined)) });
  });

  r.get('/progress', d.auth(), async (_req, res) => {
    const actor = actorOf(res);
    const scope = await d.invitations.scopeOf(actor);
    const p = await d.progress.of(await d.invitations.currentCampaign(), d.now());
    const mine = (u: { unit: string }) => !scope || scope.has(u.unit);
    res.json({ ...p, units: p.units.filter(mine), behind: p.behind.filter(mine) });
  });

  r.get('/alerts', d.auth('pv01', 'admin'), async (_req, res) => {
    const campaign = await d.invitations.currentCampaign();
    res.json({ alerts: (await d.alerts.open(campaign.id)).map(({ _id, ...a }) => ({ id: String(_id), ...a })) });
  });

  r.post('/alerts/:id/handled', d.auth('pv01'), async (req, res) => {
    const { note } = validInput(z.strictObject({ note: z.string().trim().min(1).max(1000) }), req.body, 'invalid_body');
    const actor = actorOf(res);
    const a = await d.alerts.handle(String(req.params.id), actor.keyId, note);
    await log(actor, 'alert.handled', String(req.params.id), { note });
    res.json({ id: String(a._id), handledAt: a.handledAt });
  });

  r.post('/publications', d.auth('pv01'), async (req, res) => {
    const body = validInput(z.strictObject({ campaign: z.string().max(32).optional() }), req.body, 'invalid_body');
    const campaign = await campaignOf(body.campaign);
    const actor = actorOf(res);
    const p = await d.progress.publish(campaign, actor.keyId, d.now());
    await log(actor, 'results.publish', campaign.id);
    res.status(201).json(p);
  });

  return r;
}
