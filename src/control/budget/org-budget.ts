// Predictive rate budget of one organisation: the rules every candidate rate would serve, predicted on the counted traffic, solved for the target.

import { matchCondition } from '../../engine/evaluate';
import type { OrganizationDefinition } from '../definitions/types';
import { rebalanceProjects } from '../../rules/models';
import { generateRulesDetailed } from '../../rules/generate';
import { describeProject, hasDynamicSampling, type ServingDeps } from '../serving/describe-project';
import type { TaskDeps } from '../tasks/common';
import { transactionRatesFor } from '../tasks/boost-low-volume-transactions';
import { PROJECTS_QUERY_WINDOW_MS } from '../tasks/options';
import { MINUTE_MS } from '../state/keys';
import { lastWindow, type ProjectVolume, type RootClass, type Window } from '../traffic/counts';
import { markMeasured, measureKey, measureWindow } from '../traffic/measure-window';
import type { ProjectDescription, SamplingRule, TransactionRates } from '../../rules/types';
import { MemoMatcher, predictKept, type ConditionMatcher, type TrafficClass } from './predict';
import { solveModelRate } from './solve';

/** The measure whose mark tells which traffic the current configs decided. */
export const BUDGET_MEASURE = 'budget';
/** Bounds of the residual correction (measured / predicted kept). */
const RESIDUAL_MIN = 0.8;
const RESIDUAL_MAX = 1.25;
/** Standard deviations of the kept count within which a measured miss is taken for noise. */
const RESIDUAL_NOISE_SIGMAS = 2;

/** What the budget found for an organisation (logged, and returned for tools). */
export interface OrgBudget {
  /** The rate given to the projects model. */
  modelRate: number;
  /** Predicted kept share at that rate. */
  predicted: number;
  /** Measured kept / predicted kept on the traffic decided under the configs in force (1 when not measured). */
  residual: number;
}

const nativeMatcher: ConditionMatcher = (condition, target) => matchCondition(condition, target);

function trafficClasses(roots: readonly RootClass[]): TrafficClass[] {
  return roots.map((r) => ({ projectId: r.projectId, kind: r.kind, transaction: r.transaction, release: r.release, environment: r.environment, count: r.keep + r.drop }));
}

/** The rates a pipeline would store for one project: its base rate and its transaction rates (undefined: left as stored). */
export interface CandidateRates {
  projectRate: number;
  transactionRates?: TransactionRates | null;
}

/** What a pipeline would store for every project if its projects model got `modelRate`. */
export type CandidateRatesOf = (modelRate: number) => Map<number, CandidateRates>;

/**
 * The classic tasks' candidate: `boost_low_volume_projects` (the projects model over the counts)
 * then `boost_low_volume_transactions` (the transactions model over the hour's transactions).
 */
export function classicCandidate(
  projectCounts: ReadonlyMap<number, number>,
  hourVolumes: ReadonlyMap<number, Pick<ProjectVolume, 'keep' | 'drop' | 'transactions'>>,
  options: TaskDeps['options'],
): CandidateRatesOf {
  const classes = [...projectCounts].map(([id, count]) => ({ id, count }));
  return (modelRate) => {
    const out = new Map<number, CandidateRates>();
    for (const item of rebalanceProjects({ classes, sampleRate: modelRate })) {
      const volume = hourVolumes.get(item.id);
      const rebalanced = volume && item.newSampleRate < 1 ? transactionRatesFor(item.newSampleRate, volume, options) : null;
      out.set(item.id, {
        projectRate: item.newSampleRate,
        transactionRates: rebalanced ? { named: rebalanced.explicit.map((e) => [e.id, e.newSampleRate] as const), implicit: rebalanced.implicitRate } : undefined,
      });
    }
    return out;
  };
}

function rulesOf(descriptions: ReadonlyMap<number, ProjectDescription>): Map<number, SamplingRule[]> {
  const out = new Map<number, SamplingRule[]>();
  for (const [id, d] of descriptions) out.set(id, generateRulesDetailed(d).config.rules);
  return out;
}

async function describeAll(serving: ServingDeps, org: OrganizationDefinition, at: number): Promise<Map<number, ProjectDescription>> {
  const out = new Map<number, ProjectDescription>();
  for (const project of org.projects) {
    if (project.disabled) continue;
    out.set(project.id, await describeProject(serving, project, org, at));
  }
  return out;
}

/**
 * Measured kept / predicted kept of the traffic decided under the configs in force (1 below
 * `minRoots`). Roots of a release whose boost started inside the window are left out: whether the
 * configs that decided them had the boost yet depends on when the ingestion side refetched.
 */
