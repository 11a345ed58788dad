// Satisfaction figures from the report counters (METHOD.md section 4), over
// ballots of any questionnaire version: each counter row is read with the
// questions of the version its ballots answered. A criterion is a question id
// (ids shared by versions mean the same criterion); answers marked `excluded`
// ("Không góp ý", "Không đủ thông tin") are left out of N.
import type { FlowRegistry } from '../engine/load.js';

export interface CounterRow {
  flow: string;
  q: string;
  value: string;
  n: number;
}

export interface CriterionTally {
  q: string;
  element: string | null;
  overall: boolean;
  /** Counts per answer value, excluded answers included. */
  counts: Record<string, number>;
  /** Ballots that rated it (excluded answers left out). */
  n: number;
  excluded: number;
  /** Answers in the scale's top two levels. */
  satisfied: number;
  /** Share in the scale's top two levels, percent, 2 decimals (HL%; for agencies Tốt + Khá). */
  rate: number | null;
  /** Mean level, 2 decimals. */
  mean: number | null;
}

export interface Tally {
  criteria: CriterionTally[];
  /** Per element: the mean of its criteria's rates. */
  elements: Array<{ code: string; rate: number | null }>;
  /** The mean of the elements' rates. */
  index: number | null;
  /** The overall question's rate. */
  overall: number | null;
  /** Satisfied answers over rated answers of every element criterion together, percent. */
  pooled: number | null;
}

/** Two decimals, as the reports print them. */
export const round2 = (x: number) => Math.round(x * 100) / 100;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

export function tally(rows: CounterRow[], flows: FlowRegistry): Tally {
  const byQ = new Map<string, CriterionTally & { top: Set<string>; sum: number; order: number }>();
  for (const row of rows) {
    const flow = flows.get(row.flow);
    const question = flow.questions[flow.indexOf.get(row.q) ?? -1];
    if (question?.type !== 'choice' || !(question.element || question.overall)) continue;
    const options = flow.optionsOf.get(row.q)!;
    const option = options.find((o) => String(o.value) === row.value);
    if (!option) continue;
    let c = byQ.get(row.q);
    if (!c) {
      // The scale's top two levels count as satisfied (Hài lòng + Rất hài lòng; Tốt + Khá).
      const levels = options.filter((o) => !o.excluded && typeof o.value === 'number').map((o) => o.value as number);
      const top = new Set(
        levels
          .sort((a, b) => b - a)
          .slice(0, 2)
          .map(String),
      );
      c = {
        // Ordered as the questionnaire asks them, whatever order the counters come in.
        order: flow.indexOf.get(row.q)!,
        q: row.q,
        element: question.element ?? null,
        overall: question.overall,
        counts: {},
        n: 0,
        excluded: 0,
        satisfied: 0,
        rate: null,
        mean: null,
        top,
        sum: 0,
      };
      byQ.set(row.q, c);
    }
    c.counts[row.value] = (c.counts[row.value] ?? 0) + row.n;
    if (option.excluded) c.excluded += row.n;
    else {
      c.n += row.n;
      c.sum += Number(option.value) * row.n;
    }
  }
  const sorted = [...byQ.values()].sort((a, b) => a.order - b.order || a.q.localeCompare(b.q));
  const elementOrder = [...new Set(sorted.flatMap((c) => (c.element ? [c.element] : [])))];
  const criteria: CriterionTally[] = sorted.map(({ top, sum, order: _order, ...c }) => {
    const satisfied = Object.entries(c.counts).reduce((a, [v, n]) => a + (top.has(v) ? n : 0), 0);
    return { ...c, satisfied, rate: c.n ? round2((satisfied / c.n) * 100) : null, mean: c.n ? round2(sum / c.n) : null };
  });
  const elements = elementOrder.map((code) => {
    const rates = criteria.filter((c) => c.element === code && c.rate !== null).map((c) => c.rate!);
    const m = mean(rates);
    return { code, rate: m === null ? null : round2(m) };
  });
  const index = mean(elements.filter((e) => e.rate !== null).map((e) => e.rate!));
  const scored = criteria.filter((c) => c.element);
  const rated = scored.reduce((a, c) => a + c.n, 0);
  return {
    criteria,
    elements,
    index: index === null ? null : round2(index),
    overall: criteria.find((c) => c.overall)?.rate ?? null,
    pooled: rated ? round2((scored.reduce((a, c) => a + c.satisfied, 0) / rated) * 100) : null,
  };
}
