// Campaign data through the admin API: read, replace (validated like the seed
// files), activate. Every change is in the audit log.
import { Router } from 'express';
import type { Models } from '../../db.js';
import type { FlowRegistry } from '../../engine/load.js';
import { campaignSchema } from '../../invitations/campaign.js';
import type { Actor, Invitations } from '../../invitations/invitations.js';
import type { authenticator } from '../auth.js';
import { HttpError, validInput } from '../errors.js';

export function adminRoutes(deps: { models: Models; flows: FlowRegistry; invitations: Invitations; auth: ReturnType<typeof authenticator> }): Router {
  const { models, flows, invitations, auth } = deps;
  const r = Router();
  r.use(auth('admin'));
  const audit = (actor: Actor, action: string, target: string) =>
    models.AuditLog.create({ at: new Date(), actor: actor.keyId, role: actor.role, action, target });

  r.get('/campaigns', async (_req, res) => {
    const docs = await models.Campaign.find().lean();
    res.json({
      campaigns: docs.map((d) => ({ id: d._id, name: (d.data as { name: string }).name, period: (d.data as { period: unknown }).period, active: d.active })),
    });
  });

  r.get('/campaigns/:id', async (req, res) => {
    const doc = await models.Campaign.findById(String(req.params.id)).lean();
    if (!doc) throw new HttpError(404, 'not_found', 'no such campaign');
    res.json({ ...(doc.data as object), active: doc.active });
  });

  r.put('/campaigns/:id', async (req, res) => {
    const c = validInput(campaignSchema, req.body, 'invalid_campaign');
    if (c.id !== req.params.id) throw new HttpError(400, 'invalid_campaign', `id: "${c.id}" does not match the URL`);
    for (const key of Object.values(c.flows)) {
      if (!flows.all().some((f) => f.key === key)) throw new HttpError(400, 'invalid_campaign', `flows: unknown flow "${key}" (see flows/)`);
    }
    const existed = await models.Campaign.exists({ _id: c.id });
    await models.Campaign.updateOne({ _id: c.id }, { $set: { data: c, updatedAt: new Date() }, $setOnInsert: { active: false } }, { upsert: true });
    await audit(res.locals.actor as Actor, existed ? 'campaign.update' : 'campaign.create', c.id);
    invitations.forgetCampaign();
    res.status(existed ? 200 : 201).json(c);
  });

  r.post('/campaigns/:id/activate', async (req, res) => {
    const id = String(req.params.id);
    if (!(await models.Campaign.exists({ _id: id }))) throw new HttpError(404, 'not_found', 'no such campaign');
    await models.Campaign.updateMany({ _id: { $ne: id } }, { $set: { active: false } });
    await models.Campaign.updateOne({ _id: id }, { $set: { active: true, updatedAt: new Date() } });
    await audit(res.locals.actor as Actor, 'campaign.activate', id);
    invitations.forgetCampaign();
    res.json({ id, active: true });
  });
  return r;
}
