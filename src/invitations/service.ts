// Invitations: created by officers (or their case system), opened by citizens
// from a deep link, a QR code or a typed short code.
import { Types } from 'mongoose';
import { z } from 'zod';
import type { ChannelName } from '../conversations/conversation.js';
import type { InvitationOpener, OpenResult } from '../conversations/runner.js';
import { encrypt, pseudonym } from '../crypto.js';
import type { Models } from '../db.js';
import { HttpError } from '../http/errors.js';
import type { Campaign } from './campaign.js';
import { unitOf } from './campaign.js';
import { newCode, newToken, TOKEN_PATTERN } from './codes.js';
import type { GuessLimiter } from './guess-limit.js';
import type { InvitationDoc } from './models.js';

/** A request the caller can fix: 400/404/409 with a message naming the field. */
export class InvitationError extends HttpError {
  override name = 'InvitationError';
  constructor(status: 400 | 403 | 404 | 409, code: string, message: string) {
    super(status, code, message);
  }
}

export const createInvitationBody = z.strictObject({
  caseCode: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[\p{L}\p{N}_./-]+$/u, 'letters, digits and _ . / - only'),
  unit: z.string().trim().min(1),
  field: z.string().trim().min(1),
  procedure: z.string().trim().min(1).max(300).optional(),
  respondentType: z.enum(['citizen', 'organization']).optional(),
  phone: z
    .string()
    .trim()
    .transform((p) => p.replace(/[\s.-]/g, ''))
    .pipe(z.string().regex(/^(\+?84|0)\d{9,10}$/, 'a Vietnamese phone number such as 0912345678'))
    .transform((p) => p.replace(/^\+?84|^0/, '84'))
    .optional(),
});
export type CreateInvitationBody = z.infer<typeof createInvitationBody>;

export interface Actor {
  keyId: string;
  role: 'officer' | 'pv01' | 'admin';
  unit?: string;
}

export interface InvitationView {
  id: string;
  status: string;
  unit: string;
  field: string;
  caseCode: string;
  code: string;
  token: string;
  links: { telegram: string | null; zalo: string | null; landing: string };
  qrUrl: string;
  createdAt: string;
  expiresAt: string;
}

export interface InvitationServiceOptions {
  models: Models;
  limiter: GuessLimiter;
  publicBaseUrl: string;
  telegramUsername?: string;
  zaloOaId?: string;
  pseudonymKey: string;
  encryptionKey: Buffer;
  now?: () => number;
}

export class InvitationService implements InvitationOpener {
  private campaignCache?: { at: number; campaign: Campaign };

  constructor(private readonly o: InvitationServiceOptions) {}

  private now() {
    return (this.o.now ?? Date.now)();
  }

  /** The running campaign (cached briefly: it changes rarely, invitations are created often). */
  async currentCampaign(): Promise<Campaign> {
    if (this.campaignCache && this.now() - this.campaignCache.at < 30_000) return this.campaignCache.campaign;
    const doc = await this.o.models.Campaign.findOne({ active: true }).sort({ updatedAt: -1 }).lean();
    if (!doc) throw new InvitationError(404, 'no_campaign', 'no active campaign: run `npm run seed`');
    const campaign = doc.data as Campaign;
    this.campaignCache = { at: this.now(), campaign };
    return campaign;
  }

  forgetCampaign() {
    this.campaignCache = undefined;
  }

  view(inv: InvitationDoc & { _id: Types.ObjectId }): InvitationView {
    const base = this.o.publicBaseUrl;
    const id = String(inv._id);
    return {
      id,
      status: this.effectiveStatus(inv),
      unit: inv.unit,
      field: inv.field,
      caseCode: inv.caseCode,
      code: inv.code,
      token: inv.token,
      links: {
        telegram: this.o.telegramUsername ? `https://t.me/${this.o.telegramUsername}?start=${inv.token}` : null,
        zalo: this.o.zaloOaId ? `https://zalo.me/${this.o.zaloOaId}` : null,
        landing: `${base}/s/${inv.token}`,
      },
      qrUrl: `${base}/api/invitations/${id}/qr.svg`,
      createdAt: inv.createdAt.toISOString(),
      expiresAt: inv.expiresAt.toISOString(),
    };
  }

  private effectiveStatus(inv: Pick<InvitationDoc, 'status' | 'expiresAt'>): string {
    return (inv.status === 'created' || inv.status === 'opened') && inv.expiresAt.getTime() <= this.now() ? 'expired' : inv.status!;
  }

