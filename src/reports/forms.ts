// Mẫu 01 (citizens' and organizations' satisfaction) and Mẫu 02 (agencies'
// opinion), METHOD.md sections 4 and 6. Satisfaction figures come from the
// counters, and table A's invitations from their counts, both kept per unit and
// field for the whole campaign, each month and each day: a report over the
// period or whole months reads as many rows for a million ballots as for ten
// thousand. Ballots invalidated by post-audit are counted with the invitations,
// and the comments come from samples of bounded size kept at completion. Only
// a date range's comments read ballots: at most 2,000, selected by equality.

import { readFrom } from '../campaign-rows.js';
import { dayIn } from '../days.js';
import type { Models } from '../db.js';
import type { FlowRegistry } from '../engine/load.js';
import { allocateQuotas, type Campaign, unitAndBelow } from '../invitations/campaign.js';
import { countCollections } from '../invitations/counts.js';
import { COMMENT_LIMIT, commentsOf } from '../responses/comment-samples.js';
import { readCounters, type StoredCounter } from './counter-reads.js';
import { countersCovering } from './spans.js';
import { type CounterRow, round2, type Tally, tally } from './tally.js';

/** Cells with fewer answers than this are marked "không đủ tin cậy". */
export const RELIABLE_N = 5;
export const UNRELIABLE = 'không đủ tin cậy';
/** The agency levels, as the reports name them. */
const LEVEL_NAME: Record<string, string> = { province: 'Cấp tỉnh', district: 'Cấp huyện', commune: 'Cấp xã' };
const reliability = (n: number) => (n < RELIABLE_N ? UNRELIABLE : '');

export interface ReportQuery {
  /** A unit: its own figures, with the units under it as sub-rows. Absent: the whole campaign. */
  unit?: string;
  from?: string;
  to?: string;
}

export class Reports {
  constructor(
    private readonly models: Models,
    private readonly flows: FlowRegistry,
  ) {}

  /**
   * The counter rows of the units (all: null) over the query's span. One query
   * per unit, by equality: FerretDB hands equality to PostgreSQL but evaluates
   * `$in` row by row (at 1,000,000 ballots 190 ms against 470 ms for one unit).
   */
  private async counters(campaign: Campaign, units: string[] | null, q: ReportQuery): Promise<StoredCounter[]> {
    const span = countersCovering(q.from, q.to);
    const found = await Promise.all(
      (units ?? [undefined]).map((unit) => readCounters(this.models, { campaign: campaign.id, ...(unit ? { unit } : {}), ...span })),
    );
    return found.flat().filter((r) => (r.n ?? 0) > 0);
  }

  private summary(rows: CounterRow[]) {
    const t = tally(rows, this.flows);
    const ballots = rows.filter((r) => r.q === 'consent').reduce((a, r) => a + r.n, 0);
    return { t, ballots };
  }

