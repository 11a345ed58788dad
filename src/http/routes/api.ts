import { Router } from 'express';
import QRCode from 'qrcode';
import type { Models } from '../../db.js';
import { type AgencyBallots, agencyBallotsBody } from '../../invitations/agency-ballots.js';
import { allocateQuotas, periodOver } from '../../invitations/campaign.js';
import { type Actor, createInvitationBody, type Invitations } from '../../invitations/invitations.js';
import type { authenticator } from '../auth.js';
import { HttpError, validInput } from '../errors.js';
import { agencyLettersPage } from '../pages/agency-letters.js';

const QR_OPTIONS = { errorCorrectionLevel: 'M' as const, margin: 2 };

export function apiRoutes(deps: { invitations: Invitations; agencyBallots: AgencyBallots; models: Models; auth: ReturnType<typeof authenticator> }): Router {
  const { invitations, agencyBallots, models, auth } = deps;
  const r = Router();
  const actorOf = (res: { locals: Record<string, unknown> }) => res.locals.actor as Actor;
  const audit = (actor: Actor, action: string, target: string, details?: Record<string, unknown>) =>
    models.AuditLog.create({ at: new Date(), actor: actor.keyId, role: actor.role, action, target, details });

  r.get('/me', auth(), async (_req, res) => {
    const actor = actorOf(res);
    const scope = await invitations.scopeOf(actor);
    // `units`: the units this key may work for (null: all of them).
    res.json({ role: actor.role, unit: actor.unit ?? null, subUnits: !!actor.subUnits, units: scope ? [...scope] : null });
  });

  r.get('/campaigns/current', auth(), async (_req, res) => {
    const c = await invitations.currentCampaign();
    const fieldName = new Map(c.fields.map((f) => [f.code, f.name]));
    res.json({
      id: c.id,
      name: c.name,
      units: c.units.map((u) => ({
        code: u.code,
        name: u.name,
        parent: u.parent ?? null,
        fields: u.fields.map((f) => ({ code: f, name: fieldName.get(f) ?? f, procedures: c.fields.find((x) => x.code === f)?.procedures ?? [] })),
      })),
      organization: c.organization,
      period: c.period,
      periodOver: periodOver(c, invitations.now()),
      channels: invitations.offeredChannels(),
    });
  });

  r.post('/invitations', auth('officer', 'admin'), async (req, res) => {
    const actor = actorOf(res);
    const { created, view } = await invitations.create(validInput(createInvitationBody, req.body), actor);
    if (created) await audit(actor, 'invitation.create', view.id, { unit: view.unit, caseCode: view.caseCode });
    res.status(created ? 201 : 200).json(view);
  });

  r.get('/invitations', auth('officer', 'pv01', 'admin'), async (req, res) => {
    const actor = actorOf(res);
    const unit = String(req.query.unit ?? actor.unit ?? '');
    if (!unit) throw new HttpError(400, 'invalid_query', 'unit: required');
    res.json({ invitations: await invitations.listToday(actor, unit) });
  });

  r.get('/invitations/:id', auth('officer', 'pv01', 'admin'), async (req, res) => {
    res.json(invitations.view(await invitations.get(String(req.params.id), actorOf(res))));
  });

  r.get('/invitations/:id/qr.:format', auth('officer', 'pv01', 'admin'), async (req, res) => {
    const view = invitations.view(await invitations.get(String(req.params.id), actorOf(res)));
    if (req.params.format === 'svg') res.type('image/svg+xml').send(await QRCode.toString(view.links.landing, { ...QR_OPTIONS, type: 'svg' }));
    else if (req.params.format === 'png') res.type('image/png').send(await QRCode.toBuffer(view.links.landing, { ...QR_OPTIONS, type: 'png', width: 512 }));
    else throw new HttpError(404, 'not_found', 'QR codes are qr.svg or qr.png');
  });

  r.post('/invitations/:id/cancel', auth('officer', 'admin'), async (req, res) => {
    const actor = actorOf(res);
    const view = await invitations.cancel(String(req.params.id), actor);
    await audit(actor, 'invitation.cancel', view.id);
    res.json(view);
  });

  /** Targets per unit and field after each parent passed its share down. */
  r.get('/campaigns/current/quotas', auth(), async (_req, res) => {
    const actor = actorOf(res);
    const scope = await invitations.scopeOf(actor);
    const rows = allocateQuotas(await invitations.currentCampaign());
    res.json({ quotas: scope ? rows.filter((q) => scope.has(q.unit)) : rows });
  });

  r.post('/agency-ballots', auth('pv01', 'admin'), async (req, res) => {
    const body = validInput(agencyBallotsBody, req.body);
    const actor = actorOf(res);
    const batch = await agencyBallots.issue(body, actor);
    if (batch.created) await audit(actor, 'agency-ballots.issue', String(batch.created), { agencies: body.agencies ?? 'all' });
    res.status(batch.created ? 201 : 200).json(batch);
  });

  r.get('/agency-ballots', auth('pv01', 'admin'), async (_req, res) => {
    res.json({ progress: await agencyBallots.progress(), ballots: await agencyBallots.list() });
  });

  r.get('/agency-ballots/letters', auth('pv01', 'admin'), async (_req, res) => {
    const ballots = await agencyBallots.list();
    const withQr = await Promise.all(ballots.map(async (b) => ({ ...b, qrSvg: await QRCode.toString(b.links.landing, { ...QR_OPTIONS, type: 'svg' }) })));
    res.type('html').send(agencyLettersPage(await invitations.currentCampaign(), withQr, invitations.offeredChannels()));
  });

  r.use(() => {
    throw new HttpError(404, 'not_found', 'no such API route');
  });
  return r;
}
