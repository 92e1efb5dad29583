// Task recalibrate_orgs: corrects each organisation's (or project's) factor so the kept share meets the target.

import type { OrganizationDefinition } from '../definitions/types';
import { hasDynamicSampling, isProjectMode } from '../serving/describe-project';
import type { FactorOwner } from '../state/ds-state';
import { lastWindow, type OrgVolume, type Window } from '../traffic/counts';
import { markMeasured, measureKey, measureWindow } from '../traffic/measure-window';
import { orgSampleRate, type TaskDeps } from './common';
import { newLogState, TimedIterator, timedFunction, type LogState, type StatefulIterator, type TaskContext } from './context';
import { MAX_REBALANCE_FACTOR, MIN_REBALANCE_FACTOR, RECALIBRATION_QUERY_WINDOW_MS } from './options';

/** The measure whose mark tells which traffic the current configs decided. */
export const RECALIBRATION_MEASURE = 'recalibration';

/** `compute_adjusted_factor`: `previous * target / effective`; null when previous ≤ 0 or nothing was measured. */
export function computeAdjustedFactor(previous: number, effectiveSampleRate: number, targetSampleRate: number): number | null {
  if (previous <= 0 || effectiveSampleRate === 0) return null;
  return (previous * targetSampleRate) / effectiveSampleRate;
}

/** `OrganizationDataVolume.is_valid_for_recalibration`. */
export const isValidForRecalibration = (v: { total: number; keep: number }): boolean => v.total > 0 && v.keep > 0;

/** Stores a new factor: out of [0.1, 10] it is reset (deleted) or clamped; 1.0 deletes the key. */
async function storeFactor(deps: TaskDeps, owner: FactorOwner, factor: number): Promise<void> {
  if (factor < MIN_REBALANCE_FACTOR || factor > MAX_REBALANCE_FACTOR) {
    if (!deps.options.recalibrationClampFactor) {
      await deps.state.deleteFactor(owner);
      deps.metrics.stateWrites.inc({ kind: 'factor_deleted' });
      return;
    }
    factor = Math.min(MAX_REBALANCE_FACTOR, Math.max(MIN_REBALANCE_FACTOR, factor));
  }
  await deps.state.setFactor(owner, factor);
  deps.metrics.stateWrites.inc({ kind: factor === 1.0 ? 'factor_deleted' : 'factor' });
}

async function recalibrate(deps: TaskDeps, state: LogState, owner: FactorOwner, volume: { total: number; keep: number }, target: number): Promise<void> {
  const previous = await deps.state.factor(owner);
  state.numDbCalls += 1;
  const adjusted = computeAdjustedFactor(previous, volume.keep / volume.total, target);
  if (adjusted === null) return;
  await storeFactor(deps, owner, adjusted);
}

/** `recalibrate_org`. */
export const recalibrateOrg = timedFunction('recalibrate_org', async (state, deps: TaskDeps, org: OrganizationDefinition, volume: OrgVolume): Promise<void> => {
  state.numOrgs += 1;
  if (!hasDynamicSampling(org)) return;
  // The predictive budget meets the target itself: a factor on top would count the correction twice.
  if (deps.options.rateBudget === 'predictive') {
    await deps.state.deleteFactor({ organizationId: org.id });
    return;
  }
  const target = await orgSampleRate(deps, org);
  await recalibrate(deps, state, { organizationId: org.id }, volume, target);
});

/** `recalibrate_projects_batch` for one project-mode organisation: each project against its own target. */
export const recalibrateProjectsOfOrg = timedFunction('recalibrate_projects', async (state, deps: TaskDeps, org: OrganizationDefinition): Promise<void> => {
  if (!hasDynamicSampling(org)) return;
  const now = deps.clock();
  const markKey = measureKey(RECALIBRATION_MEASURE, `o:${org.id}`);
  const window = await measureWindow(deps.state.kv, markKey, now, RECALIBRATION_QUERY_WINDOW_MS);
  await markMeasured(deps.state.kv, markKey, now);
  if (!(window.from < window.to)) return;
  const volumes = await deps.counts.projectVolumes(window, new Set([org.id]));
  state.numDbCalls += 1;
  for (const v of volumes) {
    const project = org.projects.find((p) => p.id === v.projectId);
    const volume = { total: v.keep + v.drop, keep: v.keep };
    if (!project || project.disabled || !isValidForRecalibration(volume)) continue;
    state.numProjects += 1;
    await recalibrate(deps, state, { projectId: project.id }, volume, project.targetSampleRate ?? 1.0);
  }
});