  async form01(campaign: Campaign, q: ReportQuery) {
    const scope = q.unit ? [q.unit] : campaign.units.filter((u) => u.fields.length).map((u) => u.code);
    const subUnits = q.unit ? [...unitAndBelow(campaign, q.unit)].filter((u) => u !== q.unit) : scope;
    const all = (await this.counters(campaign, q.unit ? [q.unit, ...subUnits] : null, q)).filter((r) => !r.rtype.startsWith('agency-'));
    const rows = all.filter((r) => scope.includes(r.unit));
    const { t, ballots } = this.summary(rows);
    const fieldName = new Map(campaign.fields.map((f) => [f.code, f.name]));

    // A. Per field: invitations against targets (from their counts), and what came back.
    // By equality, as the counters: the unit's rows, or the campaign's (only units with fields have case invitations).
    const span = countersCovering(q.from, q.to);
    const invitationCounts = (
      await readFrom(countCollections(this.models), span)
        .find({ campaign: campaign.id, ...(q.unit ? { unit: q.unit } : {}), ...span })
        .lean()
    ).filter((c) => scope.includes(c.unit ?? ''));
    const fields = [...new Set(campaign.units.filter((u) => scope.includes(u.code)).flatMap((u) => u.fields))];
    const targets = allocateQuotas(campaign).filter((a) => scope.includes(a.unit));
    const A = fields.map((field) => {
      const ofField = invitationCounts.filter((c) => c.field === field);
      const createdN = ofField.reduce((n, c) => n + (c.created ?? 0), 0);
      const openedN = ofField.reduce((n, c) => n + (c.opened ?? 0), 0);
      const invalidatedN = ofField.reduce((n, c) => n + (c.invalidated ?? 0), 0);
      const valid = rows.filter((r) => r.field === field && r.q === 'consent').reduce((a, r) => a + r.n, 0);
      const completed = valid + invalidatedN;
      return {
        field: fieldName.get(field) ?? field,
        target: targets.filter((a) => a.field === field).reduce((s, a) => s + a.target, 0),
        created: createdN,
        opened: openedN,
        completed,
        invalidated: invalidatedN,
        valid,
        responseRate: createdN ? round2((completed / createdN) * 100) : null,
      };
    });

    // B. Per criterion; C. per element and overall.
    const textOf = (qid: string) => {
      for (const f of this.flows.all()) {
        const question = f.questions[f.indexOf.get(qid) ?? -1];
        if (question && f.id === 'citizen-satisfaction') return question.text;
      }
      return qid;
    };
    const elementName = new Map(this.flows.all().flatMap((f) => f.elements.map((e) => [e.code, e.name] as const)));
    const B = t.criteria.map((c) => ({
      criterion: textOf(c.q),
      element: c.overall ? 'Câu hỏi tổng quát' : (elementName.get(c.element ?? '') ?? ''),
      ...levelCounts(c, { n1: '1', n2: '2', n3: '3', n4: '4', n5: '5' }),
      n: c.n,
      excluded: c.excluded,
      rate: c.rate,
      mean: c.mean,
      reliability: reliability(c.n),
    }));
    const C = [
      ...t.elements.map((e) => ({ element: elementName.get(e.code) ?? e.code, rate: e.rate })),
      { element: 'Chỉ số hài lòng (trung bình các yếu tố)', rate: t.index },
      { element: 'Tỷ lệ hài lòng chung (gộp các tiêu chí)', rate: t.pooled },
      { element: 'Hài lòng chung (câu hỏi tổng quát)', rate: t.overall },
    ];

    // D. The same by respondent type, field and procedure.
    const split = (by: string, key: (r: StoredCounter) => string, name: (k: string) => string) =>
      [...new Set(rows.map(key))].sort().map((k) => {
        const s = this.summary(rows.filter((r) => key(r) === k));
        return { by, group: name(k), ballots: s.ballots, index: s.t.index, pooled: s.t.pooled, overall: s.t.overall, reliability: reliability(s.ballots) };
      });
    const procName = new Map(campaign.fields.flatMap((f) => f.procedures.map((p) => [p.code, p.name] as const)));
    const D = [
      ...split(
        'Đối tượng',
        (r) => r.rtype,
        (k) => ({ citizen: 'Người dân', organization: 'Tổ chức, doanh nghiệp' })[k] ?? 'Không rõ',
      ),
      ...split(
        'Lĩnh vực',
        (r) => r.field,
        (k) => fieldName.get(k) ?? k,
      ),
      ...split(
        'Thủ tục',
        (r) => r.proc,
        (k) => procName.get(k) ?? 'Khác (không theo danh mục)',
      ),
    ];

    // E. Yes/no observations, in the questionnaire's order (whatever order the rows come in).
    const observations = new Map<string, { yes: number; n: number; at: number }>();
    for (const r of rows) {
      const f = this.flows.get(r.flow);
      const at = f.indexOf.get(r.q) ?? -1;
      const question = f.questions[at];
      if (question?.type !== 'yesno' || !question.observation) continue;
      const o = observations.get(r.q) ?? { yes: 0, n: 0, at };
      o.n += r.n;
      if (r.value === 'yes') o.yes += r.n;
      observations.set(r.q, o);
    }
    const E = [...observations]
      .sort(([, a], [, b]) => a.at - b.at)
      .map(([qid, o]) => ({ observation: textOf(qid), yes: o.yes, n: o.n, percent: o.n ? round2((o.yes / o.n) * 100) : null }));

    // F. Comments, without identities.
    // The whole campaign: one query for all units (not one per unit).
    const F = await this.comments(campaign, q.unit ? scope : null, q, false);

    // G. Points for the reform ranking.
    const G = points(campaign, t);

    const units = q.unit
      ? subUnits
          .filter((u) => campaign.units.find((x) => x.code === u)?.fields.length)
          .map((u) => {
            const s = this.summary(all.filter((r) => r.unit === u));
            return {
              unit: campaign.units.find((x) => x.code === u)!.name,
              ballots: s.ballots,
              index: s.t.index,
              pooled: s.t.pooled,
              reliability: reliability(s.ballots),
            };
          })
      : [];
    const smallCells = B.filter((b) => b.n < RELIABLE_N).length + D.filter((d) => d.ballots < RELIABLE_N).length;
    return {
      form: 'form-01',
      campaign: campaign.id,
      unit: q.unit ?? null,
      unitName: q.unit ? campaign.units.find((u) => u.code === q.unit)?.name : campaign.organization,
      from: q.from ?? campaign.period.from,
      to: q.to ?? campaign.period.to,
      ballots,
      index: t.index,
      smallCells,
      tables: { 'form-01.A': A, 'form-01.B': B, 'form-01.C': C, 'form-01.D': D, 'form-01.E': E, 'form-01.F': F, 'form-01.G': G, 'form-01.units': units },
    };
  }

