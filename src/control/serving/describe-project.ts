// Turns a project's definitions and its stored state (§6, §8) into the input of rule generation.

import { isProjectModeSampling } from '../../rules/base-rate';
import type { Definitions } from '../definitions/repository';
import type { CustomRuleDefinition, OrganizationDefinition, ProjectDefinition } from '../definitions/types';
import type { PerOrgState } from '../per-org/store';
import type { DynamicSamplingState } from '../state/ds-state';
import type { ReleaseBoosts } from '../state/releases';
import { segmentRootsKey } from '../traffic/counts';
import type { CustomRuleInput, OrganizationFeatures, ProjectDescription } from '../../rules/types';

/** Organisation features as rule generation sees them. */
export function featuresOf(org: OrganizationDefinition): OrganizationFeatures {
  const custom = org.features?.dynamicSamplingCustom ?? (org.targetSampleRate != null || org.samplingMode === 'project');
  return {
    dynamicSamplingCustom: custom,
    healthChecksTraceBased: org.features?.healthChecksTraceBased ?? false,
    minimumSampleRate: org.features?.minimumSampleRate ?? false,
  };
}

/** Whether the organisation has dynamic sampling (`organizations:dynamic-sampling`). */
export function hasDynamicSampling(org: OrganizationDefinition): boolean {
  return org.dynamicSampling !== false;
}

/** Whether the organisation samples per project (custom feature and `samplingMode: project`). */
export function isProjectMode(org: OrganizationDefinition): boolean {
  return featuresOf(org).dynamicSamplingCustom === true && org.samplingMode === 'project';
}

function customRuleInput(rule: CustomRuleDefinition): CustomRuleInput {
  return {
    ruleId: rule.ruleId,
    condition: rule.condition,
    numSamples: rule.numSamples,
    startDate: rule.startDate,
    endDate: rule.endDate,
    isActive: rule.isActive,
  };
}

/** The project description without stored state (what the definitions alone say). */
export function describeFromDefinitions(
  definitions: Definitions,
  project: ProjectDefinition,
  org: OrganizationDefinition,
  now: number,
): ProjectDescription {
  return {
    projectId: project.id,
    organizationId: org.id,
    platform: project.platform ?? null,
    dateAdded: project.createdAt,
    organizationDateAdded: org.createdAt,
    features: featuresOf(org),
    samplingMode: org.samplingMode ?? 'organization',
    projectTargetSampleRate: project.targetSampleRate ?? null,
    organizationTargetSampleRate: org.targetSampleRate ?? null,
    blendedSampleRate: org.blendedSampleRate ?? null,
    biases: project.biases ?? null,
    minimumSampleRateEnabled: project.minimumSampleRate ?? false,
    customRules: definitions.customRulesFor(project, org, now).map(customRuleInput),
    now: new Date(now),
  };
}

/** Where served rates come from: the classic tasks' keys, or the per-org pipeline's results. */
export interface ServingDeps {
  definitions: Definitions;
  state: DynamicSamplingState;
  releases: ReleaseBoosts;
  /** Set when the per-org pipeline runs: rates, transaction rates and factors are read from its keys. */
  perOrg?: PerOrgState | null;
}

/**
 * Serving from the per-org results (Sentry's per_org/serving.py): a project missing from a hash
 * the pass wrote was unseen (no volume): 1.0; before any pass the organisation's rate applies.
 * Project-mode organisations get no recalibration rule.
 */
async function describePerOrgState(deps: ServingDeps & { perOrg: PerOrgState }, project: ProjectDefinition, org: OrganizationDefinition, now: number): Promise<NonNullable<ProjectDescription['state']>> {
  const [rate, factor, releases, transactionRates] = await Promise.all([
    deps.perOrg.rawProjectRate(org.id, project.id),
    isProjectMode(org) ? Promise.resolve(null) : deps.perOrg.rawFactor(org.id),
    deps.releases.boostedReleases(project.id, project.platform, now),
    deps.perOrg.transactionRates(org.id, project.id),
  ]);
  return {
    rebalancedProjectRate: rate.raw,
    slidingWindowOrgExecuted: rate.orgHasRates,
    organizationRecalibrationFactor: factor,
    projectRecalibrationFactor: null,
    boostedReleases: releases,
    transactionRates,
  };
}

/** The full description: definitions plus the rates, factors, releases and transaction rates in the store. */
export async function describeProject(deps: ServingDeps, project: ProjectDefinition, org: OrganizationDefinition, now: number): Promise<ProjectDescription> {
  const description = describeFromDefinitions(deps.definitions, project, org, now);
  // A project whose SDKs stream spans gets the trace variant of the health-check bias (both
  // pipelines): a transaction rule never applies to spans, while the DSC's transaction is there for both.
  if (await deps.state.kv.exists(segmentRootsKey(project.id))) description.features = { ...description.features, healthChecksTraceBased: true };
  if (deps.perOrg) {
    description.state = await describePerOrgState({ ...deps, perOrg: deps.perOrg }, project, org, now);
    return description;
  }
  const projectMode = isProjectModeSampling(description);
  const [rate, executed, orgFactor, projectFactor, releases, transactionRates] = await Promise.all([
    deps.state.rawProjectRate(org.id, project.id),
    deps.state.slidingWindowExecuted(),
    projectMode ? Promise.resolve(null) : deps.state.rawFactor({ organizationId: org.id }),
    projectMode ? deps.state.rawFactor({ projectId: project.id }) : Promise.resolve(null),
    deps.releases.boostedReleases(project.id, project.platform, now),
    deps.state.transactionRates(org.id, project.id),
  ]);
  description.state = {
    rebalancedProjectRate: rate,
    slidingWindowOrgExecuted: executed,
    organizationRecalibrationFactor: orgFactor,
    projectRecalibrationFactor: projectFactor,
    boostedReleases: releases,
    transactionRates,
  };
  return description;
}
