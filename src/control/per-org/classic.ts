// What the classic tasks would compute for the same organisation and traffic, compared with a pass's results (Sentry's comparisons).

import { rebalanceProjects, rebalanceTransactions } from '../../rules/models';
import type { OrganizationDefinition } from '../definitions/types';
import { orgSampleRate, type TaskDeps } from '../tasks/common';
import { explicitTransactions } from '../tasks/boost-low-volume-transactions';
import { computeAdjustedFactor } from '../tasks/recalibrate-orgs';
import { RECALIBRATION_QUERY_WINDOW_MS, TRANSACTIONS_QUERY_WINDOW_MS } from '../tasks/options';
import { lastWindow } from '../traffic/counts';
import { boundFactor } from './calculations';
import { compare, type Comparison } from './comparisons';
import type { OrgConfiguration } from './configuration';
import type { PassResults } from './pass';

/**
 * Compares the pass's results with the classic pipeline's computation on the same counts: the
 * organisation rate (classic: the stored sliding-window rate, not recomputed), the project rates
 * (classic: no overrides), the transaction rates (classic: the intensity option, small
 * transactions too) and the factor (classic: uncapped effective rate, no freshness gate; both
 * from the same previous factor, as Sentry's "same seed" comparison).
 */
export async function classicComparisons(
  deps: TaskDeps,
  org: OrganizationDefinition,
  cfg: OrgConfiguration,
  results: PassResults,
  previousFactor: number,
  now: number,
): Promise<Comparison[]> {
  if (cfg.kind === 'customProject' || cfg.sampleRate === null) return [];
  const out: Comparison[] = [];
  const classicRate = await orgSampleRate(deps, org);
  out.push(compare('org_rate', cfg.sampleRate, classicRate));

  const traffic = results.traffic;
  if (results.rebalancedProjects && traffic) {
    const counts = new Map(traffic.projectVolumes.map((v) => [v.projectId, v.total]));
    // With the predictive budget both pipelines give the projects model the budgeted rate (classic: its own solve, on the same counts).
    const modelRate = results.budget?.modelRate ?? classicRate;
    const classic = new Map(rebalanceProjects({ classes: cfg.projectIds.map((id) => ({ id, count: counts.get(id) ?? 0 })), sampleRate: modelRate }).map((i) => [i.id, i.newSampleRate]));
    for (const item of results.rebalancedProjects) out.push(compare(`project_rate:${item.id}`, item.newSampleRate, classic.get(item.id) ?? null));

    const balanced = results.rebalancedTransactions ?? new Map();
    // The classic task reads every transaction of a project (its largest and smallest ones).
    const hourly = balanced.size > 0 ? await deps.counts.projectVolumes(lastWindow(now, TRANSACTIONS_QUERY_WINDOW_MS), new Set([org.id])) : [];
    for (const [projectId, balance] of balanced) {
      const volume = traffic.projectVolumes.find((v) => v.projectId === projectId);
      const rate = classic.get(projectId);
      const all = hourly.find((v) => v.projectId === projectId)?.transactions;
      if (!volume || rate === undefined || rate === 1.0 || !all) continue;
      const { options } = deps;
      const classes = explicitTransactions(all, options.numExplicitLargeTransactions, options.numExplicitSmallTransactions);
      const model = rebalanceTransactions({ classes, sampleRate: rate, total: volume.total, totalNumClasses: all.size, intensity: options.rebalanceIntensity, minSampleRate: options.transactionsMinSampleRate });
      const named = new Map(model.explicit.map((e) => [e.id, e.newSampleRate]));
      out.push(compare(`implicit_rate:${projectId}`, balance.implicit, model.implicitRate));
      for (const item of balance.named) out.push(compare(`transaction_rate:${projectId}:${item.id}`, item.newSampleRate, named.get(item.id) ?? null));
    }
  }

  if (results.recalibrationFactor !== null) {
    const volume = (await deps.counts.orgVolumes(lastWindow(now, RECALIBRATION_QUERY_WINDOW_MS))).find((v) => v.orgId === org.id);
    // The classic recalibration writes no factor under the predictive budget.
    const classic = results.budget ? 1.0 : volume && volume.total > 0 && volume.keep > 0 ? computeAdjustedFactor(previousFactor, volume.keep / volume.total, classicRate) : null;
    const bound = (f: number | null): number | null => (f === null ? null : (boundFactor(f, deps.options.recalibrationClampFactor).factor ?? 1.0));
    out.push(compare('recalibration_factor', bound(results.recalibrationFactor), bound(classic)));
  }
  return out;
}
