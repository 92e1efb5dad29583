// Floors of the predictive budget: small projects and rare transactions keep the share the bias-free models give them at the target; the large traffic pays for the biases.

import type { CandidateRates, CandidateRatesOf } from './org-budget';

/**
 * The ideal share, as Sentry's rebalancing means it: the rates the models hand out at the
 * organisation's target with no bias at all (the projects model, then the transactions model at
 * each project's rate). Floored are the classes the models raise: projects above the target
 * (small projects) and, in every project, transactions above the project's ideal rate (rare
 * transactions, the implicit rate included when it is raised).
 */
export interface IdealFloors {
  /** Projects the projects model raises above the target. */
  projects: ReadonlySet<number>;
  /** Per project: the ideal rate of each rare named transaction, and of the others when raised (else null). */
  transactions: ReadonlyMap<number, TransactionFloor>;
}

export interface TransactionFloor {
  named: ReadonlyMap<string, number>;
  implicit: number | null;
}

/**
 * How much of the floors the budget could hold (1 = all of them, 0 = none). Only when even the
 * lowest rate of the large traffic keeps more than the target: the rare transactions' floors give
 * way (whole: 0), then the small projects' (in part).
 */
export interface FloorLevels {
  projects: number;
  transactions: number;
}

export const FULL_FLOORS: FloorLevels = { projects: 1, transactions: 1 };

type NamedRates = ReadonlyArray<readonly [string, number]>;

function namedOf(rates: CandidateRates['transactionRates']): NamedRates {
  if (!rates) return [];
  return Array.isArray(rates.named) ? (rates.named as NamedRates) : Object.entries(rates.named);
}

/** The floors of the pipeline's bias-free rates at `target`. */
export function idealFloors(candidate: CandidateRatesOf, target: number): IdealFloors {
  const projects = new Set<number>();
  const transactions = new Map<number, TransactionFloor>();
  for (const [id, rates] of candidate(target)) {
    if (rates.projectRate > target) projects.add(id);
    const t = rates.transactionRates;
    if (!t) continue;
    const named = new Map(namedOf(t).filter(([, rate]) => rate > rates.projectRate));
    const implicit = t.implicit > rates.projectRate ? t.implicit : null;
    if (named.size > 0 || implicit !== null) transactions.set(id, { named, implicit });
  }
  return { projects, transactions };
}

/** A project's transaction floor scaled to `level` (null when nothing is floored). */
export function scaledFloor(floor: TransactionFloor | undefined, level: number): TransactionFloor | null {
  if (!floor || !(level > 0)) return null;
  return { named: new Map([...floor.named].map(([name, rate]) => [name, rate * level])), implicit: floor.implicit === null ? null : floor.implicit * level };
}

/** Raises rare transactions' rates to their floor. */
export function raiseToFloor(named: NamedRates, implicit: number, floor: TransactionFloor | null): { named: Array<[string, number]>; implicit: number } {
  if (!floor) return { named: named.map(([n, r]) => [n, r]), implicit };
  return {
    named: named.map(([name, rate]) => [name, Math.max(rate, floor.named.get(name) ?? 0)]),
    implicit: Math.max(implicit, floor.implicit ?? 0),
  };
}

/**
 * The candidate with the floors held at `levels`: a small project gets the rates the models give
 * at `max(rate, levels.projects × target)` (its rate and its transactions' rates stay consistent,
 * the models being monotone in the rate), every rare transaction at least `levels.transactions`
 * × its ideal rate. Monotone in the rate and in both levels, so it can be solved by bisection.
 */
export function withFloors(candidate: CandidateRatesOf, floors: IdealFloors, target: number, levels: FloorLevels): CandidateRatesOf {
  return (rate) => {
    const base = candidate(rate);
    const projectFloorRate = levels.projects * target;
    const raised = floors.projects.size > 0 && projectFloorRate > rate ? candidate(projectFloorRate) : null;
    const out = new Map<number, CandidateRates>();
    for (const [id, rates] of base) {
      const own = raised && floors.projects.has(id) ? (raised.get(id) ?? rates) : rates;
      const t = own.transactionRates;
      const floor = scaledFloor(floors.transactions.get(id), levels.transactions);
      out.set(id, { projectRate: own.projectRate, transactionRates: t && floor ? raiseToFloor(namedOf(t), t.implicit, floor) : t });
    }
    return out;
  };
}
