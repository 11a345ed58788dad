// Invitations: created by officers (or their case system), opened by citizens
// from a deep link, a QR code or a typed short code. MongoDB is the record;
// opening reads and claims the Redis copy (./copies.ts), never MongoDB, unless
// the copy is missing.
import { Types } from 'mongoose';
import { z } from 'zod';
import { CHANNEL_PLUGINS } from '../channels/registry.js';
import type { Config } from '../config.js';
import type { Respondent } from '../conversations/conversation.js';
import type { InvitationOpener, OpenResult } from '../conversations/runner.js';
import { decrypt, encrypt, pseudonym } from '../crypto.js';
import { calendarDay, dayIn, dmy } from '../days.js';
import type { Models } from '../db.js';
import { DomainError, type DomainErrorKind } from '../errors.js';
import { KeyedLock } from '../keyed-lock.js';
import type { Queues } from '../queues/queues.js';
import type { RedisClient } from '../redis.js';
import type { Campaign } from './campaign.js';
import { unitAndBelow, unitOf } from './campaign.js';
import { findCode, formatCode, newCode, newToken, TOKEN_PATTERN } from './codes.js';
import type { InvitationCopies, InvitationCopy } from './copies.js';
import { countInvitation } from './counts.js';
import type { GuessLimiter } from './guess-limit.js';
import { type InvitationDoc, WITH_CONTACTS } from './models.js';
import { outsideQuietHours } from './schedule.js';

/** A request the caller can fix, in domain terms (mapped to 400/403/404/409 at the HTTP edge). */
export class InvitationError extends DomainError {
  override name = 'InvitationError';
  constructor(kind: Exclude<DomainErrorKind, 'unavailable'>, code: string, message: string) {
    super(kind, code, message);
  }
}

/** The campaign of demonstration invitations: no report or count of a real campaign includes it. */
export const DEMO_CAMPAIGN = 'try';

/** ZNS refuses to send between 22:00 and 06:00 (error -133): such sends are postponed to the morning. */
export const ZNS_NIGHT = { from: '22:00', to: '06:00' };

/** How long opening waits for MongoDB when the Redis copy is missing. */
const FALLBACK_TIMEOUT_MS = 3_000;

/** An invitation still to be answered: it expires past its lifetime. */
const OPEN_STATUSES: Array<InvitationDoc['status']> = ['created', 'opened'];

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
  /** One of the field's coded procedures (campaign data); `procedure` may be free text instead. */
  procedureCode: z.string().trim().min(1).max(64).optional(),
  respondentType: z.enum(['citizen', 'organization']).optional(),
  submittedVia: z.enum(['direct', 'online', 'postal']).optional(),
  /** The day the result was handed back; today when absent. */
  handedBackOn: calendarDay.optional(),
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
  /** An officer key for its unit and every unit under it. */
  subUnits?: boolean;
}

/** Whether `actor` may act for `unit`: PV01 and admins anywhere, an officer in its unit (and below it, for a sub-unit key). */
export function actorCovers(campaign: Campaign, actor: Actor, unit: string): boolean {
  if (actor.role !== 'officer') return true;
  if (actor.unit === unit) return true;
  return !!actor.subUnits && !!actor.unit && unitAndBelow(campaign, actor.unit).has(unit);
}

/** The day contacts are purged: the last deadline (or the period's end) plus the retention period. */
export function contactsKeptUntil(c: Campaign): string {
  const last = [c.period.to, ...c.deadlines.map((d) => d.date)].sort().at(-1)!;
  return new Date(Date.parse(`${last}T00:00:00Z`) + c.contactRetentionDays * 86_400_000).toISOString().slice(0, 10);
}

export interface InvitationView {
  id: string;
  kind: string;
  status: string;
  unit: string;
  /** null for an agency ballot. */
  field: string | null;
  caseCode: string;
  code: string;
  token: string;
  /** One start link per channel (null where the channel is not configured), and the landing page. */
  links: Record<string, string | null> & { landing: string };
  qrUrl: string;
  createdAt: string;
  expiresAt: string;
}

export interface InvitationsOptions {
  models: Models;
  copies: InvitationCopies;
  /** One writer at a time per invitation, for the writes that meet by design (see markOpened). */
  writeLock: KeyedLock;
  limiter: GuessLimiter;
  /** Schedules what follows a creation (the ZNS invitation of a survey never opened). */
  queues: Pick<Queues, 'addZnsInvitation'>;
  config: Config;
  pseudonymKey: string;
  encryptionKey: Buffer;
  now?: () => number;
}