  /** Creates the invitation of a case, or returns the existing one (`created: false`). */
  async create(body: CreateInvitationBody, actor: Actor): Promise<{ created: boolean; view: InvitationView }> {
    const campaign = await this.currentCampaign();
    const unit = unitOf(campaign, body.unit);
    if (!unit) throw new InvitationError(400, 'unknown_unit', `unit: unknown unit "${body.unit}" in campaign ${campaign.id}`);
    if (actor.role === 'officer' && actor.unit !== unit.code) {
      throw new InvitationError(403, 'forbidden', `unit: this key may only create invitations for unit ${actor.unit}`);
    }
    if (!unit.fields.includes(body.field)) {
      throw new InvitationError(400, 'unknown_field', `field: unit ${unit.code} does not handle field "${body.field}" (it handles ${unit.fields.join(', ')})`);
    }
    const { Invitation } = this.o.models;
    const existing = await Invitation.findOne({ campaign: campaign.id, caseCode: body.caseCode }).lean();
    if (existing) return { created: false, view: this.existingFor(existing, actor) };

    const now = this.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const doc = await Invitation.create({
          campaign: campaign.id,
          unit: unit.code,
          unitName: unit.name,
          field: body.field,
          procedure: body.procedure,
          caseCode: body.caseCode,
          respondentType: body.respondentType,
          phoneEnc: body.phone ? encrypt(this.o.encryptionKey, body.phone) : undefined,
          code: newCode(),
          token: newToken(),
          flow: campaign.flows.citizen,
          createdBy: actor.keyId,
          createdAt: new Date(now),
          expiresAt: new Date(now + campaign.invitationLifetimeDays * 86_400_000),
        });
        return { created: true, view: this.view(doc.toObject()) };
      } catch (err) {
        if ((err as { code?: number }).code !== 11000 || attempt >= 5) throw err;
        // Either the same case was created concurrently (return it) or a code collided (draw again).
        const raced = await Invitation.findOne({ campaign: campaign.id, caseCode: body.caseCode }).lean();
        if (raced) return { created: false, view: this.existingFor(raced, actor) };
      }
    }
  }

  private existingFor(inv: InvitationDoc & { _id: Types.ObjectId }, actor: Actor): InvitationView {
    if (actor.role === 'officer' && inv.unit !== actor.unit) {
      throw new InvitationError(409, 'case_of_other_unit', 'caseCode: this case already has an invitation of another unit');
    }
    return this.view(inv);
  }

  async get(id: string, actor: Actor): Promise<InvitationDoc & { _id: Types.ObjectId }> {
    if (!Types.ObjectId.isValid(id)) throw new InvitationError(404, 'not_found', 'invitation not found');
    const inv = await this.o.models.Invitation.findById(id).lean();
    // An officer of another unit learns nothing, not even that the id exists.
    if (!inv || (actor.role === 'officer' && inv.unit !== actor.unit)) throw new InvitationError(404, 'not_found', 'invitation not found');
    return inv;
  }

  async cancel(id: string, actor: Actor): Promise<InvitationView> {
    const inv = await this.get(id, actor);
    if (inv.status === 'completed') throw new InvitationError(409, 'already_completed', 'a completed invitation cannot be cancelled');
    const updated = await this.o.models.Invitation.findOneAndUpdate(
      { _id: inv._id, status: { $in: ['created', 'opened'] } },
      { $set: { status: 'cancelled', cancelledAt: new Date(this.now()) } },
      { returnDocument: 'after' },
    ).lean();
    return this.view(updated ?? inv);
  }

  async listToday(actor: Actor, unit: string, timezoneOffsetMin = 420): Promise<InvitationView[]> {
    if (actor.role === 'officer' && actor.unit !== unit) throw new InvitationError(403, 'forbidden', `unit: this key is for unit ${actor.unit}`);
    const local = this.now() + timezoneOffsetMin * 60_000;
    const startOfDay = local - (local % 86_400_000) - timezoneOffsetMin * 60_000;
    const docs = await this.o.models.Invitation.find({ unit, createdAt: { $gte: new Date(startOfDay) } })
      .sort({ createdAt: -1 })
      .limit(500)
      .lean();
    return docs.map((d) => this.view(d));
  }

  async byToken(token: string) {
    return TOKEN_PATTERN.test(token) ? this.o.models.Invitation.findOne({ token }).lean() : null;
  }

  async open(by: { token: string } | { code: string }, who: { channel: ChannelName; userKey: string }): Promise<OpenResult> {
    const whoKey = `${who.channel}:${who.userKey}`;
    const locked = await this.o.limiter.lockedMinutes(whoKey);
    if (locked) return { ok: false, reason: 'locked', lockedMinutes: locked };
    const inv = 'token' in by ? await this.byToken(by.token) : await this.o.models.Invitation.findOne({ code: by.code }).lean();
    if (!inv) {
      const lockedNow = await this.o.limiter.wrong(whoKey);
      return lockedNow ? { ok: false, reason: 'locked', lockedMinutes: lockedNow } : { ok: false, reason: 'unknown' };
    }
    const status = this.effectiveStatus(inv);
    if (status === 'completed') return { ok: false, reason: 'used' };
    if (status === 'expired') return { ok: false, reason: 'expired' };
    if (status === 'cancelled') return { ok: false, reason: 'cancelled' };
    if (inv.openedBy && inv.openedBy !== pseudonym(this.o.pseudonymKey, who.channel, who.userKey)) return { ok: false, reason: 'taken' };
    const ctx: Record<string, string> = { unitName: inv.unitName ?? inv.unit, caseCode: inv.caseCode };
    if (inv.respondentType) ctx.respondentType = inv.respondentType;
    return { ok: true, start: { ref: String(inv._id), flow: inv.flow, ctx } };
  }

  /** First opener wins (a later opener from another chat is refused by open()). Returns the invitation when this call opened it. */
  async markOpened(ref: string, who: { channel: ChannelName; userKey: string }) {
    return this.o.models.Invitation.findOneAndUpdate(
      { _id: ref, status: 'created' },
      { $set: { status: 'opened', openedAt: new Date(this.now()), openedBy: pseudonym(this.o.pseudonymKey, who.channel, who.userKey) } },
      { returnDocument: 'after' },
    ).lean();
  }

  /** Marks invitations past their lifetime as expired. Returns how many. */
  async expireDue(): Promise<number> {
    const r = await this.o.models.Invitation.updateMany(
      { status: { $in: ['created', 'opened'] }, expiresAt: { $lte: new Date(this.now()) } },
      { $set: { status: 'expired' } },
    );
    return r.modifiedCount;
  }

  async statusOf(ref: string): Promise<string | undefined> {
    const inv = await this.o.models.Invitation.findById(ref, { status: 1, expiresAt: 1 }).lean();
    return inv ? this.effectiveStatus(inv as Pick<InvitationDoc, 'status' | 'expiresAt'>) : undefined;
  }
}
