// The post-audit draw: sizes, reproducibility, strata, and risk weighting in figures.
import { describe, expect, it } from 'vitest';
import { type BallotFacts, RISK_WEIGHT, riskSignals } from '../../src/audits/risk.js';
import { allocate, type Ballot, draw, sampleSize } from '../../src/audits/sampling.js';

const ballots = (unit: string, field: string, n: number, from = 0): Ballot[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${unit}-${field}-${from + i}`, unit, field, weight: 1 }));

describe('sample size per unit: min(N, max(minimum, ceil(rate x N)))', () => {
  it('gives the plan examples', () => {
    expect(sampleSize(25, 0.1, 3)).toBe(3);
    expect(sampleSize(47, 0.1, 3)).toBe(5);
    expect(sampleSize(2, 0.1, 3)).toBe(2);
    expect(sampleSize(0, 0.1, 3)).toBe(0);
    expect(sampleSize(200, 0.1, 3)).toBe(20);
  });

  it('draws that many per unit', () => {
    const drawn = draw([...ballots('A', 'xnc', 25), ...ballots('B', 'xnc', 47), ...ballots('C', 'xnc', 2)], { rate: 0.1, minimum: 3, seed: 's' });
    expect([drawn.get('A')!.length, drawn.get('B')!.length, drawn.get('C')!.length]).toEqual([3, 5, 2]);
  });
});

describe('the draw', () => {
  const all = [...ballots('A', 'xnc', 30), ...ballots('A', 'cu-tru', 10), ...ballots('B', 'pccc', 40)];

  it('is reproducible: the same inputs and seed draw the same sample, in any order; another seed another sample', () => {
    const one = draw(all, { rate: 0.1, minimum: 3, seed: 'seed-2024' });
    const again = draw([...all].reverse(), { rate: 0.1, minimum: 3, seed: 'seed-2024' });
    expect([...again]).toEqual([...one]);
    expect(draw(all, { rate: 0.1, minimum: 3, seed: 'another' }).get('A')).not.toEqual(one.get('A'));
  });

  it('is stratified by field within the unit, in proportion', () => {
    // Unit A: 40 ballots -> 4 drawn, 30 of passports and 10 of residence -> 3 and 1.
    const drawn = draw(all, { rate: 0.1, minimum: 3, seed: 'x' }).get('A')!;
    expect(drawn.filter((id) => id.includes('-xnc-')).length).toBe(3);
    expect(drawn.filter((id) => id.includes('-cu-tru-')).length).toBe(1);
    expect(allocate(5, [3, 1, 1])).toEqual([3, 1, 1]);
    expect(allocate(3, [10, 10, 10])).toEqual([1, 1, 1]);
    expect(allocate(4, [1, 9])).toEqual([0, 4]); // 0.4 and 3.6: the larger remainder wins
    expect(allocate(9, [2, 20])).toEqual([1, 8]);
  });
});

describe('risk signals and weighting', () => {
  it('finds each signal', () => {
    const base = { unit: 'A', createdBy: 'k1', invitationCreatedAt: 0, completedAt: 3600_000, durationSec: 300 };
    const facts: BallotFacts[] = [
      { ...base, id: 'ok', respondent: 'r1', answerVector: 'a=4' },
      { ...base, id: 'twice-1', respondent: 'r2', answerVector: 'a=5', createdBy: 'k2' },
      { ...base, id: 'twice-2', respondent: 'r2', answerVector: 'a=3', createdBy: 'k2' },
      { ...base, id: 'quick', respondent: 'r3', answerVector: 'a=2', completedAt: 60_000, durationSec: 20 },
      ...[1, 2, 3].map((i) => ({ ...base, id: `same-${i}`, respondent: `s${i}`, createdBy: 'k3', answerVector: 'a=5,b=5' })),
    ];
    const s = riskSignals(facts);
    expect(s.get('ok')).toEqual([]);
    expect(s.get('twice-1')).toEqual(['one-respondent-many-cases', 'same-chat-same-desk']);
    expect(s.get('quick')).toEqual(['completed-soon-after-creation', 'very-fast']);
    expect(s.get('same-2')).toEqual(['identical-answers-same-officer']);
  });

  it('raises the share of planted suspicious ballots drawn', () => {
    // 100 ballots of one unit, 10 planted with two signals each (weight 1 + 3 x 2 = 7); 10 drawn per audit, 50 audits.
    const planted = 10;
    const unit: Ballot[] = ballots('A', 'xnc', 100).map((b, i) => ({ ...b, weight: i < planted ? 1 + RISK_WEIGHT * 2 : 1 }));
    const unweighted = unit.map((b) => ({ ...b, weight: 1 }));
    let weightedDrawn = 0;
    let plainDrawn = 0;
    for (let s = 0; s < 50; s++) {
      const isPlanted = (id: string) => Number(id.split('-').at(-1)) < planted;
      weightedDrawn += draw(unit, { rate: 0.1, minimum: 3, seed: `s${s}` })
        .get('A')!
        .filter(isPlanted).length;
      plainDrawn += draw(unweighted, { rate: 0.1, minimum: 3, seed: `s${s}` })
        .get('A')!
        .filter(isPlanted).length;
    }
    // Without weighting K = 50 audits x 10 drawn x 10/100 planted = 50 expected.
    const expectedWithout = 50 * 10 * (planted / 100);
    expect(Math.abs(plainDrawn - expectedWithout)).toBeLessThan(20);
    // With it, planted ballots are drawn about 4 times as often (7 / (7 x 10 + 90) x 10 per draw, before depletion).
    expect(weightedDrawn).toBeGreaterThan(3 * expectedWithout);
    expect({ planted, expectedWithout, plainDrawn, weightedDrawn }).toMatchObject({ planted: 10, expectedWithout: 50 });
  });
});
