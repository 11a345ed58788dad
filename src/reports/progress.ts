// Progress against quotas and deadlines (from the counters), the daily digest
// PV01 gets in their chat, report submissions against their deadlines, and the
// publication of per-unit results on the public page.

import { dayIn, dmy } from '../days.js';
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import { allocateQuotas, type Campaign } from '../invitations/campaign.js';
import { readCounters, type StoredCounter } from './counter-reads.js';
import { points, RELIABLE_N } from './forms.js';
import { countersCovering } from './spans.js';
import { tally } from './tally.js';

const DAY = 86_400_000;
const days = (a: string, b: string) => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY);

export interface UnitProgress {
  unit: string;
  name: string;
  field: string;
  target: number;
  completed: number;
  /** What should be in by today, at an even pace from the start to the "surveys done" deadline. */
  expected: number;
  behind: boolean;
}

export class Progress {
  constructor(
    private readonly models: Models,
    private readonly flows: FlowRegistry,
  ) {}

  private rows(campaign: Campaign): Promise<readonly StoredCounter[]> {
    return readCounters(this.models, { campaign: campaign.id, ...countersCovering() });
  }

  async of(campaign: Campaign, now: number) {
    const today = dayIn(campaign.timezone, now);
    const rows = (await this.rows(campaign)).filter((r) => !r.rtype.startsWith('agency-'));
    const done = campaign.deadlines.find((d) => d.code === 'surveys-done')?.date ?? campaign.period.to;
    const share = Math.min(1, Math.max(0, days(campaign.period.from, today) / Math.max(1, days(campaign.period.from, done))));
    const units: UnitProgress[] = allocateQuotas(campaign).map((a) => {
      const completed = rows.filter((r) => r.unit === a.unit && r.field === a.field && r.q === 'consent').reduce((s, r) => s + r.n, 0);
      const expected = Math.floor(a.target * share);
      return {
        unit: a.unit,
        name: campaign.units.find((u) => u.code === a.unit)?.name ?? a.unit,
        field: a.field,
        target: a.target,
        completed,
        expected,
        behind: completed < expected,
      };
    });
    const deadlines = campaign.deadlines.map((d) => ({ ...d, daysLeft: days(today, d.date) }));
    return { today, units, deadlines, behind: units.filter((u) => u.behind) };
  }

  /** The daily digest: totals, the units behind, the open alerts and the next deadline. */
  async digest(campaign: Campaign, now: number): Promise<string> {
    const p = await this.of(campaign, now);
    const completed = p.units.reduce((s, u) => s + u.completed, 0);
    const target = p.units.reduce((s, u) => s + u.target, 0);
    const alerts = await this.models.Alert.countDocuments({ campaign: campaign.id, handledAt: { $exists: false } });
    const next = p.deadlines.filter((d) => d.daysLeft >= 0).sort((a, b) => a.daysLeft - b.daysLeft)[0];
    const behindUnits = [...new Set(p.behind.map((u) => u.name))];
    return [
      `Tổng hợp ngày ${dmy(p.today)} - ${campaign.name}`,
      `Phiếu hợp lệ: ${completed}/${target} (${target ? Math.round((completed / target) * 100) : 0}% chỉ tiêu)`,
      behindUnits.length ? `Đơn vị chậm tiến độ (${behindUnits.length}): ${behindUnits.slice(0, 20).join('; ')}` : 'Không có đơn vị chậm tiến độ.',
      `Cảnh báo chưa xử lý: ${alerts}`,
      next ? `Hạn gần nhất: ${next.label} (${dmy(next.date)}, còn ${next.daysLeft} ngày)` : 'Đã qua mọi thời hạn của đợt khảo sát.',
    ].join('\n');
  }

  /** PV01 sent a report: the time, against the campaign's deadline for that form (late reports get no points). */
  async submit(campaign: Campaign, form: 'form-01' | 'form-02', unit: string | undefined, by: string, now: number) {
    const deadline = campaign.deadlines.find((d) => d.code === form)?.date;
    const late = !!deadline && dayIn(campaign.timezone, now) > deadline;
    const doc = await this.models.ReportSubmission.create({ campaign: campaign.id, form, unit, at: new Date(now), deadline, late, by });
    return { id: String(doc._id), form, unit: unit ?? null, at: doc.at.toISOString(), deadline: deadline ?? null, late };
  }

  async submissions(campaign: Campaign) {
    return (await this.models.ReportSubmission.find({ campaign: campaign.id }).sort({ at: 1 }).lean()).map((s) => ({
      form: s.form,
      unit: s.unit ?? null,
      at: s.at.toISOString(),
      deadline: s.deadline ?? null,
      late: !!s.late,
    }));
  }

  /** The per-unit results as they will be public: rate, points, N; a unit with too few ballots shows no figure. */
  async publicRows(campaign: Campaign) {
    const rows = (await this.rows(campaign)).filter((r) => !r.rtype.startsWith('agency-'));
    return campaign.units
      .filter((u) => u.fields.length)
      .map((u) => {
        const mine = rows.filter((r) => r.unit === u.code);
        const n = mine.filter((r) => r.q === 'consent').reduce((s, r) => s + r.n, 0);
        if (n < RELIABLE_N) return { unit: u.code, name: u.name, n, rate: null, points: null };
        const t = tally(mine, this.flows);
        return { unit: u.code, name: u.name, n, rate: t.index, points: points(campaign, t)[0]?.points ?? null };
      });
  }

  async publish(campaign: Campaign, by: string, now: number) {
    const rows = await this.publicRows(campaign);
    await this.models.Publication.updateOne({ _id: campaign.id }, { $set: { at: new Date(now), by, rows } }, { upsert: true });
    return { campaign: campaign.id, at: new Date(now).toISOString(), rows };
  }

  async published(campaignId: string) {
    return this.models.Publication.findById(campaignId).lean();
  }
}
