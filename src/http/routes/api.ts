import { Router } from 'express';
import QRCode from 'qrcode';
import type { Models } from '../../db.js';
import { periodOver } from '../../invitations/campaign.js';
import { type Actor, createInvitationBody, type Invitations } from '../../invitations/invitations.js';
import type { authenticator } from '../auth.js';
import { HttpError } from '../errors.js';

export function apiRoutes(deps: { invitations: Invitations; models: Models; auth: ReturnType<typeof authenticator> }): Router {
  const { invitations, models, auth } = deps;
  const r = Router();
  const actorOf = (res: { locals: Record<string, unknown> }) => res.locals.actor as Actor;
  const audit = (actor: Actor, action: string, target: string, details?: Record<string, unknown>) =>
    models.AuditLog.create({ at: new Date(), actor: actor.keyId, role: actor.role, action, target, details });

  r.get('/me', auth(), (_req, res) => {
    const { role, unit } = actorOf(res);
    res.json({ role, unit: unit ?? null });
  });

  r.get('/campaigns/current', auth(), async (_req, res) => {
    const c = await invitations.currentCampaign();
    const fieldName = new Map(c.fields.map((f) => [f.code, f.name]));
    res.json({
      id: c.id,
      name: c.name,
      units: c.units.map((u) => ({ code: u.code, name: u.name, fields: u.fields.map((f) => ({ code: f, name: fieldName.get(f) ?? f })) })),
      organization: c.organization,
      period: c.period,
      periodOver: periodOver(c, invitations.now()),
      channels: invitations.offeredChannels(),
    });
  });

  r.post('/invitations', auth('officer', 'admin'), async (req, res) => {
    const parsed = createInvitationBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      const msg = parsed.error.issues
        .map((i) => (i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : `${i.path.join('.')}: ${i.message}`))
        .join('; ');
      throw new HttpError(400, 'invalid_body', msg);
    }
    const actor = actorOf(res);
    const { created, view } = await invitations.create(parsed.data, actor);
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
    const options = { errorCorrectionLevel: 'M' as const, margin: 2 };
    if (req.params.format === 'svg') res.type('image/svg+xml').send(await QRCode.toString(view.links.landing, { ...options, type: 'svg' }));
    else if (req.params.format === 'png') res.type('image/png').send(await QRCode.toBuffer(view.links.landing, { ...options, type: 'png', width: 512 }));
    else throw new HttpError(404, 'not_found', 'QR codes are qr.svg or qr.png');
  });

  r.post('/invitations/:id/cancel', auth('officer', 'admin'), async (req, res) => {
    const actor = actorOf(res);
    const view = await invitations.cancel(String(req.params.id), actor);
    await audit(actor, 'invitation.cancel', view.id);
    res.json(view);
  });

  r.use(() => {
    throw new HttpError(404, 'not_found', 'no such API route');
  });
  return r;
}