  async form02(campaign: Campaign, q: ReportQuery) {
    const units = q.unit ? [...unitAndBelow(campaign, q.unit)] : null;
    const rows = (await this.counters(campaign, units, q)).filter((r) => r.rtype.startsWith('agency-'));
    const { t, ballots } = this.summary(rows);
    const unitName = new Map(campaign.units.map((u) => [u.code, u.name]));
    const invs = await this.models.Invitation.find(
      { campaign: campaign.id, kind: 'agency', ...(units ? { unit: { $in: units } } : {}) },
      { agency: 1, status: 1, completedAt: 1, unit: 1 },
    ).lean();
    const agencies = campaign.agencies
      .filter((a) => !units || units.includes(a.assesses))
      .map((a) => {
        const mine = invs.filter((i) => i.agency === a.code);
        const received = mine.filter((i) => i.status === 'completed');
        const last = received.map((i) => i.completedAt?.getTime() ?? 0).sort((x, y) => y - x)[0];
        return {
          agency: a.name,
          level: LEVEL_NAME[a.level] ?? a.level,
          unit: unitName.get(a.assesses) ?? a.assesses,
          sent: mine.length,
          received: received.length,
          receivedOn: last ? dayIn(campaign.timezone, last) : null,
        };
      });
    const areaName = new Map(this.flows.all().flatMap((f) => (f.id === 'agency-opinion' ? f.elements.map((e) => [e.code, e.name] as const) : [])));
    const areas = t.criteria
      .filter((c) => c.element)
      .map((c) => ({
        area: areaName.get(c.element!) ?? c.q,
        ...levelCounts(c, { good: '4', fair: '3', average: '2', poor: '1' }),
        noInfo: c.excluded,
        n: c.n,
        rate: c.rate,
        reliability: reliability(c.n),
      }));
    const meanOfAreas = areas.filter((a) => a.rate !== null).map((a) => a.rate!);
    const split = (by: string, key: (r: StoredCounter) => string, name: (k: string) => string) =>
      [...new Set(rows.map(key))].sort().map((k) => {
        const s = this.summary(rows.filter((r) => key(r) === k));
        const rates = s.t.criteria.filter((c) => c.element && c.rate !== null).map((c) => c.rate!);
        return {
          by,
          group: name(k),
          ballots: s.ballots,
          mean: rates.length ? round2(rates.reduce((a, b) => a + b, 0) / rates.length) : null,
          pooled: s.t.pooled,
        };
      });
    const period = campaign.opinionPeriod ?? campaign.period;
    return {
      form: 'form-02',
      campaign: campaign.id,
      unit: q.unit ?? null,
      period,
      ballots,
      mean: meanOfAreas.length ? round2(meanOfAreas.reduce((a, b) => a + b, 0) / meanOfAreas.length) : null,
      pooled: t.pooled,
      tables: {
        'form-02.agencies': agencies,
        'form-02.areas': areas,
        'form-02.splits': [
          ...split(
            'Cấp cơ quan',
            (r) => r.rtype.slice('agency-'.length),
            (k) => LEVEL_NAME[k] ?? k,
          ),
          ...split(
            'Đơn vị được đánh giá',
            (r) => r.unit,
            (k) => unitName.get(k) ?? k,
          ),
        ],
        'form-02.comments': await this.comments(campaign, units, q, true),
      },
    };
  }