/** The lock each invitation's writes hold (see Invitations.write); an admin script rewriting invitations holds it too. */
export const invitationWriteLock = (redis: RedisClient, prefix: string) => new KeyedLock(redis, `${prefix}invlock:`, 10_000);

export class Invitations implements InvitationOpener {
  private campaignCache?: { at: number; campaign: Campaign };

  constructor(private readonly o: InvitationsOptions) {}

  now() {
    return (this.o.now ?? Date.now)();
  }

  /** The running campaign (cached briefly: it changes rarely, invitations are created often). */
  async currentCampaign(): Promise<Campaign> {
    if (this.campaignCache && this.now() - this.campaignCache.at < 30_000) return this.campaignCache.campaign;
    const doc = await this.o.models.Campaign.findOne({ active: true }).sort({ updatedAt: -1 }).lean();
    if (!doc) throw new InvitationError('not_found', 'no_campaign', 'no active campaign: run `npm run seed`');
    const campaign = doc.data as Campaign;
    this.campaignCache = { at: this.now(), campaign };
    return campaign;
  }

  /** A campaign by id (any, running or not), or the running one when no id is given. */
  async campaign(id?: string): Promise<Campaign> {
    if (!id) return this.currentCampaign();
    const doc = await this.o.models.Campaign.findById(id).lean();
    if (!doc) throw new InvitationError('not_found', 'unknown_campaign', `campaign: no campaign "${id}"`);
    return doc.data as Campaign;
  }

  forgetCampaign() {
    this.campaignCache = undefined;
  }

  /** The chat channels a citizen can be sent to (those with a start link configured), in the order pages offer them. */
  offeredChannels(): Array<{ name: string; title: string; sendsCode: boolean; handle: string }> {
    return CHANNEL_PLUGINS.filter((p) => (p.link?.(this.o.config, { token: 'x', code: 'x' }) ?? null) !== null).map((p) => ({
      name: p.name,
      ...p.display,
      handle: p.handle(this.o.config),
    }));
  }

  /** The units `actor` may see: null for all (PV01, admin). */
  async scopeOf(actor: Actor): Promise<Set<string> | null> {
    if (actor.role !== 'officer') return null;
    if (!actor.subUnits || !actor.unit) return new Set(actor.unit ? [actor.unit] : []);
    return unitAndBelow(await this.currentCampaign(), actor.unit);
  }

  view(inv: InvitationDoc & { _id: Types.ObjectId }): InvitationView {
    const base = this.o.config.publicBaseUrl;
    const id = String(inv._id);
    const links = Object.fromEntries(CHANNEL_PLUGINS.flatMap((p) => (p.link ? [[p.name, p.link(this.o.config, inv)]] : [])));
    return {
      id,
      status: this.effectiveStatus(inv),
      kind: inv.kind ?? 'citizen',
      unit: inv.unit,
      field: inv.field ?? null,
      caseCode: inv.caseCode,
      code: inv.code,
      token: inv.token,
      links: { ...links, landing: `${base}/s/${inv.token}` },
      qrUrl: `${base}/api/invitations/${id}/qr.svg`,
      createdAt: inv.createdAt.toISOString(),
      expiresAt: inv.expiresAt.toISOString(),
    };
  }

  private effectiveStatus(inv: Pick<InvitationDoc, 'status' | 'expiresAt'>): string {
    return (inv.status === 'created' || inv.status === 'opened') && inv.expiresAt.getTime() <= this.now() ? 'expired' : inv.status!;
  }

  /** Creates the invitation of a case, or returns the existing one (`created: false`). */
  /**
   * A demonstration invitation (the /try simulator): in the campaign "try" and
   * the unit "DEMO", so its response and counters stay out of every real
   * campaign's figures. It asks the running campaign's citizen questionnaire.
   */
  async createDemo(): Promise<InvitationView> {
    const campaign = await this.currentCampaign();
    const now = this.now();
    const caseCode = `THU-${newCode()}`;
    const unitName = 'Đơn vị thử nghiệm';
    const doc = await this.o.models.Invitation.create({
      campaign: DEMO_CAMPAIGN,
      unit: 'DEMO',
      unitName,
      field: 'demo',
      caseCode,
      code: newCode(),
      token: newToken(),
      flow: campaign.flows.citizen,
      ctx: { unitName, caseCode, contactsKeptUntil: dmy(dayIn(campaign.timezone, now + 86_400_000)) },
      createdBy: 'try',
      createdAt: new Date(now),
      expiresAt: new Date(now + 86_400_000),
    });
    const inv = doc.toObject();
    await this.o.copies.put(copyOf(inv), now);
    return this.view(inv);
  }

