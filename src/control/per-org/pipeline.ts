// The per-org pipeline as a task: one pass per organisation (gated by killswitch and rollout), reports and comparison metrics kept.

import type { TaskDeps } from '../tasks/common';
import type { TaskContext } from '../tasks/context';
import { hasDynamicSampling } from '../serving/describe-project';
import { DEFAULT_PASS_STEPS, runOrgPass, type PassReport, type PassSteps } from './pass';
import type { PerOrgState } from './store';

/** `in_rollout_group`: `(orgId % 100000) / 100000 < rate`. */
export function isOrgInRollout(orgId: number, rate: number): boolean {
  return (orgId % 100_000) / 100_000 < rate;
}

/** Status of a scheduling decision that did not run a pass. */
export type ScheduleStatus = 'killswitched' | 'rollout_disabled' | 'rollout_excluded' | 'org_has_no_dynamic_sampling';

export class PerOrgPipeline {
  /** The last pass of every organisation. */
  readonly reports = new Map<number, PassReport>();

  constructor(
    readonly store: PerOrgState,
    readonly steps: PassSteps = DEFAULT_PASS_STEPS,
  ) {}

  /** Runs one organisation's pass now and keeps its report. */
  async runOrg(deps: TaskDeps, orgId: number): Promise<PassReport> {
    const org = deps.definitions.organization(orgId);
    const report: PassReport = org
      ? await runOrgPass(deps, this.store, org, this.steps)
      : { orgId, status: 'org_not_found', at: deps.clock(), kind: null, sampleRate: null, comparisons: [], results: { organizationVolume: null, traffic: null, rebalancedProjects: null, budget: null, rebalancedTransactions: null, recalibrationFactor: null, factorWrite: 'none', wrote: false } };
    this.reports.set(orgId, report);
    deps.metrics.perOrgRuns.inc({ status: report.status });
    for (const c of report.comparisons) deps.metrics.perOrgComparisons.inc({ value: c.value.split(':')[0], outcome: c.outcome });
    if (report.comparisons.some((c) => c.outcome === 'differs')) {
      deps.logger.info({ orgId, differs: report.comparisons.filter((c) => c.outcome === 'differs') }, 'dynamic_sampling.per_org.comparison');
    }
    return report;
  }

  /**
   * `schedule_per_org_calculations` over one cycle: every organisation with dynamic sampling, in
   * id order, that is in the rollout gets its own pass; a failing pass does not stop the others.
   */
  async runCycle(context: TaskContext, deps: TaskDeps): Promise<Map<number, PassReport | ScheduleStatus>> {
    const out = new Map<number, PassReport | ScheduleStatus>();
    const { options } = deps;
    const skip = (orgId: number, status: ScheduleStatus): void => {
      out.set(orgId, status);
      deps.metrics.perOrgRuns.inc({ status });
    };
    const orgs = deps.definitions.organizations().sort((a, b) => a.id - b.id);
    if (options.perOrgKillswitch || options.perOrgRolloutRate <= 0) {
      for (const org of orgs) skip(org.id, options.perOrgKillswitch ? 'killswitched' : 'rollout_disabled');
      return out;
    }
    for (const org of orgs) {
      context.checkTimeout();
      if (!hasDynamicSampling(org)) skip(org.id, 'org_has_no_dynamic_sampling');
      else if (!isOrgInRollout(org.id, options.perOrgRolloutRate)) skip(org.id, 'rollout_excluded');
      else out.set(org.id, await this.runOrg(deps, org.id));
    }
    return out;
  }
}
