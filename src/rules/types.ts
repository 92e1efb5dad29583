// Shared types of the control plane: bias ids, project descriptions and model items (Relay's sampling rules come from the wire types).

/** A point in time accepted as input: a `Date` or an RFC 3339 string. */
export type DateInput = Date | string;

// Relay's sampling config: the wire types are defined once, with the engine's.
export type {
  RuleType,
  SamplingValue,
  JsonValue,
  EqCondition,
  GlobCondition,
  CompareCondition,
  CidrCondition,
  LogicalCondition,
  NotCondition,
  ArrayCondition,
  EmptyCondition,
  RuleCondition,
  TimeRange,
  SamplingRule,
  SamplingConfig,
} from '../engine/types';
import type { RuleCondition } from '../engine/types';

// ---------------------------------------------------------------------------
// Biases
// ---------------------------------------------------------------------------

/** Bias ids as stored in the project option `sentry:dynamic_sampling_biases` (Sentry's `RuleType` values). */
export type BiasId =
  | 'uniformRule'
  | 'boostEnvironments'
  | 'ignoreHealthChecks'
  | 'boostKeyTransactions'
  | 'recalibrationRule'
  | 'boostReplayId'
  | 'boostLowVolumeTransactions'
  | 'boostLatestRelease'
  | 'minimumSampleRate'
  | 'customRule';

/** One entry of the project option `sentry:dynamic_sampling_biases`. Unknown ids are ignored. */
export interface ActivatableBias {
  id: string;
  active: boolean;
}

// ---------------------------------------------------------------------------
// Project description (input of rule generation)
// ---------------------------------------------------------------------------

/** Organisation features that change rule generation. All default to `false`. */
export interface OrganizationFeatures {
  /** `organizations:dynamic-sampling-custom`: target-rate options and project mode. */
  dynamicSamplingCustom?: boolean;
  /** `organizations:ds-health-checks-trace-based`: health checks matched on `trace.transaction`. */
  healthChecksTraceBased?: boolean;
  /** `organizations:dynamic-sampling-minimum-sample-rate`: enables the minimum-sample-rate bias. */
  minimumSampleRate?: boolean;
}

/**
 * A value read from Redis as it was stored: a number, the raw string (parsed like Python's
 * `float()`), or `null`/`undefined` when the key or field is missing.
 */
export type StoredFloat = number | string | null | undefined;

/** One active entry of `ds::p:{project}:boosted_releases`, resolved to its release. */
export interface BoostedRelease {
  /** Release version (`Release.version`). */
  version: string;
  /** Environment of the boost; `null` matches traces without an environment. */
  environment: string | null;
  /** Unix timestamp in seconds (possibly fractional) at which the boost started. */
  timestamp: number;
}

/** `ds::o:{org}:p:{project}:pri_tran`: per-transaction rates and the rate of all other transactions. */
export interface TransactionRates {
  /** Named rates in stored order; a record keeps its insertion order (beware integer-like keys). */
  named: ReadonlyArray<readonly [string, number]> | Readonly<Record<string, number>>;
  implicit: number;
}

/** A custom (investigation) rule of the organisation that applies to this project. */
export interface CustomRuleInput {
  /** `rule_id` within the organisation, 1..2000; the Relay rule id is `3000 + ruleId`. */
  ruleId: number;
  /** Relay condition, as stored (JSON text) or already parsed. */
  condition: string | RuleCondition;
  numSamples: number;
  startDate: DateInput;
  endDate: DateInput;
  /** Defaults to `true`. */
  isActive?: boolean;
}

/** Redis-derived state of a project, passed in as plain values. */
export interface ProjectDynamicSamplingState {
  /** Field `{project}` of `ds::o:{org}:prioritise_projects` (rebalanced project rate). */
  rebalancedProjectRate?: StoredFloat;
  /** Whether `ds::sliding_window_org_executed` exists. */
  slidingWindowOrgExecuted?: boolean;
  /** `ds::o:{org}:rate_rebalance_factor2`. */
  organizationRecalibrationFactor?: StoredFloat;
  /** `ds::p:{project}:rate_rebalance_factor2` (project mode). */
  projectRecalibrationFactor?: StoredFloat;
  /** Active boosted releases in hash order. Expired ones (relative to `now`) are ignored. */
  boostedReleases?: readonly BoostedRelease[];
  /** Stored transaction rates; missing means none. */
  transactionRates?: TransactionRates | null;
}

export type SamplingMode = 'organization' | 'project';

/** Everything rule generation needs to know about one project. */
export interface ProjectDescription {
  projectId: number;
  organizationId: number;
  /** Project platform (`python`, `javascript-react`, ...); selects the release boost duration. */
  platform?: string | null;
  /** `Project.date_added`. */
  dateAdded: DateInput;
  /** `Organization.date_added`. */
  organizationDateAdded: DateInput;
  features?: OrganizationFeatures;
  /** Org option `sentry:sampling_mode` (default `organization`). */
  samplingMode?: SamplingMode;
  /** Project option `sentry:target_sample_rate` (project mode; default 1.0). */
  projectTargetSampleRate?: number | null;
  /** Org option `sentry:target_sample_rate` (with `dynamicSamplingCustom`). */
  organizationTargetSampleRate?: number | null;
  /** `quotas.backend.get_blended_sample_rate` (without `dynamicSamplingCustom`); `null` → 1.0. */
  blendedSampleRate?: number | null;
  /** Project option `sentry:dynamic_sampling_biases`; `null`/absent → defaults. */
  biases?: readonly ActivatableBias[] | null;
  /** Project option `sentry:dynamic_sampling_minimum_sample_rate`. */
  minimumSampleRateEnabled?: boolean;
  /** Active custom rules (org-level and project rules). */
  customRules?: readonly CustomRuleInput[];
  /** Redis-derived state. */
  state?: ProjectDynamicSamplingState;
  /** The current time (injected, so generation is deterministic). */
  now: DateInput;
}

// ---------------------------------------------------------------------------
// Rebalancing models
// ---------------------------------------------------------------------------

export type ClassId = number | string;

/** A class (project or transaction) with its observed volume. */
export interface ModelClass<Id extends ClassId = ClassId> {
  id: Id;
  count: number;
}

/** A class with the sample rate the model assigned to it. */
export interface RebalancedItem<Id extends ClassId = ClassId> {
  id: Id;
  count: number;
  newSampleRate: number;
}