  async create(body: CreateInvitationBody, actor: Actor): Promise<{ created: boolean; view: InvitationView }> {
    const campaign = await this.currentCampaign();
    const unit = unitOf(campaign, body.unit);
    if (!unit) throw new InvitationError('invalid', 'unknown_unit', `unit: unknown unit "${body.unit}" in campaign ${campaign.id}`);
    if (!actorCovers(campaign, actor, unit.code)) {
      throw new InvitationError(
        'forbidden',
        'forbidden',
        `unit: this key may only create invitations for unit ${actor.unit}${actor.subUnits ? ' and the units under it' : ''}`,
      );
    }
    if (!unit.fields.includes(body.field)) {
      throw new InvitationError(
        'invalid',
        'unknown_field',
        `field: unit ${unit.code} does not handle field "${body.field}" (it handles ${unit.fields.join(', ')})`,
      );
    }
    const procedures = campaign.fields.find((f) => f.code === body.field)?.procedures ?? [];
    const coded = body.procedureCode ? procedures.find((p) => p.code === body.procedureCode) : procedures.find((p) => p.name === body.procedure);
    if (body.procedureCode && !coded) {
      throw new InvitationError('invalid', 'unknown_procedure', `procedureCode: field ${body.field} has no procedure "${body.procedureCode}"`);
    }
    const now = this.now();
    const today = dayIn(campaign.timezone, now);
    if (body.handedBackOn && body.handedBackOn > today)
      throw new InvitationError('invalid', 'future_date', 'handedBackOn: the result cannot be handed back after today');
    const ctx: Record<string, string> = { unitName: unit.name, caseCode: body.caseCode, contactsKeptUntil: dmy(contactsKeptUntil(campaign)) };
    if (body.respondentType) ctx.respondentType = body.respondentType;
    if (body.submittedVia) ctx.submittedVia = body.submittedVia;
    const r = await this.insert(campaign, {
      unit: unit.code,
      unitName: unit.name,
      field: body.field,
      procedure: coded?.name ?? body.procedure,
      procedureCode: coded?.code,
      submittedVia: body.submittedVia,
      handedBackOn: body.handedBackOn ?? today,
      caseCode: body.caseCode,
      respondentType: body.respondentType,
      phoneEnc: body.phone ? encrypt(this.o.encryptionKey, body.phone) : undefined,
      flow: campaign.flows.citizen,
      ctx,
      createdBy: actor.keyId,
    });
    if (r.created && body.phone && campaign.zns.invitation) {
      // One ZNS invitation if the survey is still not opened after the first reminder delay, never at night.
      const at = outsideQuietHours(now + (campaign.reminderDelaysMinutes[0] ?? 120) * 60_000, campaign.timezone, ZNS_NIGHT);
      await this.o.queues.addZnsInvitation(r.view.id, at - now);
    }
    return r;
  }

  /**
   * Inserts an invitation (a case or an agency ballot) with a fresh code and
   * token, and writes its Redis copy; an invitation already there for the same
   * unit and case code is returned instead (`created: false`).
   */
  async insert(
    campaign: Campaign,
    fields: Omit<Partial<InvitationDoc>, 'code' | 'token' | 'createdAt' | 'expiresAt'> & { unit: string; caseCode: string; flow: string },
  ): Promise<{ created: boolean; view: InvitationView }> {
    const { Invitation } = this.o.models;
    const same = { campaign: campaign.id, unit: fields.unit, caseCode: fields.caseCode };
    const existing = await Invitation.findOne(same).lean();
    if (existing) return { created: false, view: await this.reprint(existing) };
    const now = this.now();
    let inv: InvitationDoc & { _id: Types.ObjectId };
    for (let attempt = 0; ; attempt++) {
      try {
        const doc = await Invitation.create({
          ...fields,
          campaign: campaign.id,
          code: newCode(),
          token: newToken(),
          createdAt: new Date(now),
          expiresAt: new Date(now + campaign.invitationLifetimeDays * 86_400_000),
        });
        inv = doc.toObject();
        break;
      } catch (err) {
        if ((err as { code?: number }).code !== 11000 || attempt >= 5) throw err;
        // Either the same case was created concurrently (return it) or a code collided (draw again).
        const raced = await Invitation.findOne(same).lean();
        if (raced) return { created: false, view: await this.reprint(raced) };
      }
    }
    // Outside the retry: a duplicate key from these writes is not a code collision, and the invitation is created.
    await this.o.copies.put(copyOf(inv), this.now());
    if (inv.kind !== 'agency') await countInvitation(this.o.models, inv, 'created', campaign.timezone);
    return { created: true, view: this.view(inv) };
  }

