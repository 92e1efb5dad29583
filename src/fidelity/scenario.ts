// The skewed traffic of the fidelity run: one large project, small ones, health checks, rare transactions, streamed spans and one release per project.

import { letters } from '../demo/traffic';

/** The traffic of one project per cycle. */
export interface FidelityProject {
  id: number;
  slug: string;
  /** Share of the organisation's roots. */
  share: number;
  /** The main transactions `[name, weight]` (after health checks). */
  main: Array<[string, number]>;
  /** Rare transactions: how many names share `rareShare` of the non-health roots. */
  rareNames: number;
  rareShare: number;
}

export const HEALTH_TRANSACTION = '/healthz';
/** Share of every project's roots that are health checks. */
export const HEALTH_SHARE = 0.05;
/** Share of every group of roots sent as streamed segment spans (the rest as transactions). */
export const STREAMED_SHARE = 0.3;

/** 85% to one project (80% of it on one transaction, the rest on 150 rare names), three small projects at 5%. */
export const FIDELITY_PROJECTS: FidelityProject[] = [
  { id: 201, slug: 'shop', share: 0.85, main: [['/api/checkout', 1]], rareNames: 150, rareShare: 0.2 },
  { id: 202, slug: 'admin', share: 0.05, main: [['/admin', 0.6], ['/admin/users', 0.4]], rareNames: 0, rareShare: 0 },
  { id: 203, slug: 'billing', share: 0.05, main: [['/invoice', 0.7], ['/refund', 0.3]], rareNames: 0, rareShare: 0 },
  { id: 204, slug: 'worker', share: 0.05, main: [['task.process', 1]], rareNames: 0, rareShare: 0 },
];

/** One root to send. */
export interface PlannedRoot {
  projectId: number;
  transaction: string;
  kind: 'transaction' | 'segment';
  health: boolean;
  rare: boolean;
}

/** Splits `total` over `weights` (largest remainder): the counts sum to `total`. */
export function apportion(weights: readonly number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (w / sum) * total);
  const counts = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  const missing = total - counts.reduce((a, b) => a + b, 0);
  for (let k = 0; k < missing; k++) counts[order[k][1]]++;
  return counts;
}

/** The rare transaction names of a project (letters: Relay would scrub numeric segments into one name). */
export const rareName = (i: number): string => `/api/item/${letters(i)}`;

/**
 * The roots of one cycle, exactly apportioned (the same mix every cycle, so what moves is the
 * loop): per project its share, of it 5% health checks, the main and rare transactions, and in
 * every group 30% streamed segment spans.
 */
export function cycleRoots(rootsPerCycle: number): PlannedRoot[] {
  const out: PlannedRoot[] = [];
  const perProject = apportion(FIDELITY_PROJECTS.map((p) => p.share), rootsPerCycle);
  FIDELITY_PROJECTS.forEach((p, i) => {
    const n = perProject[i];
    const health = Math.round(n * HEALTH_SHARE);
    const rest = n - health;
    const rare = Math.round(rest * p.rareShare);
    const groups: Array<{ names: string[]; counts: number[]; health: boolean; rare: boolean }> = [
      { names: [HEALTH_TRANSACTION], counts: [health], health: true, rare: false },
      { names: p.main.map(([name]) => name), counts: apportion(p.main.map(([, w]) => w), rest - rare), health: false, rare: false },
    ];
    if (p.rareNames > 0) {
      const names = Array.from({ length: p.rareNames }, (_, k) => rareName(k));
      groups.push({ names, counts: apportion(names.map(() => 1), rare), health: false, rare: true });
    }
    for (const group of groups) {
      const total = group.counts.reduce((a, b) => a + b, 0);
      const streamed = Math.round(total * STREAMED_SHARE);
      let k = 0;
      group.names.forEach((transaction, j) => {
        for (let c = 0; c < group.counts[j]; c++, k++) {
          // Every group's roots alternate so that exactly `streamed` of them are segment spans.
          const kind = Math.floor(((k + 1) * streamed) / total) > Math.floor((k * streamed) / total) ? 'segment' : 'transaction';
          out.push({ projectId: p.id, transaction, kind, health: group.health, rare: group.rare });
        }
      });
    }
  });
  return out;
}
