// Generators of the closed-loop tests: skewed per-project traffic shapes, per-cycle tallies, stratified trace ids, and a bounded HTTP sender.

import { letters } from '../../src/demo/traffic';

export interface ProjectTraffic {
  id: number;
  slug: string;
  perCycle: number;
  /** [name, weight]; `small:N:prefix` expands to N small transactions sharing the weight. */
  transactions: Array<[string, number]>;
  healthShare: number;
  devShare: number;
}

/** The names and weights of a project's transactions, and which are the small ones. */
export function expand(t: ProjectTraffic): { names: string[]; weights: number[]; small: Set<string> } {
  const names: string[] = [];
  const weights: number[] = [];
  const small = new Set<string>();
  for (const [name, weight] of t.transactions) {
    const m = /^small:(\d+):(.*)$/.exec(name);
    if (!m) {
      names.push(name);
      weights.push(weight);
      continue;
    }
    const n = Number(m[1]);
    for (let i = 0; i < n; i++) {
      // Letters, not numbers: Relay scrubs numeric segments (`/api/report/12` → `/api/report/*`)
      // before rules match, which would merge the small transactions into one.
      const name = `${m[2]}${letters(i)}`;
      names.push(name);
      weights.push(weight / n);
      small.add(name);
    }
  }
  return { names, weights, small };
}

/** Kept count and applied-rate sum of a set of roots. */
export class Tally {
  total = 0;
  kept = 0;
  rateSum = 0;
  add(kept: boolean, rate: number): void {
    this.total += 1;
    if (kept) this.kept += 1;
    this.rateSum += rate;
  }
  get keptRate(): number {
    return this.total === 0 ? Number.NaN : this.kept / this.total;
  }
  get meanRate(): number {
    return this.total === 0 ? Number.NaN : this.rateSum / this.total;
  }
  static sum(tallies: Iterable<Tally>): Tally {
    const out = new Tally();
    for (const t of tallies) {
      out.total += t.total;
      out.kept += t.kept;
      out.rateSum += t.rateSum;
    }
    return out;
  }
}

export { StratifiedTraceIds } from '../../src/fidelity/trace-ids';
export { EnvelopeSender } from '../../src/fidelity/sender';
