// The post-audit draw (METHOD.md section 5), pure and reproducible: per unit
// n = min(N, max(minimum, ceil(rate x N))), split over the unit's fields in
// proportion to their ballots, and drawn within each field by weighted sampling
// without replacement (Efraimidis-Spirakis). Each ballot's random number comes
// from a hash of the seed and its id, so the same inputs and seed draw the same
// sample whatever order the ballots are read in.
import { createHash } from 'node:crypto';

export interface Ballot {
  id: string;
  unit: string;
  field: string;
  /** 1 without risk weighting. */
  weight: number;
}

export interface DrawParams {
  rate: number;
  minimum: number;
  seed: string;
}

export const sampleSize = (n: number, rate: number, minimum: number) => Math.min(n, Math.max(minimum, Math.ceil(rate * n)));

/** A number in (0, 1) for this seed and ballot. */
function uniform(seed: string, id: string): number {
  const h = createHash('sha256').update(`${seed}\u0000${id}`).digest();
  return (h.readUIntBE(0, 6) + 1) / (2 ** 48 + 2);
}

/** Splits `n` over groups of the given sizes in proportion, largest remainder first, never more than a group has. */
export function allocate(n: number, sizes: number[]): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (!total) return sizes.map(() => 0);
  const exact = sizes.map((s) => (n * s) / total);
  const out = exact.map((x, i) => Math.min(sizes[i]!, Math.floor(x)));
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  let left = n - out.reduce((a, b) => a + b, 0);
  while (left > 0) {
    const before = left;
    for (const [, i] of order) {
      if (left > 0 && out[i]! < sizes[i]!) {
        out[i]! += 1;
        left--;
      }
    }
    if (left === before) break;
  }
  return out;
}

/** The drawn ballot ids, per unit (stratified by field within the unit). */
export function draw(ballots: Ballot[], p: DrawParams): Map<string, string[]> {
  const byUnit = new Map<string, Map<string, Ballot[]>>();
  for (const b of ballots) {
    const fields = byUnit.get(b.unit) ?? new Map<string, Ballot[]>();
    byUnit.set(b.unit, fields);
    fields.set(b.field, [...(fields.get(b.field) ?? []), b]);
  }
  const out = new Map<string, string[]>();
  for (const [unit, fields] of [...byUnit].sort(([a], [b]) => a.localeCompare(b))) {
    const strata = [...fields].sort(([a], [b]) => a.localeCompare(b));
    const n = sampleSize(
      strata.reduce((a, [, bs]) => a + bs.length, 0),
      p.rate,
      p.minimum,
    );
    const shares = allocate(
      n,
      strata.map(([, bs]) => bs.length),
    );
    const drawn: string[] = [];
    strata.forEach(([, bs], i) => {
      // Smallest -ln(u) / w first: a ballot of weight w is w times as likely to come before one of weight 1.
      const keyed = bs.map((b) => ({ id: b.id, key: -Math.log(uniform(p.seed, b.id)) / b.weight }));
      keyed.sort((a, b) => a.key - b.key || a.id.localeCompare(b.id));
      drawn.push(...keyed.slice(0, shares[i]).map((k) => k.id));
    });
    out.set(unit, drawn);
  }
  return out;
}
