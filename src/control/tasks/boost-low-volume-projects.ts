// Task boost_low_volume_projects: rebalances each organisation's rate over its projects and stores the project rates.

import { classicCandidate, solveOrgBudget } from '../budget/org-budget';
import { rebalanceProjects } from '../../rules/models';
import { hasDynamicSampling, isProjectMode } from '../serving/describe-project';
import { ReleaseBoosts } from '../state/releases';
import { lastWindow, type ProjectVolume } from '../traffic/counts';
import type { OrganizationDefinition } from '../definitions/types';
import { ActiveOrgBatches, activeOrgsOf, isClose, orgSampleRate, type TaskDeps } from './common';
import { TimedIterator, timedFunction, type TaskContext } from './context';
import { PROJECTS_QUERY_WINDOW_MS, TRANSACTIONS_QUERY_WINDOW_MS } from './options';

export const BOOST_LOW_VOLUME_PROJECTS_TRIGGER = 'dynamic_sampling_boost_low_volume_projects';

/** `boost_low_volume_projects_of_org`: one organisation's projects (with their root counts over the last hour). */
export const boostLowVolumeProjectsOfOrg = timedFunction(
  'boost_low_volume_projects_of_org',
  async (state, deps: TaskDeps, org: OrganizationDefinition, volumes: readonly ProjectVolume[]): Promise<void> => {
    state.numOrgs += 1;
    if (!hasDynamicSampling(org)) return;
    const rate = await orgSampleRate(deps, org);
    state.numDbCalls += 1;
    // Sentry queries active projects only: counts of disabled or removed projects are left out.
    const active = new Set(org.projects.filter((p) => !p.disabled).map((p) => p.id));
    const counts = new Map<number, number>();
    for (const v of volumes) if (active.has(v.projectId)) counts.set(v.projectId, v.keep + v.drop);
    if ([...counts.values()].every((c) => c === 0)) return;
    // Every active project of the organisation takes part, with 0 when it had no traffic.
    for (const id of active) if (!counts.has(id)) counts.set(id, 0);

    // Predictive budget: the rate the models get is solved so that everything served keeps the target.
    let modelRate = rate;
    if (deps.options.rateBudget === 'predictive' && rate > 0 && rate < 1) {
      const hour = await deps.counts.projectVolumes(lastWindow(deps.clock(), TRANSACTIONS_QUERY_WINDOW_MS), new Set([org.id]));
      const candidate = classicCandidate(counts, new Map(hour.map((v) => [v.projectId, v])), deps.options);
      const budget = await solveOrgBudget(deps, org, rate, { candidate, serving: { definitions: deps.definitions, state: deps.state, releases: new ReleaseBoosts(deps.state.kv) } });
      modelRate = budget.modelRate;
      deps.logger.info({ orgId: org.id, target: rate, ...budget }, 'dynamic_sampling.rate_budget');
    }
    const rebalanced = rebalanceProjects({ classes: [...counts].map(([id, count]) => ({ id, count })), sampleRate: modelRate });
    for (const item of rebalanced) {
      const previous = await deps.state.setProjectRate(org.id, item.id, item.newSampleRate);
      state.numDbCalls += 1;
      state.numProjects += 1;
      deps.metrics.stateWrites.inc({ kind: 'project_rate' });
      if (!isClose(previous, item.newSampleRate)) {
        await deps.invalidator.schedule(BOOST_LOW_VOLUME_PROJECTS_TRIGGER, { projectId: item.id });
      }
    }
  },
);

export async function boostLowVolumeProjects(context: TaskContext, deps: TaskDeps): Promise<void> {
  const now = deps.clock();
  const volumes = await context.timers.time('query_projects', () => deps.counts.projectVolumes(lastWindow(now, PROJECTS_QUERY_WINDOW_MS)));
  const byOrg = new Map<number, ProjectVolume[]>();
  for (const v of volumes) {
    let list = byOrg.get(v.orgId);
    if (!list) byOrg.set(v.orgId, (list = []));
    list.push(v);
  }
  const batches = new TimedIterator(
    context,
    new ActiveOrgBatches(activeOrgsOf(volumes), deps.options.maxOrgsPerQuery, deps.options.maxProjectsPerQuery),
    'GetActiveOrgs',
  );
  for await (const batch of batches) {
    for (const { orgId } of batch) {
      const org = deps.definitions.organization(orgId);
      // Project-mode organisations get their rates from their projects' targets.
      if (!org || isProjectMode(org)) continue;
      try {
        await boostLowVolumeProjectsOfOrg(context, deps, org, byOrg.get(orgId) ?? []);
      } catch (err) {
        if (err instanceof Error && err.name === 'TaskTimeoutError') throw err;
        deps.logger.error({ err, orgId }, 'boost_low_volume_projects_of_org failed');
      }
    }
  }
}
