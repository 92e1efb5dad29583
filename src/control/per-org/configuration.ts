// An organisation's dynamic-sampling configuration for one per-org pass (Sentry's per_org/configuration.py): its kind, target rate, projects.

import type { Definitions } from '../definitions/repository';
import type { OrganizationDefinition } from '../definitions/types';
import { featuresOf, hasDynamicSampling } from '../serving/describe-project';
import { extrapolateMonthlyVolume, tierRateForVolume } from '../tasks/sliding-window-org';
import type { TrafficCounts } from '../traffic/counts';

export type ConfigurationKind =
  /** No dynamic sampling (feature off). */
  | 'none'
  /** No custom feature: the plan's rate, the sliding-window tier rate when there is one. */
  | 'automatic'
  /** Custom feature, organisation mode: the organisation's target. */
  | 'customOrganization'
  /** Custom feature, project mode: each project's own target, no project balancing. */
  | 'customProject';

export interface OrgConfiguration {
  kind: ConfigurationKind;
  orgId: number;
  /** Active (not disabled) projects. */
  projectIds: number[];
  /** The rate balancing and recalibration aim at (`get_sample_rate()`); null in project mode. */
  sampleRate: number | null;
  /** Whether the pass splits `sampleRate` over the projects. */
  balancesProjects: boolean;
  /** Project rates: the balanced ones, or the project targets in project mode (null = none). */
  projectRates: Map<number, number | null>;
  /** Whether the pass runs at all (`is_enabled`). */
  enabled: boolean;
}

/** `SLIDING_WINDOW_HOURS`. */
export const SLIDING_WINDOW_HOURS = 24;

/** `_get_sliding_window_sample_rate`: the plan tier of the 24 h volume extrapolated to the month; null without tiers or volume. */
export async function slidingWindowRate(definitions: Definitions, counts: TrafficCounts, org: OrganizationDefinition, now: number): Promise<number | null> {
  const tiers = definitions.tiersOf(org);
  if (!tiers || tiers.length === 0) return null;
  const volume = (await counts.orgVolumesHourly(now, SLIDING_WINDOW_HOURS)).find((v) => v.orgId === org.id);
  if (!volume || volume.total <= 0) return null;
  const extrapolated = extrapolateMonthlyVolume(volume.total, SLIDING_WINDOW_HOURS, now);
  return extrapolated === null ? null : tierRateForVolume(tiers, extrapolated);
}

/** `get_configuration`. The plan's (blended) rate is 1.0 when the definitions give none. */
export async function orgConfiguration(
  deps: { definitions: Definitions; counts: TrafficCounts },
  org: OrganizationDefinition,
  now: number,
): Promise<OrgConfiguration> {
  const projects = org.projects.filter((p) => !p.disabled);
  const base = { orgId: org.id, projectIds: projects.map((p) => p.id), projectRates: new Map<number, number | null>() };
  if (!hasDynamicSampling(org)) return { ...base, kind: 'none', sampleRate: null, balancesProjects: false, enabled: false };
  if (!featuresOf(org).dynamicSamplingCustom) {
    const windowRate = projects.length === 0 ? null : await slidingWindowRate(deps.definitions, deps.counts, org, now);
    return { ...base, kind: 'automatic', sampleRate: windowRate ?? org.blendedSampleRate ?? 1.0, balancesProjects: true, enabled: true };
  }
  if (org.samplingMode === 'project') {
    for (const p of projects) base.projectRates.set(p.id, p.targetSampleRate ?? null);
    const enabled = [...base.projectRates.values()].some((r) => r !== null);
    return { ...base, kind: 'customProject', sampleRate: null, balancesProjects: false, enabled };
  }
  return { ...base, kind: 'customOrganization', sampleRate: org.targetSampleRate ?? 1.0, balancesProjects: true, enabled: true };
}