  /**
   * Free-text answers with their field (or agency level) and date; never the
   * case, the chat or the respondent. At most the first COMMENT_LIMIT ballots
   * with a free-text answer, then by date. Without a date range from the
   * comment samples kept at completion (bounded, see
   * ../responses/comment-samples.ts); with one, from the ballots, selected by
   * equality on their `commented` mark, one query per unit.
   */
  private async comments(campaign: Campaign, units: string[] | null, q: ReportQuery, agency: boolean) {
    const kind = agency ? 'agency' : 'citizen';
    const ranged = Boolean(q.from || q.to);
    const found = await Promise.all(
      (units ?? ['']).map(async (unit) => {
        if (!ranged) return this.models.CommentSample.find({ campaign: campaign.id, kind, scope: unit }).limit(COMMENT_LIMIT).lean();
        const ballots = await this.models.Response.find(
          {
            campaign: campaign.id,
            commented: true,
            status: 'valid' as const,
            kind,
            ...(unit ? { unit } : {}),
            day: { ...(q.from ? { $gte: q.from } : {}), ...(q.to ? { $lte: q.to } : {}) },
          },
          { answers: 1, field: 1, day: 1, rtype: 1, flow: 1, flowVersion: 1 },
        )
          .limit(COMMENT_LIMIT)
          .lean();
        return ballots.map((r) => ({ ...r, texts: commentsOf(this.flows.get(`${r.flow}@${r.flowVersion}`), r.answers) }));
      }),
    );
    const sampled = found
      .flat()
      .slice(0, COMMENT_LIMIT)
      .sort((a, b) => (a.day ?? '').localeCompare(b.day ?? ''));
    const fieldName = new Map(campaign.fields.map((f) => [f.code, f.name]));
    return sampled.flatMap((r) => {
      const flow = this.flows.get(`${r.flow}@${r.flowVersion}`);
      return r.texts.map((a) =>
        agency
          ? { date: r.day ?? '', level: LEVEL_NAME[(r.rtype ?? '').replace(/^agency-/, '')] ?? '', text: String(a.text) }
          : {
              date: r.day ?? '',
              field: fieldName.get(r.field ?? '') ?? r.field ?? '',
              question: flow.questions[flow.indexOf.get(a.q ?? '') ?? -1]?.text ?? '',
              text: String(a.text),
            },
      );
    });
  }

  /** The per-ballot attachment ("gửi kèm phiếu"): each valid or invalidated ballot's answers, without identities. */
  async ballots(campaign: Campaign, q: ReportQuery) {
    const units = q.unit ? [q.unit] : null;
    const responses = await this.models.Response.find(
      {
        campaign: campaign.id,
        kind: { $ne: 'agency' },
        ...(units ? { unit: { $in: units } } : {}),
        ...(q.from || q.to ? { day: { ...(q.from ? { $gte: q.from } : {}), ...(q.to ? { $lte: q.to } : {}) } } : {}),
      },
      { unit: 1, field: 1, procedure: 1, day: 1, rtype: 1, status: 1, answers: 1 },
    )
      .sort({ day: 1, completedAt: 1 })
      .limit(100_000)
      .lean();
    const questions = [...new Set(responses.flatMap((r) => r.answers.map((a) => a.q)))].filter((x) => x !== 'consent');
    const rows = responses.map((r, i) => ({
      no: i + 1,
      unit: r.unit,
      field: r.field ?? '',
      procedure: r.procedure ?? '',
      date: r.day ?? '',
      respondentType: r.rtype ?? '',
      status: r.status === 'valid' ? 'Hợp lệ' : 'Bị loại',
      ...Object.fromEntries(questions.map((qid) => [qid, r.answers.find((a) => a.q === qid)?.value ?? ''])),
    }));
    return { questions, rows };
  }
}

/** A criterion's count per level, under the report's column keys ({n1: '1', ...} or {good: '4', ...}). */
function levelCounts(c: { counts: Record<string, number> }, columns: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(columns).map(([key, level]) => [key, c.counts[level] ?? 0]));
}

/** Table G: each scoring criterion's rate, and its points by the campaign's rule. */
export function points(campaign: Campaign, t: Pick<Tally, 'index' | 'pooled' | 'overall'>) {
  const s = campaign.scoring;
  return s.criteria.map((c) => {
    const rate = t[c.source];
    const rule = c.rule ?? s.rule;
    const max = c.maxPoints ?? s.maxPoints;
    let pts: number | null = null;
    if (rate !== null) {
      pts =
        rule === 'proportional' ? round2((max * rate) / 100) : ([...s.bands].sort((a, b) => b.minRate - a.minRate).find((b) => rate >= b.minRate)?.points ?? 0);
    }
    return {
      criterion: c.name,
      rate,
      maxPoints: max,
      rule: rule === 'proportional' ? 'Tỷ lệ thuận: điểm tối đa x tỷ lệ / 100' : 'Theo khung tỷ lệ',
      points: pts,
    };
  });
}
