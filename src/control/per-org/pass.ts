// One per-org pass (Sentry's run_calculations_per_org): configuration, volumes, project and transaction balancing, recalibration, writes.

import type { RebalancedItem } from '../../rules/types';
import type { OrganizationDefinition } from '../definitions/types';
import { MINUTE_MS } from '../state/keys';
import type { TaskDeps } from '../tasks/common';
import {
  applyRateOverrides,
  balanceProjects,
  balanceTransactions,
  boundFactor,
  parseRateOverrides,
  recalibrationFactor,
  type BaseRateContext,
  type BaseRateSolver,
  type OrganizationVolume,
  type TransactionBalance,
} from './calculations';
import { classicComparisons } from './classic';
import type { Comparison } from './comparisons';
import { orgConfiguration, type OrgConfiguration } from './configuration';
import { rateBudgetSolver } from './predictive';
import type { FactorWrite, PerOrgState } from './store';
import type { OrgBudget } from '../budget/org-budget';
import { orgTraffic, orgVolume, type OrgTraffic } from './volumes';

/** Statuses of a pass (Sentry's `DynamicSamplingStatus` subset that applies here); `completed` when it ran to the end. */
export type PassStatus =
  | 'completed'
  | 'org_not_found'
  | 'org_has_no_dynamic_sampling'
  | 'org_has_no_projects'
  | 'no_org_volume'
  | 'no_project_volumes'
  | 'all_projects_at_full_sample_rate'
  | 'no_transaction_volumes'
  | 'killswitched'
  | 'not_in_rollout'
  | 'failed';

/**
 * Measures the organisation for recalibration (total and kept roots). The default reads the 5
 * minutes of root counts ending at the pass's minute; another measure can be plugged in.
 */
export type RecalibrationMeasure = (input: { deps: TaskDeps; configuration: OrgConfiguration; end: number }) => Promise<OrganizationVolume | null>;

export const countedRootsMeasure: RecalibrationMeasure = ({ deps, configuration, end }) => orgVolume(deps.counts, configuration.orgId, end);

/** The replaceable steps of a pass. */
export interface PassSteps {
  solveBaseRates: BaseRateSolver;
  measureRecalibration: RecalibrationMeasure;
}

/** Sentry's steps, except that `options.rateBudget: 'predictive'` makes the base-rate step budget for the served rules. */
export const DEFAULT_PASS_STEPS: PassSteps = { solveBaseRates: rateBudgetSolver, measureRecalibration: countedRootsMeasure };

/** What a pass computed (`DynamicSamplingResults`); null = the stage did not run. */
export interface PassResults {
  organizationVolume: OrganizationVolume | null;
  traffic: OrgTraffic | null;
  rebalancedProjects: RebalancedItem<number>[] | null;
  /** The predictive budget of the project balancing (null: the projects model got the organisation's rate). */
  budget: OrgBudget | null;
  rebalancedTransactions: Map<number, TransactionBalance> | null;
  /** The computed factor before bounds (null: not computed). */
  recalibrationFactor: number | null;
  factorWrite: FactorWrite;
  /** Whether the pass wrote anything (then the organisation's configs are invalidated). */
  wrote: boolean;
}

/** One pass as the control plane reports it: status, inputs, results, and how the classic tasks would differ. */
export interface PassReport {
  orgId: number;
  status: PassStatus;
  /** ms since the epoch. */
  at: number;
  kind: OrgConfiguration['kind'] | null;
  sampleRate: number | null;
  results: PassResults;
  comparisons: Comparison[];
  error?: string;
}

export const PER_ORG_TRIGGER = 'dynamic_sampling_per_org';

const emptyResults = (): PassResults => ({
  organizationVolume: null,
  traffic: null,
  rebalancedProjects: null,
  budget: null,
  rebalancedTransactions: null,
  recalibrationFactor: null,
  factorWrite: 'none',
  wrote: false,
});

