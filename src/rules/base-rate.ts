// Base sample rate of a project: target/blended rate, new-project boost and the rebalanced rate from Redis.

import { NEW_MODEL_THRESHOLD_IN_MINUTES, TARGET_SAMPLE_RATE_DEFAULT } from './constants';
import { InvalidProjectInputError } from '../control/errors';
import { readStoredFloat } from './stored-values';
import { toEpochMicros, type EpochMicros } from './time';
import type { DateInput, ProjectDescription } from './types';

/** Where the base rate came from. */
export type BaseRateSource =
  /** Project mode: the project's target rate, nothing else. */
  | 'projectTarget'
  /** The org's target or blended rate is 100% (or missing). */
  | 'fullRate'
  /** The project or organisation was created in the last 10 minutes. */
  | 'newModel'
  /** The rebalanced per-project rate stored by the projects rebalancing task. */
  | 'rebalanced'
  /** No stored rate but the sliding window ran: the org had no traffic. */
  | 'noTraffic'
  /** No usable stored rate: the org's target or blended rate. */
  | 'fallback';

export interface BaseSampleRate {
  rate: number;
  source: BaseRateSource;
}

/** `organizations:dynamic-sampling-custom` and org option `sentry:sampling_mode == "project"`. */
export function isProjectModeSampling(project: ProjectDescription): boolean {
  return project.features?.dynamicSamplingCustom === true && project.samplingMode === 'project';
}

function requireRate(project: ProjectDescription, field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidProjectInputError(project.projectId, field, `expected a finite number, got ${String(value)}`);
  }
  return value;
}

function instant(project: ProjectDescription, field: string, value: DateInput): EpochMicros {
  try {
    return toEpochMicros(value);
  } catch (e) {
    throw new InvalidProjectInputError(project.projectId, field, (e as Error).message);
  }
}

/** Created at or after `now - 10 minutes`. */
export function isRecentlyAdded(dateAdded: EpochMicros, now: EpochMicros): boolean {
  return dateAdded >= now - NEW_MODEL_THRESHOLD_IN_MINUTES * 60 * 1_000_000;
}

/**
 * The project's base sample rate (Sentry's `get_guarded_project_sample_rate`). Throws
 * `InvalidProjectInputError` when a configured rate or a date is unusable.
 */
export function resolveBaseSampleRate(project: ProjectDescription): BaseSampleRate {
  if (isProjectModeSampling(project)) {
    const target = project.projectTargetSampleRate ?? TARGET_SAMPLE_RATE_DEFAULT;
    return { rate: requireRate(project, 'projectTargetSampleRate', target), source: 'projectTarget' };
  }

  const configured = project.features?.dynamicSamplingCustom
    ? project.organizationTargetSampleRate
    : project.blendedSampleRate;
  const field = project.features?.dynamicSamplingCustom ? 'organizationTargetSampleRate' : 'blendedSampleRate';
  const rate = requireRate(project, field, configured ?? TARGET_SAMPLE_RATE_DEFAULT);
  if (rate === 1.0) return { rate, source: 'fullRate' };

  const now = instant(project, 'now', project.now);
  if (
    isRecentlyAdded(instant(project, 'dateAdded', project.dateAdded), now) ||
    isRecentlyAdded(instant(project, 'organizationDateAdded', project.organizationDateAdded), now)
  ) {
    return { rate: 1.0, source: 'newModel' };
  }

  const stored = readStoredFloat(project.state?.rebalancedProjectRate);
  if (stored.kind === 'value' && Number.isFinite(stored.value)) return { rate: stored.value, source: 'rebalanced' };
  if (stored.kind === 'missing' && project.state?.slidingWindowOrgExecuted) return { rate: 1.0, source: 'noTraffic' };
  return { rate, source: 'fallback' };
}