/** `GetActiveOrgsVolumes` over preloaded volumes, in batches of `maxOrgs`. */
class OrgVolumeBatches implements StatefulIterator<OrgVolume[]> {
  state = newLogState();
  private index = 0;
  constructor(private readonly volumes: readonly OrgVolume[], private readonly maxOrgs: number) {}
  async next(): Promise<IteratorResult<OrgVolume[]>> {
    if (this.index >= this.volumes.length) return { done: true, value: undefined };
    const batch = this.volumes.slice(this.index, this.index + this.maxOrgs);
    this.index += batch.length;
    this.state.numIterations += 1;
    this.state.numRowsTotal += batch.length;
    this.state.numOrgs += batch.length;
    return { done: false, value: batch };
  }
}

/**
 * The kept share measured for each organisation over the traffic decided under its configs in
 * force: the last 5 minutes, from the first whole minute after the previous run (which changed
 * the configs) on. Runs closer together than 5 minutes would otherwise read decisions of older
 * configs again and compound the correction; back-to-back runs measure nothing and keep the factor.
 */
async function currentConfigVolumes(deps: TaskDeps): Promise<OrgVolume[]> {
  const now = deps.clock();
  const all = await deps.counts.orgVolumes(lastWindow(now, RECALIBRATION_QUERY_WINDOW_MS));
  const out: OrgVolume[] = [];
  // Organisations measured over the same window (usually all: one run marks them together) share one query.
  const byWindow = new Map<string, { window: Window; orgIds: Set<number> }>();
  for (const volume of all) {
    const org = deps.definitions.organization(volume.orgId);
    if (org && isProjectMode(org)) {
      out.push(volume); // measured per project, with its own mark
      continue;
    }
    const markKey = measureKey(RECALIBRATION_MEASURE, `o:${volume.orgId}`);
    const window = await measureWindow(deps.state.kv, markKey, now, RECALIBRATION_QUERY_WINDOW_MS);
    await markMeasured(deps.state.kv, markKey, now);
    if (!(window.from < window.to)) continue;
    const id = `${window.from}:${window.to}`;
    let group = byWindow.get(id);
    if (!group) byWindow.set(id, (group = { window, orgIds: new Set() }));
    group.orgIds.add(volume.orgId);
  }
  for (const { window, orgIds } of byWindow.values()) {
    for (const volume of await deps.counts.orgVolumes(window)) if (orgIds.has(volume.orgId)) out.push(volume);
  }
  return out.sort((a, b) => a.orgId - b.orgId);
}

export async function recalibrateOrgs(context: TaskContext, deps: TaskDeps): Promise<void> {
  const volumes = await context.timers.time('query_volumes', () => currentConfigVolumes(deps));
  for await (const batch of new TimedIterator(context, new OrgVolumeBatches(volumes, deps.options.maxOrgsPerQuery), 'GetActiveOrgsVolumes')) {
    for (const volume of batch) {
      if (!isValidForRecalibration(volume)) continue;
      const org = deps.definitions.organization(volume.orgId);
      if (!org) continue;
      try {
        if (isProjectMode(org)) await recalibrateProjectsOfOrg(context, deps, org);
        else await recalibrateOrg(context, deps, org, volume);
      } catch (err) {
        if (err instanceof Error && err.name === 'TaskTimeoutError') throw err;
        deps.logger.error({ err, orgId: volume.orgId }, 'recalibration failed');
      }
    }
  }
}
