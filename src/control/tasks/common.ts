// What the tasks share: their dependencies, the organisation rate, isclose, and the active-organisation batches.

import type { Logger } from 'pino';
import type { Clock, MonotonicClock } from '../clock';
import type { Definitions } from '../definitions/repository';
import type { OrganizationDefinition } from '../definitions/types';
import type { ControlMetrics } from '../metrics';
import { featuresOf } from '../serving/describe-project';
import type { ConfigInvalidator } from '../serving/invalidation';
import type { DynamicSamplingState } from '../state/ds-state';
import type { TrafficCounts } from '../traffic/counts';
import type { CustomRuleSamples } from '../traffic/custom-rule-samples';
import type { CustomRuleNotification } from './custom-rule-notifications';
import { newLogState, type LogState, type StatefulIterator } from './context';
import type { ControlOptions } from './options';

export interface TaskDeps {
  definitions: Definitions;
  state: DynamicSamplingState;
  counts: TrafficCounts;
  invalidator: ConfigInvalidator;
  metrics: ControlMetrics;
  clock: Clock;
  monotonic: MonotonicClock;
  options: ControlOptions;
  logger: Logger;
  /** Samples of custom rules (only when custom rules are on). */
  customRuleSamples?: CustomRuleSamples | null;
  /** Called for every custom-rule notification. */
  customRuleNotified?: ReadonlySet<(notification: CustomRuleNotification) => void>;
}

/** Python's `math.isclose(a, b)` (relative tolerance 1e-9); a missing value is never close. */
export function isClose(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return false;
  if (a === b) return true;
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/** The organisation's rate without a target (`get_blended_sample_rate`); absent → 1.0. */
export function blendedRateOf(org: OrganizationDefinition): number {
  return org.blendedSampleRate ?? 1.0;
}

/**
 * `get_org_sample_rate(org, default=blended)`: with `dynamic-sampling-custom` the org's target
 * (else the default); otherwise the sliding-window rate, else the default.
 */
export async function orgSampleRate(deps: Pick<TaskDeps, 'state'>, org: OrganizationDefinition): Promise<number> {
  if (featuresOf(org).dynamicSamplingCustom) return org.targetSampleRate ?? blendedRateOf(org);
  return (await deps.state.slidingWindowOrgRate(org.id)) ?? blendedRateOf(org);
}

/** The fallback when a project's rebalanced rate is missing: the org's target or blended rate. */
export function projectRateFallback(org: OrganizationDefinition): number {
  return featuresOf(org).dynamicSamplingCustom ? (org.targetSampleRate ?? blendedRateOf(org)) : blendedRateOf(org);
}

/** One organisation in a batch, with how many of its projects had traffic. */
export interface ActiveOrg {
  orgId: number;
  numProjects: number;
}

/**
 * `GetActiveOrgs`: organisations ordered by id, in batches that end when `maxOrgs` is reached or
 * the cumulative project count reaches `maxProjects` (the crossing organisation included).
 */
export class ActiveOrgBatches implements StatefulIterator<ActiveOrg[]> {
  state: LogState = newLogState();
  private index = 0;

  constructor(private readonly orgs: readonly ActiveOrg[], private readonly maxOrgs: number, private readonly maxProjects: number | null) {}

  async next(): Promise<IteratorResult<ActiveOrg[]>> {
    if (this.index >= this.orgs.length) return { done: true, value: undefined };
    if (this.index === 0) this.state.numDbCalls += 1;
    const batch: ActiveOrg[] = [];
    let projects = 0;
    while (this.index < this.orgs.length && batch.length < this.maxOrgs) {
      const org = this.orgs[this.index++];
      batch.push(org);
      projects += org.numProjects;
      if (this.maxProjects !== null && projects >= this.maxProjects) break;
    }
    this.state.numRowsTotal += batch.length;
    this.state.numOrgs += batch.length;
    this.state.numProjects += projects;
    this.state.numIterations += 1;
    return { done: false, value: batch };
  }
}

/** Active organisations from project volumes, ordered by id. */
export function activeOrgsOf(volumes: ReadonlyArray<{ orgId: number }>): ActiveOrg[] {
  const counts = new Map<number, number>();
  for (const v of volumes) counts.set(v.orgId, (counts.get(v.orgId) ?? 0) + 1);
  return [...counts].sort((a, b) => a[0] - b[0]).map(([orgId, numProjects]) => ({ orgId, numProjects }));
}