async function residualOf(deps: TaskDeps, serving: ServingDeps, org: OrganizationDefinition, window: Window, matcher: MemoMatcher): Promise<number> {
  if (!(window.from < window.to)) return 1;
  const descriptions = await describeAll(serving, org, deps.clock());
  const unsettled = new Set<string>();
  for (const [projectId, d] of descriptions) {
    for (const boost of d.state?.boostedReleases ?? []) if (boost.timestamp * 1000 >= window.from) unsettled.add(JSON.stringify([projectId, boost.version, boost.environment]));
  }
  const roots = (await deps.counts.rootClasses(window, new Set([org.id]))).filter((r) => !unsettled.has(JSON.stringify([r.projectId, r.release, r.environment])));
  const total = roots.reduce((n, r) => n + r.keep + r.drop, 0);
  const kept = roots.reduce((n, r) => n + r.keep, 0);
  if (total < deps.options.budgetResidualMinRoots) return 1;
  const predicted = predictKept(trafficClasses(roots), rulesOf(descriptions), (window.from + Math.min(window.to, deps.clock())) / 2, matcher);
  if (!(predicted.kept > 0)) return 1;
  // Only what lies beyond sampling noise corrects the prediction: feeding the noise back would
  // add it to the next cycle's error (two standard deviations of the kept count are not a miss).
  const miss = kept - predicted.kept;
  const beyondNoise = Math.sign(miss) * Math.max(0, Math.abs(miss) - RESIDUAL_NOISE_SIGMAS * Math.sqrt(predicted.variance));
  return Math.min(RESIDUAL_MAX, Math.max(RESIDUAL_MIN, (predicted.kept + beyondNoise) / predicted.kept));
}

/** How a pipeline's rates are budgeted: what it would store for a model rate, and where its served configs come from. */
export interface BudgetedPipeline {
  candidate: CandidateRatesOf;
  /** The serving of the pipeline (its stored rates: what the configs in force were built from). */
  serving: ServingDeps;
}

/**
 * The rate to give the projects model so that the rules served from it keep `target` of the
 * counted traffic: for each candidate rate, the rates the pipeline would store (projects and
 * transactions models) and the rules generated from them with the stored releases, the
 * streamed-span health checks and every other bias, evaluated at the middle of the next interval.
 * The organisation's recalibration factor is left out (the budget replaces it).
 */
export async function solveOrgBudget(
  deps: TaskDeps,
  org: OrganizationDefinition,
  target: number,
  pipeline: BudgetedPipeline,
  match: ConditionMatcher = nativeMatcher,
): Promise<OrgBudget> {
  const now = deps.clock();
  const matcher = new MemoMatcher(match);
  const markKey = measureKey(BUDGET_MEASURE, `o:${org.id}`);
  // Only configs the budget made are measured against its prediction (the first run has none).
  const budgeted = (await deps.state.kv.get(markKey)) !== null;
  const residual =
    deps.options.budgetResidual && budgeted
      ? await residualOf(deps, pipeline.serving, org, await measureWindow(deps.state.kv, markKey, now, PROJECTS_QUERY_WINDOW_MS), matcher)
      : 1;
  await markMeasured(deps.state.kv, markKey, now);
  if (!hasDynamicSampling(org)) return { modelRate: target, predicted: target, residual };

  const orgIds = new Set([org.id]);
  // The kept share is predicted on the latest interval's mix (a release that just took over half
  // the traffic weighs half); the hour when nothing was counted in the interval.
  const latest = trafficClasses(await deps.counts.rootClasses({ from: now - Math.max(MINUTE_MS, deps.options.budgetHorizonMs), to: lastWindow(now, MINUTE_MS).to }, orgIds));
  const classes = latest.length > 0 ? latest : trafficClasses(await deps.counts.rootClasses(lastWindow(now, PROJECTS_QUERY_WINDOW_MS), orgIds));
  // Nothing counted per class (e.g. counts written before this version): nothing to predict from.
  if (classes.length === 0) return { modelRate: target, predicted: target, residual };
  const at = now + deps.options.budgetHorizonMs / 2;
  const descriptions = await describeAll(pipeline.serving, org, at);

  const predictedShare = (rate: number): number => {
    const rules = new Map<number, SamplingRule[]>();
    for (const [id, rates] of pipeline.candidate(rate)) {
      const description = descriptions.get(id);
      if (!description) continue;
      const state = {
        ...description.state,
        rebalancedProjectRate: rates.projectRate,
        organizationRecalibrationFactor: null,
        transactionRates: rates.transactionRates === undefined ? description.state?.transactionRates : rates.transactionRates,
      };
      rules.set(id, generateRulesDetailed({ ...description, state }).config.rules);
    }
    const prediction = predictKept(classes, rules, at, matcher);
    return prediction.total === 0 ? target : prediction.kept / prediction.total;
  };

  const goal = Math.min(1, target / residual);
  const modelRate = solveModelRate(goal, predictedShare);
  return { modelRate, predicted: predictedShare(modelRate), residual };
}
