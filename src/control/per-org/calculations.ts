// Per-org calculations (Sentry's per_org/calculations.py, paraphrased): project and transaction balancing, overrides, the capped recalibration factor.

import { rebalanceProjects, rebalanceTransactions } from '../../rules/models';
import type { RebalancedItem } from '../../rules/types';
import type { OrgBudget } from '../budget/org-budget';
import type { OrganizationDefinition } from '../definitions/types';
import type { TaskDeps } from '../tasks/common';
import type { PerOrgState } from './store';
import type { OrgTraffic } from './volumes';

/** Transaction balancing intensity of the per-org pipeline (a constant there, an option in the classic task). */
export const REBALANCE_INTENSITY = 0.8;
/** `MIN_REBALANCE_FACTOR`, `MAX_REBALANCE_FACTOR` (inclusive bounds of a stored factor). */
export const MIN_FACTOR = 0.1;
export const MAX_FACTOR = 10;

/** Root volume of one project over the balancing window. */
export interface ProjectVolume {
  projectId: number;
  /** Roots seen (kept and dropped). */
  total: number;
  keep: number;
  /** Distinct transaction names. */
  numDistinctTransactions: number;
}

/** The largest transactions of one project, sorted by `(-count, name)`. */
export interface ProjectTransactionCounts {
  projectId: number;
  transactionCounts: Array<readonly [string, number]>;
}

/** Root volume of the organisation over the recalibration window (`OrganizationDataVolume`). */
export interface OrganizationVolume {
  total: number;
  /** Kept roots; null when not measured. */
  indexed: number | null;
}

/** What a base-rate solver gets: the organisation's rate, its active projects and their volumes. */
export interface BaseRateProblem {
  sampleRate: number;
  projectIds: readonly number[];
  /** Project id → roots (projects without traffic have 0). */
  counts: ReadonlyMap<number, number>;
}

/** What a solver may read besides the problem: the pass's organisation, traffic and stored results. */
export interface BaseRateContext {
  deps: TaskDeps;
  org: OrganizationDefinition;
  traffic: OrgTraffic;
  store: PerOrgState;
  /** Set by a solver that budgets the rate (reported with the pass). */
  budget?: OrgBudget;
}

/**
 * Splits the organisation's rate over its projects. The default follows `options.rateBudget`:
 * Sentry's projects model (`feedback`), or the predictive budget (`predictive`, see
 * `per-org/predictive.ts`); any other solver can be plugged in.
 */
export type BaseRateSolver = (problem: BaseRateProblem, context?: BaseRateContext) => RebalancedItem<number>[] | Promise<RebalancedItem<number>[]>;

/** `ProjectsRebalancingModel` with intensity 1: small projects saturate, the rest share the budget. */
export function projectsModel({ sampleRate, projectIds, counts }: BaseRateProblem): RebalancedItem<number>[] {
  return rebalanceProjects({ classes: projectIds.map((id) => ({ id, count: counts.get(id) ?? 0 })), sampleRate });
}

/** Sentry's solver: the projects model at the organisation's rate. */
export const projectsModelSolver: BaseRateSolver = (problem) => projectsModel(problem);

/**
 * `run_project_balancing`: rate 1.0 → every project at 1.0; no project with volume → nothing;
 * else the solver over all active projects (0 for those without volume).
 */
export async function balanceProjects(
  sampleRate: number,
  projectIds: readonly number[],
  volumes: readonly ProjectVolume[],
  solve: BaseRateSolver = projectsModelSolver,
  context?: BaseRateContext,
): Promise<RebalancedItem<number>[]> {
  const active = new Set(projectIds);
  const counts = new Map<number, number>();
  for (const v of volumes) if (active.has(v.projectId) && v.total > 0) counts.set(v.projectId, v.total);
  if (sampleRate === 1.0) return projectIds.map((id) => ({ id, count: counts.get(id) ?? 0, newSampleRate: 1.0 }));
  if (counts.size === 0) return [];
  return solve({ sampleRate, projectIds, counts }, context);
}

/**
 * Parses `dynamic-sampling.sample-rate-override-per-project` (stringified project id → rate):
 * entries whose id is not an integer or whose rate is not a number in [0, 1] are skipped.
 */
export function parseRateOverrides(option: Readonly<Record<string, unknown>> | null | undefined): Map<number, number> {
  const out = new Map<number, number>();
  for (const [key, rate] of Object.entries(option ?? {})) {
    if (!/^-?\d+$/.test(key) || typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) continue;
    out.set(Number(key), rate);
  }
  return out;
}

/** `apply_project_sample_rate_overrides`: a balanced project listed in the overrides gets that rate. */
export function applyRateOverrides(items: readonly RebalancedItem<number>[], overrides: ReadonlyMap<number, number>): RebalancedItem<number>[] {
  return items.map((item) => (overrides.has(item.id) ? { ...item, newSampleRate: overrides.get(item.id)! } : item));
}

/** Rebalanced transactions of one project: named rates (model order) and the rate of the rest. */
export interface TransactionBalance {
  named: RebalancedItem<string>[];
  implicit: number;
}

/**
 * `run_transaction_balancing`: per project with transaction counts, its rate (skipped when missing
 * or 1.0) spread over its transactions by the transactions model (intensity 0.8, the floor option).
 */
export function balanceTransactions(
  projectRates: ReadonlyMap<number, number | null>,
  volumes: readonly ProjectVolume[],
  transactions: readonly ProjectTransactionCounts[],
  minSampleRate: number,
): Map<number, TransactionBalance> {
  const byId = new Map(volumes.map((v) => [v.projectId, v]));
  const out = new Map<number, TransactionBalance>();
  for (const entry of transactions) {
    const volume = byId.get(entry.projectId);
    const rate = projectRates.get(entry.projectId);
    if (!volume || rate === null || rate === undefined || rate === 1.0 || entry.transactionCounts.length === 0) continue;
    const { explicit, implicitRate } = rebalanceTransactions({
      classes: entry.transactionCounts.map(([id, count]) => ({ id, count })),
      sampleRate: rate,
      totalNumClasses: volume.numDistinctTransactions,
      total: volume.total,
      intensity: REBALANCE_INTENSITY,
      minSampleRate,
    });
    out.set(entry.projectId, { named: explicit, implicit: implicitRate });
  }
  return out;
}

/** `is_valid_for_recalibration`: something was seen and something was kept. */
export function isValidForRecalibration(volume: OrganizationVolume | null): volume is OrganizationVolume & { indexed: number } {
  return volume !== null && volume.total > 0 && volume.indexed !== null && volume.indexed > 0;
}

/**
 * `calculate_recalibration_factor`: `previous × target / effective`, the effective rate capped at
 * 1 (a kept count above the total must not push the factor up); null when it cannot be computed.
 */
export function recalibrationFactor(volume: OrganizationVolume | null, previous: number, target: number | null): number | null {
  if (target === null || target === 0 || previous === 0 || !isValidForRecalibration(volume)) return null;
  const effective = Math.min(1.0, volume.indexed / volume.total);
  return (previous * target) / effective;
}

/** A factor within bounds (`bounded_rebalance_factor`): clamped with the clamp option, else discarded (null). */
export function boundFactor(factor: number, clamp: boolean): { factor: number | null; clamped: boolean } {
  if (factor >= MIN_FACTOR && factor <= MAX_FACTOR) return { factor, clamped: false };
  if (!clamp) return { factor: null, clamped: false };
  return { factor: Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, factor)), clamped: true };
}
