// Predictive rate budget of one organisation: the rules every candidate rate would serve, predicted on the counted traffic, solved for the target.

import { matchCondition } from '../../engine/evaluate';
import type { OrganizationDefinition } from '../definitions/types';
import { rebalanceProjects } from '../../rules/models';
import { generateRulesDetailed } from '../../rules/generate';
import { describeProject, hasDynamicSampling } from '../serving/describe-project';
import { ReleaseBoosts } from '../state/releases';
import type { TaskDeps } from '../tasks/common';
import { transactionRatesFor } from '../tasks/boost-low-volume-transactions';
import { PROJECTS_QUERY_WINDOW_MS } from '../tasks/options';
import { MINUTE_MS } from '../state/keys';
import { lastWindow, type RootClass, type Window } from '../traffic/counts';
import { markMeasured, measureKey, measureWindow } from '../traffic/measure-window';
import type { ProjectDescription, SamplingRule } from '../../rules/types';
import { MemoMatcher, predictKept, type ConditionMatcher, type TrafficClass } from './predict';
import { solveModelRate } from './solve';

/** The measure whose mark tells which traffic the current configs decided. */
export const BUDGET_MEASURE = 'budget';
/** Bounds of the residual correction (measured / predicted kept). */
const RESIDUAL_MIN = 0.8;
const RESIDUAL_MAX = 1.25;

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

/** Transaction name → roots per project (what the transactions task rebalances). */
function transactionVolumes(classes: readonly TrafficClass[]): Map<number, { keep: number; drop: number; transactions: Map<string, number> }> {
  const out = new Map<number, { keep: number; drop: number; transactions: Map<string, number> }>();
  for (const c of classes) {
    let v = out.get(c.projectId);
    if (!v) out.set(c.projectId, (v = { keep: 0, drop: 0, transactions: new Map() }));
    v.keep += c.count;
    v.transactions.set(c.transaction, (v.transactions.get(c.transaction) ?? 0) + c.count);
  }
  return out;
}

function rulesOf(descriptions: ReadonlyMap<number, ProjectDescription>): Map<number, SamplingRule[]> {
  const out = new Map<number, SamplingRule[]>();
  for (const [id, d] of descriptions) out.set(id, generateRulesDetailed(d).config.rules);
  return out;
}

async function describeAll(deps: TaskDeps, org: OrganizationDefinition, at: number): Promise<Map<number, ProjectDescription>> {
  const releases = new ReleaseBoosts(deps.state.kv);
  const out = new Map<number, ProjectDescription>();
  for (const project of org.projects) {
    if (project.disabled) continue;
    out.set(project.id, await describeProject({ definitions: deps.definitions, state: deps.state, releases }, project, org, at));
  }
  return out;
}

/** Measured kept / predicted kept of the traffic decided under the configs in force (1 below `minRoots`). */
async function residualOf(deps: TaskDeps, org: OrganizationDefinition, window: Window, matcher: MemoMatcher): Promise<number> {
  if (!(window.from < window.to)) return 1;
  const roots = await deps.counts.rootClasses(window, new Set([org.id]));
  const total = roots.reduce((n, r) => n + r.keep + r.drop, 0);
  const kept = roots.reduce((n, r) => n + r.keep, 0);
  if (total < deps.options.budgetResidualMinRoots) return 1;
  const served = rulesOf(await describeAll(deps, org, deps.clock()));
  const predicted = predictKept(trafficClasses(roots), served, (window.from + Math.min(window.to, deps.clock())) / 2, matcher);
  if (!(predicted.kept > 0)) return 1;
  return Math.min(RESIDUAL_MAX, Math.max(RESIDUAL_MIN, kept / predicted.kept));
}

/**
 * The rate to give the projects model so that the rules served from it keep `target` of the
 * counted traffic: for each candidate rate, the project rates (projects model), their transaction
 * rates (transactions model), and the rules generated from them with the stored releases, the
 * streamed-span health checks and every other bias, evaluated at the middle of the next interval.
 * The organisation's recalibration factor is left out (the budget replaces it).
 */
export async function solveOrgBudget(
  deps: TaskDeps,
  org: OrganizationDefinition,
  projectCounts: ReadonlyMap<number, number>,
  target: number,
  match: ConditionMatcher = nativeMatcher,
): Promise<OrgBudget> {
  const now = deps.clock();
  const matcher = new MemoMatcher(match);
  const markKey = measureKey(BUDGET_MEASURE, `o:${org.id}`);
  // Only configs the budget made are measured against its prediction (the first run has none).
  const budgeted = (await deps.state.kv.get(markKey)) !== null;
  const residual =
    deps.options.budgetResidual && budgeted
      ? await residualOf(deps, org, await measureWindow(deps.state.kv, markKey, now, PROJECTS_QUERY_WINDOW_MS), matcher)
      : 1;
  await markMeasured(deps.state.kv, markKey, now);
  if (!hasDynamicSampling(org)) return { modelRate: target, predicted: target, residual };

  const orgIds = new Set([org.id]);
  // The transactions model rebalances the hour, as its task does; the kept share is predicted on
  // the latest interval's mix (a release that just took over half the traffic weighs half).
  const hour = trafficClasses(await deps.counts.rootClasses(lastWindow(now, PROJECTS_QUERY_WINDOW_MS), orgIds));
  const latest = trafficClasses(await deps.counts.rootClasses({ from: now - Math.max(MINUTE_MS, deps.options.budgetHorizonMs), to: lastWindow(now, MINUTE_MS).to }, orgIds));
  const classes = latest.length > 0 ? latest : hour;
  // Nothing counted per class (e.g. counts written before this version): nothing to predict from.
  if (classes.length === 0) return { modelRate: target, predicted: target, residual };
  const at = now + deps.options.budgetHorizonMs / 2;
  const descriptions = await describeAll(deps, org, at);
  const volumes = transactionVolumes(hour);
  const modelClasses = [...projectCounts].map(([id, count]) => ({ id, count }));

  const predictedShare = (rate: number): number => {
    const rules = new Map<number, SamplingRule[]>();
    for (const item of rebalanceProjects({ classes: modelClasses, sampleRate: rate })) {
      const description = descriptions.get(item.id);
      if (!description) continue;
      const volume = volumes.get(item.id);
      const rebalanced = volume && item.newSampleRate < 1 ? transactionRatesFor(item.newSampleRate, volume, deps.options) : null;
      const state = {
        ...description.state,
        rebalancedProjectRate: item.newSampleRate,
        organizationRecalibrationFactor: null,
        transactionRates: rebalanced ? { named: rebalanced.explicit.map((e) => [e.id, e.newSampleRate] as const), implicit: rebalanced.implicitRate } : description.state?.transactionRates,
      };
      rules.set(item.id, generateRulesDetailed({ ...description, state }).config.rules);
    }
    const prediction = predictKept(classes, rules, at, matcher);
    return prediction.total === 0 ? target : prediction.kept / prediction.total;
  };

  const goal = Math.min(1, target / residual);
  const modelRate = solveModelRate(goal, predictedShare);
  return { modelRate, predicted: predictedShare(modelRate), residual };
}