  private async reprint(inv: InvitationDoc & { _id: Types.ObjectId }): Promise<InvitationView> {
    // A reprint: make sure the copy the webhook path reads exists (the first write may have failed).
    await this.o.copies.put(copyOf(inv), this.now());
    return this.view(inv);
  }

  async get(id: string, actor: Actor): Promise<InvitationDoc & { _id: Types.ObjectId }> {
    if (!Types.ObjectId.isValid(id)) throw new InvitationError('not_found', 'not_found', 'invitation not found');
    const inv = await this.o.models.Invitation.findById(id).lean();
    // An officer of another unit learns nothing, not even that the id exists.
    const scope = inv ? await this.scopeOf(actor) : null;
    if (!inv || (scope && !scope.has(inv.unit))) throw new InvitationError('not_found', 'not_found', 'invitation not found');
    return inv;
  }

  async cancel(id: string, actor: Actor): Promise<InvitationView> {
    const inv = await this.get(id, actor);
    if (inv.status === 'completed') throw new InvitationError('conflict', 'already_completed', 'a completed invitation cannot be cancelled');
    const updated = await this.write(String(inv._id), () =>
      this.o.models.Invitation.findOneAndUpdate(
        { _id: inv._id, status: { $in: ['created', 'opened'] } },
        { $set: { status: 'cancelled', cancelledAt: new Date(this.now()) } },
        { returnDocument: 'after' },
      ).lean(),
    );
    if (updated) await this.o.copies.setStatus(String(inv._id), 'cancelled');
    return this.view(updated ?? inv);
  }

