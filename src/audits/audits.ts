// Post-audit (hậu kiểm, phúc tra; METHOD.md section 5): PV01 draws a sample of
// valid ballots per unit, each respondent is asked again on the channel they
// used (ZNS to the phone when the chat window is closed), reminded after 24 h,
// and put on PV01's call list when no message reaches them. A denied ballot is
// invalidated and leaves the counters. Every step is a durable job.
import { randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { z } from 'zod';
import type { Respondent } from '../conversations/conversation.js';
import type { ConversationRunner } from '../conversations/runner.js';
import { decrypt } from '../crypto.js';
import { dayIn, dmy } from '../days.js';
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import { DomainError, type DomainErrorKind } from '../errors.js';
import type { Campaign } from '../invitations/campaign.js';
import { unitOf } from '../invitations/campaign.js';
import { type Actor, contactsKeptUntil, type Invitations } from '../invitations/invitations.js';
import type { KeyedLock } from '../keyed-lock.js';
import type { Queues } from '../queues/queues.js';
import { tally } from '../reports/tally.js';
import { recount } from '../responses/counters.js';
import { invalidateBallot, revalidateBallot } from '../responses/validity.js';
import { AUDIT_KINDS, type AuditDoc, type AuditItemDoc, OUTCOMES, type Outcome } from './models.js';
import { type BallotFacts, RISK_WEIGHT, riskSignals, weightingText } from './risk.js';
import { draw } from './sampling.js';

/** Verification conversations answer "a-<audit item id>", not an invitation. */
const AUDIT_REF = 'a-';
export const isAuditRef = (ref: string) => ref.startsWith(AUDIT_REF);

const REMIND_AFTER_MS = 24 * 3600_000;
const GIVE_UP_AFTER_MS = 48 * 3600_000;
/** An open audit is flagged this long before its deadline. */
const FLAG_BEFORE_DAYS = 3;

const code = z.string().regex(/^[A-Za-z0-9_-]{2,32}$/, 'codes are 2-32 characters of A-Z a-z 0-9 _ -');
export const createAuditBody = z.strictObject({
  campaign: code.optional(),
  kind: z.enum(AUDIT_KINDS).default('citizen'),
  units: z.array(code).min(1).max(1000).optional(),
  rate: z.number().gt(0).max(1).default(0.1),
  minimum: z.number().int().min(0).max(1000).default(3),
  seed: z.string().min(1).max(64).optional(),
  riskWeighting: z.boolean().default(false),
});
export const callOutcomeBody = z.strictObject({ outcome: z.enum(['confirmed', 'differs', 'denied', 'unreachable']), note: z.string().trim().min(1).max(1000) });
export const overrideBody = z.strictObject({ outcome: z.enum(OUTCOMES), reason: z.string().trim().min(1).max(1000) });

export class AuditError extends DomainError {
  override name = 'AuditError';
  constructor(kind: Exclude<DomainErrorKind, 'unavailable'>, code: string, message: string) {
    super(kind, code, message);
  }
}

export interface UnitResult {
  unit: string;
  /** Valid ballots when the sample was drawn. */
  validN: number;
  sampled: number;
  reached: number;
  confirmed: number;
  differing: number;
  denied: number;
  unreachable: number;
  blocked: number;
  pending: number;
  /** (denied + differing) / reached, percent. */
  problemRate: number | null;
  indexBefore: number | null;
  indexAfter: number | null;
}

export interface AuditsDeps {
  models: Models;
  flows: FlowRegistry;
  invitations: Invitations;
  runner: ConversationRunner;
  queues: Pick<Queues, 'addAuditStep' | 'addZnsSend'>;
  encryptionKey: Buffer;
  /** Whether a chat is known to refuse our messages (it blocked us). */
  isBlocked: (who: Respondent) => Promise<boolean>;
  /** Held per audit item around each of its writes (see `write`). */
  writeLock: KeyedLock;
  now: () => number;
}

type Item = AuditItemDoc & { _id: Types.ObjectId };

export class Audits {
  constructor(private readonly d: AuditsDeps) {}

  /** Draws the sample and starts the verification of each drawn ballot. */
  async create(body: z.infer<typeof createAuditBody>, actor: Actor) {
    const { models } = this.d;
    const campaign = await this.d.invitations.campaign(body.campaign);
    if (!campaign.flows.audit) throw new AuditError('invalid', 'no_audit_flow', `campaign ${campaign.id} has no post-audit questionnaire (flows.audit)`);
    const unknown = (body.units ?? []).filter((u) => !unitOf(campaign, u));
    if (unknown.length) throw new AuditError('invalid', 'unknown_unit', `units: unknown unit ${unknown.join(', ')} in campaign ${campaign.id}`);
    const responses = await models.Response.find(
      {
        campaign: campaign.id,
        status: 'valid',
        kind: body.kind === 'agency' ? 'agency' : { $ne: 'agency' },
        ...(body.units ? { unit: { $in: body.units } } : {}),
      },
      { invitationId: 1, unit: 1, field: 1, respondent: 1, completedAt: 1, durationSec: 1, answers: 1, channel: 1 },
    ).lean();
    const invitations = new Map(
      (await models.Invitation.find({ _id: { $in: responses.map((r) => r.invitationId) } }, { createdBy: 1, createdAt: 1 }).lean()).map((i) => [
        String(i._id),
        i,
      ]),
    );
    const facts: BallotFacts[] = responses.map((r) => {
      const inv = invitations.get(r.invitationId);
      return {
        id: r.invitationId,
        respondent: r.respondent,
        unit: r.unit,
        createdBy: inv?.createdBy ?? '',
        invitationCreatedAt: inv?.createdAt?.getTime() ?? 0,
        completedAt: r.completedAt.getTime(),
        durationSec: r.durationSec ?? 0,
        answerVector: r.answers
          .filter((a) => a.label != null)
          .map((a) => `${a.q}=${String(a.value)}`)
          .join(','),
      };
    });
    const risk = riskSignals(facts);
    const weight = (id: string) => (body.riskWeighting ? 1 + RISK_WEIGHT * risk.get(id)!.length : 1);
    const seed = body.seed ?? randomBytes(8).toString('hex');
    const drawn = draw(
      responses.map((r) => ({ id: r.invitationId, unit: r.unit, field: r.field ?? '', weight: weight(r.invitationId) })),
      { rate: body.rate, minimum: body.minimum, seed },
    );
    const byId = new Map(responses.map((r) => [r.invitationId, r]));
    const deadline = campaign.deadlines.find((x) => x.code === (body.kind === 'agency' ? 'audit-agency' : 'audit-citizen'))?.date;
    const audit = await models.Audit.create({
      campaign: campaign.id,
      kind: body.kind,
      units: body.units ?? [],
      rate: body.rate,
      minimum: body.minimum,
      seed,
      riskWeighting: body.riskWeighting,
      weighting: body.riskWeighting ? weightingText : 'every ballot weighs the same',
      ...(deadline ? { deadline } : {}),
      createdBy: actor.keyId,
      createdAt: new Date(this.d.now()),
    });
    const auditId = String(audit._id);
    const items = [...drawn.values()].flat().map((id) => {
      const r = byId.get(id)!;
      return {
        audit: auditId,
        invitationId: id,
        unit: r.unit,
        field: r.field ?? undefined,
        channel: r.channel,
        overallBefore: r.answers.find((a) => a.q === 'overall')?.value ?? null,
        risk: risk.get(id),
        weight: weight(id),
      };
    });
    const created = items.length ? await models.AuditItem.insertMany(items) : [];
    for (const item of created) await this.d.queues.addAuditStep('audit-ask', String(item._id));
    // The ballots' counts at the draw, for the report's "valid N" and "index before".
    return this.view(audit.toObject(), await this.progress(auditId));
  }

  private async progress(auditId: string) {
    const items = await this.d.models.AuditItem.find({ audit: auditId }, { state: 1, outcome: 1 }).lean();
    const count = (pred: (i: (typeof items)[number]) => boolean) => items.filter(pred).length;
    return {
      sampled: items.length,
      waiting: count((i) => i.state !== 'done' && i.state !== 'call'),
      onCallList: count((i) => i.state === 'call'),
      ...Object.fromEntries(OUTCOMES.map((o) => [o, count((i) => i.outcome === o)])),
    };
  }

  private view(a: AuditDoc & { _id: unknown }, progress: Record<string, number>) {
    const today = dayIn('Asia/Ho_Chi_Minh', this.d.now());
    const flagAfter = a.deadline ? new Date(Date.parse(`${a.deadline}T00:00:00Z`) - FLAG_BEFORE_DAYS * 86_400_000).toISOString().slice(0, 10) : undefined;
    return {
      id: String(a._id),
      campaign: a.campaign,
      kind: a.kind,
      units: a.units,
      rate: a.rate,
      minimum: a.minimum,
      seed: a.seed,
      riskWeighting: a.riskWeighting,
      weighting: a.weighting,
      deadline: a.deadline ?? null,
      status: a.status,
      /** Still open within 3 days of its deadline (or past it). */
      deadlineNear: a.status === 'open' && !!flagAfter && today >= flagAfter,
      createdAt: a.createdAt.toISOString(),
      progress,
    };
  }

  private async audit(id: string) {
    const a = Types.ObjectId.isValid(id) ? await this.d.models.Audit.findById(id).lean() : null;
    if (!a) throw new AuditError('not_found', 'not_found', 'audit not found');
    return a;
  }

  async list() {
    const audits = await this.d.models.Audit.find().sort({ createdAt: -1 }).limit(200).lean();
    return Promise.all(audits.map(async (a) => this.view(a, await this.progress(String(a._id)))));
  }

  async get(id: string) {
    const a = await this.audit(id);
    return { ...this.view(a, await this.progress(id)), units: await this.unitResults(a) };
  }

  /** Per unit: the sample's outcomes and the index before and after the ballots this audit invalidated. */
  async unitResults(a: AuditDoc & { _id: unknown }): Promise<UnitResult[]> {
    const auditId = String(a._id);
    const items = await this.d.models.AuditItem.find({ audit: auditId }).lean();
    const units = [...new Set(items.map((i) => i.unit))].sort();
    const responses = await this.d.models.Response.find({
      campaign: a.campaign,
      unit: { $in: units },
      kind: a.kind === 'agency' ? 'agency' : { $ne: 'agency' },
      $or: [{ status: 'valid' }, { invalidatedBy: auditId }],
    }).lean();
    return units.map((unit) => {
      const mine = items.filter((i) => i.unit === unit);
      const n = (o: Outcome) => mine.filter((i) => i.outcome === o).length;
      const reached = n('confirmed') + n('differs') + n('denied');
      const ballots = responses.filter((r) => r.unit === unit);
      const index = (rs: typeof ballots) =>
        tally(
          [...recount(rs).values()].map(({ n, row }) => ({ ...row, n })),
          this.d.flows,
        ).index;
      return {
        unit,
        validN: ballots.length,
        sampled: mine.length,
        reached,
        confirmed: n('confirmed'),
        differing: n('differs'),
        denied: n('denied'),
        unreachable: n('unreachable'),
        blocked: n('blocked'),
        pending: mine.filter((i) => !i.outcome).length,
        problemRate: reached ? Math.round(((n('denied') + n('differs')) / reached) * 10_000) / 100 : null,
        indexBefore: index(ballots),
        indexAfter: index(ballots.filter((r) => r.status === 'valid')),
      };
    });
  }

  // --- the verification of one ballot (follow-up jobs) ---

  /**
   * Writes one audit item under its lock. Its writers meet by design: the ask
   * job and the refused send that follows it, the citizen's answer and the
   * reminder, PV01 and a timeout. FerretDB (v1.24) updates by replacing the
   * whole document it read, so without the lock one of two writes at once is
   * lost (README, FerretDB).
   */
  private write<T>(item: Item, update: () => Promise<T>): Promise<T> {
    return this.d.writeLock.hold(String(item._id), update);
  }

  private async item(id: string): Promise<Item | null> {
    return Types.ObjectId.isValid(id) ? ((await this.d.models.AuditItem.findById(id).lean()) as Item | null) : null;
  }

  private async contactOf(item: Item): Promise<{ who?: Respondent; phone: boolean; completedAt?: Date; caseCode?: string; unitName?: string }> {
    const [r, inv] = await Promise.all([
      this.d.models.Response.findOne({ invitationId: item.invitationId }, { contactEnc: 1, completedAt: 1 }).lean(),
      this.d.models.Invitation.findById(item.invitationId, { phoneEnc: 1, caseCode: 1, unitName: 1, unit: 1 }).lean(),
    ]);
    const who = r?.contactEnc ? (JSON.parse(decrypt(this.d.encryptionKey, r.contactEnc)) as Respondent) : undefined;
    return { ...(who ? { who } : {}), phone: !!inv?.phoneEnc, completedAt: r?.completedAt, caseCode: inv?.caseCode, unitName: inv?.unitName ?? inv?.unit };
  }

  /** Runs one step; returns what it did (the job's return value). */
  async step(step: 'audit-ask' | 'audit-remind' | 'audit-timeout', itemId: string): Promise<string> {
    const item = await this.item(itemId);
    if (!item || item.state === 'done' || item.state === 'call') return 'stale';
    const c = await this.contactOf(item);
    const ref = AUDIT_REF + itemId;
    const now = this.d.now();
    if (step === 'audit-ask') {
      if (item.state !== 'pending') return 'stale';
      // The browser keeps no chat to write to; a blocked chat refuses us: a phone call is the way left.
      if (!c.who || c.who.channel === 'web') return this.noMessage(item, 'unreachable', c.phone);
      if (await this.d.isBlocked(c.who)) return this.noMessage(item, 'blocked', c.phone);
      const campaign = await this.d.invitations.campaign((await this.audit(item.audit)).campaign);
      const ctx = {
        unitName: c.unitName ?? item.unit,
        caseCode: c.caseCode ?? '',
        surveyDate: c.completedAt ? dmy(dayIn(campaign.timezone, c.completedAt.getTime())) : '',
      };
      const began = await this.d.runner.begin(c.who, { ref, flow: campaign.flows.audit!, ctx }, 'verification');
      if (began === 'busy') return 'busy';
      await this.write(item, () =>
        this.d.models.AuditItem.updateOne({ _id: item._id, state: 'pending' }, { $set: { state: 'asked', askedAt: new Date(now) } }),
      );
      await this.d.queues.addAuditStep('audit-remind', itemId, REMIND_AFTER_MS);
      await this.d.queues.addAuditStep('audit-timeout', itemId, GIVE_UP_AFTER_MS);
      return 'asked';
    }
    if (!c.who) return this.noMessage(item, 'unreachable', c.phone);
    if (step === 'audit-remind') {
      if (item.state !== 'asked') return 'stale';
      await this.d.runner.nudge(c.who, ref, 'tick', 'verification');
      await this.write(item, () =>
        this.d.models.AuditItem.updateOne({ _id: item._id, state: 'asked' }, { $set: { state: 'reminded', remindedAt: new Date(now) } }),
      );
      return 'reminded';
    }
    // No answer after the reminder: the chat question is closed, and the call list is the way left.
    await this.d.runner.nudge(c.who, ref, 'expire');
    return this.noMessage(item, (await this.d.isBlocked(c.who)) ? 'blocked' : 'unreachable', c.phone);
  }

  /** No message reached the respondent: on the call list when a phone is known, else done. */
  private async noMessage(item: Item, outcome: 'unreachable' | 'blocked', phone: boolean): Promise<string> {
    await this.write(item, () =>
      this.d.models.AuditItem.updateOne(
        { _id: item._id, state: { $in: ['pending', 'asked', 'reminded'] } },
        { $set: { outcome, state: phone ? 'call' : 'done', ...(phone ? {} : { closedAt: new Date(this.d.now()) }) } },
      ),
    );
    await this.closeIfDone(item.audit);
    return phone ? 'call' : outcome;
  }

  /** The platform refused the verification (window closed): the ZNS verification template goes to the phone, if any. */
  async windowClosed(ref: string): Promise<void> {
    const item = await this.item(ref.slice(AUDIT_REF.length));
    if (!item) return;
    await this.d.queues.addZnsSend('verification', item.invitationId);
    await this.write(item, () => this.d.models.AuditItem.updateOne({ _id: item._id }, { $set: { znsAt: new Date(this.d.now()) } }));
  }

  /** The verification conversation finished: its outcome, and a denied ballot invalidated. */
  async recordAnswer(ref: string, answers: Record<string, string | number | null>): Promise<Outcome | 'stale'> {
    const item = await this.item(ref.slice(AUDIT_REF.length));
    if (!item) return 'stale';
    const outcome = outcomeOf(answers, item.overallBefore);
    const done = await this.write(item, () =>
      this.d.models.AuditItem.findOneAndUpdate(
        { _id: item._id, state: { $in: ['pending', 'asked', 'reminded'] } },
        { $set: { state: 'done', outcome, outcomeBy: 'chat', answers, closedAt: new Date(this.d.now()) } },
      ).lean(),
    );
    if (!done) return 'stale';
    if (outcome === 'denied') await invalidateBallot(this.d.models, item.invitationId, 'denied at post-audit verification', item.audit);
    await this.closeIfDone(item.audit);
    return outcome;
  }

  /** The outcome came another way: the verification question still open in the chat is closed, so the chat is free again. */
  private async closeChat(item: Item) {
    const { who } = await this.contactOf(item);
    if (who && who.channel !== 'web') await this.d.runner.nudge(who, AUDIT_REF + String(item._id), 'expire');
  }

  private async closeIfDone(auditId: string) {
    const open = await this.d.models.AuditItem.countDocuments({ audit: auditId, state: { $ne: 'done' } });
    if (!open) await this.d.models.Audit.updateOne({ _id: auditId }, { $set: { status: 'closed' } });
  }

  // --- PV01 ---

  /** The sampled ballots and where each stands; no phone (those are on the call list only, whose reads are logged). */
  async items(auditId: string) {
    await this.audit(auditId);
    const items = await this.d.models.AuditItem.find({ audit: auditId }).sort({ unit: 1, _id: 1 }).lean();
    return (await this.withCases(items)).map(({ item: i, seen }) => ({
      ...seen,
      risk: i.risk,
      state: i.state,
      outcome: i.outcome ?? null,
      outcomeBy: i.outcomeBy ?? null,
      note: i.note ?? null,
    }));
  }

  /** The respondents to call, with their phones (each read is logged by the caller). */
  async calls(auditId: string) {
    await this.audit(auditId);
    const items = await this.d.models.AuditItem.find({ audit: auditId, state: 'call' }).lean();
    return (await this.withCases(items)).map(({ item: i, seen, phoneEnc }) => ({
      ...seen,
      why: i.outcome,
      phone: phoneEnc ? decrypt(this.d.encryptionKey, phoneEnc) : null,
    }));
  }

  /** Each item with what PV01 sees of it (its case, unit, channel) and its invitation's phone, still encrypted. */
  private async withCases(items: Item[]) {
    const invs = await this.d.models.Invitation.find({ _id: { $in: items.map((i) => i.invitationId) } }, { caseCode: 1, unitName: 1, phoneEnc: 1 }).lean();
    const byId = new Map(invs.map((i) => [String(i._id), i]));
    return items.map((item) => {
      const inv = byId.get(item.invitationId);
      const seen = {
        item: String(item._id),
        unit: item.unit,
        unitName: inv?.unitName ?? item.unit,
        caseCode: inv?.caseCode ?? null,
        channel: item.channel ?? null,
      };
      return { item, seen, phoneEnc: inv?.phoneEnc };
    });
  }

  /** PV01 called the respondent. */
  async recordCall(auditId: string, itemId: string, body: z.infer<typeof callOutcomeBody>) {
    const item = await this.item(itemId);
    if (!item || item.audit !== auditId) throw new AuditError('not_found', 'not_found', 'audit item not found');
    // Only while on the call list, checked in the write itself (a timeout or an override may have closed it meanwhile).
    const called = await this.write(item, () =>
      this.d.models.AuditItem.updateOne(
        { _id: item._id, state: 'call' },
        { $set: { state: 'done', outcome: body.outcome, outcomeBy: 'call', note: body.note, closedAt: new Date(this.d.now()) } },
      ),
    );
    if (!called.matchedCount) throw new AuditError('conflict', 'not_on_call_list', 'this ballot is not on the call list');
    await this.closeChat(item);
    if (body.outcome === 'denied') await invalidateBallot(this.d.models, item.invitationId, 'denied on a post-audit call', auditId);
    await this.closeIfDone(auditId);
    return { item: itemId, outcome: body.outcome };
  }

  /** PV01 sets an outcome with its reason; a ballot leaves or rejoins the counts accordingly. */
  async override(auditId: string, itemId: string, body: z.infer<typeof overrideBody>) {
    const item = await this.item(itemId);
    if (!item || item.audit !== auditId) throw new AuditError('not_found', 'not_found', 'audit item not found');
    await this.write(item, () =>
      this.d.models.AuditItem.updateOne(
        { _id: item._id },
        { $set: { state: 'done', outcome: body.outcome, outcomeBy: 'override', note: body.reason, closedAt: new Date(this.d.now()) } },
      ),
    );
    await this.closeChat(item);
    if (body.outcome === 'denied') await invalidateBallot(this.d.models, item.invitationId, `denied by PV01: ${body.reason}`, auditId);
    else if (item.outcome === 'denied') await revalidateBallot(this.d.models, this.d.flows, item.invitationId);
    await this.closeIfDone(auditId);
    return { item: itemId, outcome: body.outcome, before: item.outcome ?? null };
  }

  /**
   * Forgets respondents' contacts (chat ids, phones, agency addressees) of every
   * campaign past its last deadline plus its retention period. Returns how many
   * documents lost them.
   */
  async purgeContacts(): Promise<number> {
    const { models } = this.d;
    let purged = 0;
    for (const doc of await models.Campaign.find({}, { data: 1 }).lean()) {
      const c = doc.data as Campaign;
      // Kept through the whole last day the consent names.
      if (dayIn(c.timezone, this.d.now()) <= contactsKeptUntil(c)) continue;
      const r1 = await models.Response.updateMany({ campaign: c.id, contactEnc: { $exists: true } }, { $unset: { contactEnc: 1 } });
      // Each invitation under its lock: its other writers may still be at work (FerretDB would lose one of two updates).
      purged += r1.modifiedCount + (await this.d.invitations.forgetContacts(c.id));
    }
    return purged;
  }
}

/** Denied when they did not take it; differs when the overall answer moved by more than one level. */
export function outcomeOf(answers: Record<string, unknown>, overallBefore: unknown): Outcome {
  if (answers.took_survey === 'no') return 'denied';
  const now = Number(answers.overall);
  const before = Number(overallBefore);
  return Number.isFinite(now) && Number.isFinite(before) && Math.abs(now - before) > 1 ? 'differs' : 'confirmed';
}
