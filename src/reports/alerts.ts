// Alerts: a ballot answering "yes" to harassment or to a payment outside the
// rules, or an overall 1, reaches PV01 at once (their configured chat, and the
// dashboard's inbox) with the unit, field, date and case reference, never who
// answered. PV01 marks an alert handled with a note.
import { Types } from 'mongoose';
import type { Models } from '../db.js';
import { DomainError } from '../errors.js';
import type { Campaign } from '../invitations/campaign.js';

export const ALERT_REASONS = {
  harassment: 'Người dân phản ánh cán bộ gây phiền hà, sách nhiễu',
  payment: 'Người dân phản ánh phải trả khoản chi ngoài quy định',
  overall: 'Người dân rất không hài lòng (câu hỏi tổng quát)',
} as const;
export type AlertReason = keyof typeof ALERT_REASONS;

export function alertReasons(answers: Array<{ q: string; value?: unknown }>): AlertReason[] {
  const v = (q: string) => answers.find((a) => a.q === q)?.value;
  const out: AlertReason[] = [];
  if (v('obs_harassment') === 'yes') out.push('harassment');
  if (v('obs_extra_payment') === 'yes') out.push('payment');
  if (v('overall') === 1) out.push('overall');
  return out;
}

/** Sends a text to PV01's chat (campaign `pv01Chat`); false when none is configured or its channel is off. */
export type NotifyPv01 = (campaign: Campaign, text: string) => Promise<boolean>;

export class Alerts {
  constructor(
    private readonly models: Models,
    private readonly campaignOf: (id: string) => Promise<Campaign | undefined>,
    private readonly notify: NotifyPv01,
  ) {}

  /** After a completion: raises the ballot's alert if it has a reason (once: the alert is keyed by the invitation). */
  async raise(invitationId: string): Promise<AlertReason[]> {
    const r = await this.models.Response.findOne({ invitationId }, { campaign: 1, unit: 1, field: 1, day: 1, caseCode: 1, answers: 1, kind: 1 }).lean();
    if (!r || r.kind === 'agency') return [];
    const reasons = alertReasons(r.answers);
    if (!reasons.length) return [];
    const created = await this.models.Alert.updateOne(
      { invitationId },
      { $setOnInsert: { campaign: r.campaign, unit: r.unit, field: r.field, day: r.day, caseCode: r.caseCode, reasons, at: new Date() } },
      { upsert: true },
    );
    if (!created.upsertedCount) return reasons; // a redelivered completion: already sent
    const campaign = await this.campaignOf(r.campaign);
    if (campaign) await this.notify(campaign, alertText(campaign, r, reasons));
    return reasons;
  }

  async open(campaign: string) {
    return this.models.Alert.find({ campaign, handledAt: { $exists: false } })
      .sort({ at: -1 })
      .limit(500)
      .lean();
  }

  async handle(id: string, by: string, note: string) {
    const a = Types.ObjectId.isValid(id)
      ? await this.models.Alert.findOneAndUpdate(
          { _id: id, handledAt: { $exists: false } },
          { $set: { handledAt: new Date(), handledBy: by, note } },
          { returnDocument: 'after' },
        ).lean()
      : null;
    if (!a) throw new DomainError('not_found', 'not_found', 'no open alert with this id');
    return a;
  }
}

function alertText(campaign: Campaign, r: { unit: string; field?: string | null; day?: string | null; caseCode?: string | null }, reasons: AlertReason[]) {
  const unit = campaign.units.find((u) => u.code === r.unit)?.name ?? r.unit;
  const field = campaign.fields.find((f) => f.code === r.field)?.name ?? r.field ?? '';
  return [
    `⚠️ CẢNH BÁO từ phiếu khảo sát (${campaign.organization})`,
    ...reasons.map((x) => `- ${ALERT_REASONS[x]}`),
    `Đơn vị: ${unit}`,
    `Lĩnh vực: ${field}`,
    `Ngày: ${r.day ?? ''}`,
    `Hồ sơ: ${r.caseCode ?? ''}`,
  ].join('\n');
}