  async listToday(actor: Actor, unit: string, timezoneOffsetMin = 420): Promise<InvitationView[]> {
    const scope = await this.scopeOf(actor);
    if (scope && !scope.has(unit))
      throw new InvitationError('forbidden', 'forbidden', `unit: this key is for unit ${actor.unit}${actor.subUnits ? ' and the units under it' : ''}`);
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

  /** The short code in a typed text, alone or inside a sentence. */
  codeIn(text: string): string | undefined {
    return findCode(text);
  }

  /**
   * Opens an invitation for a respondent: one Redis round trip that checks the
   * event's dedupe mark and the guess lock, and claims the invitation (the
   * first respondent wins; the claim is idempotent for that respondent).
   */
  async open(by: { token: string } | { code: string }, who: Respondent, dedupeKey: string): Promise<OpenResult> {
    if ('token' in by && !TOKEN_PATTERN.test(by.token)) return this.wrongGuess(who);
    const claimant = pseudonym(this.o.pseudonymKey, who.channel, who.userKey);
    const lockKey = this.o.limiter.lockKey(`${who.channel}:${who.userKey}`);
    for (let repaired = false; ; repaired = true) {
      const r = await this.o.copies.open(by, claimant, lockKey, dedupeKey, this.now());
      switch (r.kind) {
        case 'ok': {
          const c = r.copy;
          const ctx: Record<string, string> = c.ctx ?? { unitName: c.unitName, caseCode: c.caseCode };
          if (!c.ctx && c.respondentType) ctx.respondentType = c.respondentType;
          return { ok: true, start: { ref: c.id, flow: c.flow, ctx } };
        }
        case 'duplicate':
        case 'taken':
        case 'expired':
        case 'cancelled':
          return { ok: false, reason: r.kind };
        case 'completed':
          return { ok: false, reason: 'used' };
        case 'locked':
          return { ok: false, reason: 'locked', lockedMinutes: Math.ceil(r.ms / 60_000) };
        case 'missing': {
          if (repaired) return this.wrongGuess(who);
          // No copy: a wrong code, or a copy Redis lost. MongoDB decides, for this one lookup, and the copy is rebuilt.
          let inv: Awaited<ReturnType<Invitations['byToken']>>;
          try {
            inv = await withTimeout(this.o.models.Invitation.findOne('token' in by ? { token: by.token } : { code: by.code }).lean(), FALLBACK_TIMEOUT_MS);
          } catch {
            return { ok: false, reason: 'unavailable' };
          }
          if (!inv) return this.wrongGuess(who);
          await this.o.copies.put({ ...copyOf(inv), status: this.effectiveStatus(inv) as InvitationCopy['status'] }, this.now());
        }
      }
    }
  }

  private async wrongGuess(who: Respondent): Promise<OpenResult> {
    const lockedNow = await this.o.limiter.wrong(`${who.channel}:${who.userKey}`);
    return lockedNow ? { ok: false, reason: 'locked', lockedMinutes: lockedNow } : { ok: false, reason: 'unknown' };
  }

  /**
   * Writes one invitation under its lock. Its writers meet by design: the opening is recorded a second after it, so
   * it can run with the completion's mark (a fast survey, or both held back by a burst or an outage), and a ZNS
   * delivery or a cancellation can land at that moment too. FerretDB applies an update as a read, then a replacement
   * of the whole document, so one of two at once could be lost. MongoDB does not lose either; the lock costs two Redis
   * commands per write.
   */
  private write<T>(ref: string, update: () => Promise<T>): Promise<T> {
    return this.o.writeLock.hold(ref, update);
  }

  /** Records the first opening in MongoDB (a durable job). Returns the invitation when this call opened it, else null. */
  async markOpened(ref: string, who: Respondent, at: number) {
    // A survey no invitation opened (a post-audit verification, which the recovery of a lost opening may name).
    if (!Types.ObjectId.isValid(ref)) return null;
    const { inv, first } = await this.write(ref, () => this.writeOpening(ref, who, at));
    if (first && first.kind !== 'agency') await countInvitation(this.o.models, first, 'opened', (await this.currentCampaign()).timezone);
    return inv;
  }

  /** The opening's writes. `inv`: the invitation if this opened it; `first`: also when the completion landed first. */
  private async writeOpening(ref: string, who: Respondent, at: number) {
    const opened = { openedAt: new Date(at), openedBy: pseudonym(this.o.pseudonymKey, who.channel, who.userKey) };
    const inv = await this.o.models.Invitation.findOneAndUpdate(
      { _id: ref, status: 'created' },
      { $set: { status: 'opened', ...opened } },
      { returnDocument: 'after' },
    ).lean();
    // The completion may land first (both jobs waited for MongoDB): the opening is still recorded, without reminders.
    const first = inv ?? (await this.o.models.Invitation.findOneAndUpdate({ _id: ref, openedAt: { $exists: false } }, { $set: opened }).lean());
    return { inv, first };
  }

  /** The invitation if `who` opened it (status still "opened"), else null. */
  async openedBy(ref: string, who: Respondent) {
    return this.o.models.Invitation.findOne({ _id: ref, status: 'opened', openedBy: pseudonym(this.o.pseudonymKey, who.channel, who.userKey) }).lean();
  }

  /** What a ZNS invitation needs: the phone (decrypted here only) and the template's sources; undefined when gone. */
  async forZns(ref: string): Promise<{ status: string; phone?: string; sources: Record<string, string> } | undefined> {
    const inv = await this.o.models.Invitation.findById(ref).lean();
    if (!inv) return undefined;
    const campaign = await this.currentCampaign();
    const view = this.view(inv);
    // Opened a moment ago: the opening is recorded by a job a second later (longer while intake is busy), the claim is
    // in the Redis copy at once.
    const opened = view.status === 'created' && (await this.o.copies.claimed(ref));
    return {
      status: opened ? 'opened' : view.status,
      ...(inv.phoneEnc ? { phone: decrypt(this.o.encryptionKey, inv.phoneEnc) } : {}),
      sources: {
        code: formatCode(inv.code),
        unitName: inv.unitName ?? inv.unit,
        caseCode: inv.caseCode,
        link: view.links.landing,
        organization: campaign.organization,
        expiresAt: inv.expiresAt.toISOString().slice(0, 10),
      },
    };
  }

  async recordZns(ref: string, outcome: { sentAt: number } | { problem: string }): Promise<void> {
    await this.write(ref, () =>
      this.o.models.Invitation.updateOne(
        { _id: ref },
        { $set: 'sentAt' in outcome ? { znsSentAt: new Date(outcome.sentAt) } : { znsProblem: outcome.problem } },
      ),
    );
  }

  async recordZnsDelivered(ref: string, at: number): Promise<void> {
    await this.write(ref, () =>
      this.o.models.Invitation.updateOne({ _id: ref, znsDeliveredAt: { $exists: false } }, { $set: { znsDeliveredAt: new Date(at) } }),
    );
  }

  /**
   * A response was written: the invitation is used, in MongoDB and in its Redis copy. `opening`: when and by whom its
   * survey started, recorded as its opening if none was (its job lost with a process killed before queueing it, or not
   * run yet): the invitation is then counted opened once, whichever lands first.
   */
  async markCompleted(ref: string, at: number, opening?: { at: number; by: string }): Promise<void> {
    const { Invitation } = this.o.models;
    const open = { _id: ref, status: { $in: ['created', 'opened'] as Array<InvitationDoc['status']> } };
    const completed = { status: 'completed' as const, completedAt: new Date(at) };
    // The copy first (the ballot is stored by now): whoever sees the invitation completed in MongoDB then finds it so
    // when opening it. After the write and its count (which may wait for its turn), an opening in between was told
    // the survey was being answered on another account instead of already answered.
    await this.o.copies.setStatus(ref, 'completed');
    const unopened = await this.write(ref, async () => {
      // Nearly always one write: the opening was recorded a second after it.
      const done = await Invitation.updateOne({ ...open, ...(opening ? { openedAt: { $exists: true } } : {}) }, { $set: completed });
      if (done.matchedCount || !opening) return null;
      return Invitation.findOneAndUpdate(
        { ...open, openedAt: { $exists: false } },
        { $set: { ...completed, openedAt: new Date(opening.at), openedBy: opening.by } },
      ).lean();
    });
    if (unopened && unopened.kind !== 'agency') await countInvitation(this.o.models, unopened, 'opened', (await this.currentCampaign()).timezone);
  }

  /** Forgets the phones and agency addressees of the campaign's invitations (its retention is over), each under its lock. */
  async forgetContacts(campaign: string): Promise<number> {
    const { Invitation } = this.o.models;
    let forgotten = 0;
    for await (const inv of Invitation.find({ campaign, ...WITH_CONTACTS }, { _id: 1 })
      .lean()
      .cursor()) {
      const ref = String(inv._id);
      const r = await this.write(ref, () => Invitation.updateOne({ _id: ref }, { $unset: { phoneEnc: 1, addresseeEnc: 1 } }));
      forgotten += r.modifiedCount;
    }
    return forgotten;
  }

  /** Marks the invitation expired if it is past its lifetime and still open. Returns whether it did. */
  async expire(ref: string): Promise<boolean> {
    const r = await this.write(ref, () => this.o.models.Invitation.updateOne({ _id: ref, ...this.pastLifetime() }, { $set: { status: 'expired' } }));
    return r.modifiedCount === 1;
  }

  /** Still open, and past its lifetime. */
  private pastLifetime() {
    return { status: { $in: OPEN_STATUSES }, expiresAt: { $lte: new Date(this.now()) } };
  }

  /** Marks every invitation past its lifetime as expired (the periodic sweep). Returns how many. */
  async expireDue(): Promise<number> {
    let expired = 0;
    // A query per open status: FerretDB hands an equality to PostgreSQL, so it reads the open invitations only (with
    // `$in` it read every invitation ever made, every 10 minutes); MongoDB reads the {status, expiresAt} index.
    for (const status of OPEN_STATUSES) {
      const due = await this.o.models.Invitation.find({ status, expiresAt: { $lte: new Date(this.now()) } }, { _id: 1 }).lean();
      // One by one under each invitation's lock (see write()), not one updateMany: an opening, a completion or a ZNS
      // record written at the same moment is kept whole.
      for (const { _id } of due) if (await this.expire(String(_id))) expired++;
    }
    return expired;
  }

  async statusOf(ref: string): Promise<string | undefined> {
    const inv = await this.o.models.Invitation.findById(ref, { status: 1, expiresAt: 1 }).lean();
    return inv ? this.effectiveStatus(inv as Pick<InvitationDoc, 'status' | 'expiresAt'>) : undefined;
  }
}

/** The Redis copy of an invitation document. */
export function copyOf(inv: InvitationDoc & { _id: unknown }): InvitationCopy {
  return {
    id: String(inv._id),
    flow: inv.flow,
    unit: inv.unit,
    unitName: inv.unitName ?? inv.unit,
    caseCode: inv.caseCode,
    ...(inv.respondentType ? { respondentType: inv.respondentType } : {}),
    ...(inv.ctx ? { ctx: inv.ctx as Record<string, string> } : {}),
    status: (inv.status ?? 'created') as InvitationCopy['status'],
    expiresAt: inv.expiresAt.getTime(),
    token: inv.token,
    code: inv.code,
    ...(inv.openedBy ? { claimedBy: inv.openedBy } : {}),
  };
}

function withTimeout<T>(p: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.resolve(p),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