/** Writes what the pass computed (factor, project rates, transaction rates) and invalidates the organisation once if anything was written. */
async function writeResults(deps: TaskDeps, store: PerOrgState, orgId: number, results: PassResults): Promise<void> {
  const factor = results.recalibrationFactor;
  results.factorWrite = await store.writeFactor(orgId, factor === null ? null : { value: factor, bounded: boundFactor(factor, deps.options.recalibrationClampFactor).factor });
  if (results.factorWrite === 'set' || results.factorWrite === 'deleted') deps.metrics.stateWrites.inc({ kind: results.factorWrite === 'set' ? 'factor' : 'factor_deleted' });
  const projectsChanged = results.rebalancedProjects ? await store.setProjectRates(orgId, results.rebalancedProjects) : false;
  if (projectsChanged) deps.metrics.stateWrites.inc({ kind: 'project_rate' });
  for (const [projectId, balance] of results.rebalancedTransactions ?? []) {
    await store.setTransactionRates(orgId, projectId, balance.named.map((item) => [item.id, item.newSampleRate] as const), balance.implicit);
    deps.metrics.stateWrites.inc({ kind: 'transaction_rates' });
  }
  results.wrote = results.factorWrite === 'set' || results.factorWrite === 'deleted' || projectsChanged || (results.rebalancedTransactions?.size ?? 0) > 0;
  if (results.wrote) await deps.invalidator.schedule(PER_ORG_TRIGGER, { organizationId: orgId });
}

/** The stages of a pass up to its first early return; fills `results`. */
async function computeStages(deps: TaskDeps, store: PerOrgState, steps: PassSteps, org: OrganizationDefinition, cfg: OrgConfiguration, results: PassResults, now: number): Promise<PassStatus> {
  const end = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  results.organizationVolume = await steps.measureRecalibration({ deps, configuration: cfg, end });
  if (results.organizationVolume === null) return 'no_org_volume';
  // Project and transaction volumes cover the hour up to now (the current minute included); only the org volume ends on a minute.
  const traffic = await orgTraffic(deps.counts, cfg.orgId, cfg.projectIds, end + MINUTE_MS, deps.options.numExplicitLargeTransactions);
  results.traffic = traffic;
  if (traffic.projectVolumes.length === 0) return 'no_project_volumes';
  if (cfg.balancesProjects && cfg.sampleRate !== null) {
    const context: BaseRateContext = { deps, org, traffic, store };
    const balanced = await balanceProjects(cfg.sampleRate, cfg.projectIds, traffic.projectVolumes, steps.solveBaseRates, context);
    results.budget = context.budget ?? null;
    results.rebalancedProjects = applyRateOverrides(balanced, parseRateOverrides(deps.options.sampleRateOverridePerProject));
    for (const item of results.rebalancedProjects) cfg.projectRates.set(item.id, item.newSampleRate);
  }
  if (!cfg.projectIds.some((id) => cfg.projectRates.get(id) !== 1.0)) return 'all_projects_at_full_sample_rate';
  if (traffic.transactionVolumes.length === 0) return 'no_transaction_volumes';
  results.rebalancedTransactions = balanceTransactions(cfg.projectRates, traffic.projectVolumes, traffic.transactionVolumes, deps.options.transactionsMinSampleRate);
  // Project mode has no organisation rate: no recalibration. A budgeted rate needs no factor on
  // top (it would count the correction twice): 1.0, stored as absence.
  if (results.budget) results.recalibrationFactor = 1.0;
  else if (cfg.sampleRate !== null) results.recalibrationFactor = recalibrationFactor(results.organizationVolume, await store.factor(cfg.orgId), cfg.sampleRate);
  return 'completed';
}

/**
 * Runs one organisation's pass. Whatever the stages computed is written, also after an early
 * return or a failure (Sentry writes its caches in `finally`).
 */
export async function runOrgPass(deps: TaskDeps, store: PerOrgState, org: OrganizationDefinition, steps: PassSteps = DEFAULT_PASS_STEPS): Promise<PassReport> {
  const now = deps.clock();
  const results = emptyResults();
  const report: PassReport = { orgId: org.id, status: 'failed', at: now, kind: null, sampleRate: null, results, comparisons: [] };
  const cfg = await orgConfiguration(deps, org, now);
  report.kind = cfg.kind;
  report.sampleRate = cfg.sampleRate;
  if (!cfg.enabled) return { ...report, status: 'org_has_no_dynamic_sampling' };
  if (cfg.projectIds.length === 0) return { ...report, status: 'org_has_no_projects' };
  const previousFactor = await store.factor(org.id);
  try {
    report.status = await computeStages(deps, store, steps, org, cfg, results, now);
  } catch (err) {
    report.error = (err as Error).message;
    deps.logger.error({ err, orgId: org.id }, 'per-org pass failed');
  } finally {
    await writeResults(deps, store, org.id, results);
  }
  report.comparisons = await classicComparisons(deps, org, cfg, results, previousFactor, now);
  return report;
}
