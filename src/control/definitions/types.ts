// The declarative definitions: organisations, projects, keys, target rates, sampling modes, biases and custom rules.

import type { ActivatableBias, RuleCondition, SamplingMode } from '../../rules/types';

/** A Relay allowed to fetch configs with signed requests. */
export interface RelayDefinition {
  relayId: string;
  /** Ed25519 public key, base64url without padding (as `relay credentials show` prints it). */
  publicKey: string;
}

/** One tier of a volume-based plan: organisations with at most `maxVolume` roots a month get `sampleRate`. */
export interface SamplingTier {
  maxVolume: number;
  sampleRate: number;
}

export interface PublicKeyDefinition {
  publicKey: string;
  numericId?: number;
  isEnabled?: boolean;
}

/** Organisation features that change generation (Sentry's feature flags). */
export interface OrganizationFeatureDefinitions {
  /** `organizations:ds-health-checks-trace-based`. */
  healthChecksTraceBased?: boolean;
  /** `organizations:dynamic-sampling-minimum-sample-rate`. */
  minimumSampleRate?: boolean;
  /** `organizations:dynamic-sampling-custom`; default: on when a target rate or project mode is set. */
  dynamicSamplingCustom?: boolean;
}

export interface ProjectDefinition {
  id: number;
  slug?: string;
  platform?: string | null;
  /** RFC 3339 (`Project.date_added`). */
  createdAt: string;
  /** DSN public keys: strings or `{publicKey, numericId?, isEnabled?}`. */
  publicKeys: Array<string | PublicKeyDefinition>;
  /** A disabled project answers `null` to Relay. */
  disabled?: boolean;
  /** Project option `sentry:target_sample_rate` (used in project mode). */
  targetSampleRate?: number | null;
  /** Project option `sentry:dynamic_sampling_biases`. */
  biases?: ActivatableBias[] | null;
  /** Project option `sentry:dynamic_sampling_minimum_sample_rate`. */
  minimumSampleRate?: boolean;
  /**
   * Transaction-name rules (`sentry:transaction_name_cluster_rules`, served as `config.txNameRules`):
   * `{pattern, expiry, redaction: {method: 'replace', substitution?}}`.
   */
  txNameRules?: Array<{ pattern: string; expiry: string; redaction: { method: string; substitution?: string } }> | null;
}

/** A custom (investigation) rule as stored (`CustomDynamicSamplingRule`). */
export interface CustomRuleDefinition {
  /** 1..2000 within the organisation; the Relay rule id is 3000 + ruleId. */
  ruleId: number;
  condition: RuleCondition;
  /** Projects the rule applies to; empty for an organisation-level rule. */
  projects: number[];
  startDate: string;
  endDate: string;
  numSamples: number;
  sampleRate: number;
  isActive: boolean;
  /** sha1 of the order-independent condition and projects (rules with the same hash are merged). */
  conditionHash: string;
  query?: string | null;
  createdBy?: string | null;
  notificationSent?: boolean;
}

export interface OrganizationDefinition {
  id: number;
  slug?: string;
  /** RFC 3339 (`Organization.date_added`). */
  createdAt: string;
  /** Feature `organizations:dynamic-sampling` (default true); off → configs carry no sampling. */
  dynamicSampling?: boolean;
  /** Org option `sentry:target_sample_rate` (turns on `dynamic-sampling-custom`). */
  targetSampleRate?: number | null;
  /** Org option `sentry:sampling_mode`. */
  samplingMode?: SamplingMode;
  /** The plan's rate when there is no target (`get_blended_sample_rate`); absent → 1.0. */
  blendedSampleRate?: number | null;
  /** Volume tiers for the sliding-window rate; default: `defaults.samplingTiers`. */
  samplingTiers?: SamplingTier[] | null;
  features?: OrganizationFeatureDefinitions;
  projects: ProjectDefinition[];
  customRules?: CustomRuleDefinition[];
}

/** The whole document (JSON or YAML). */
export interface DefinitionsDocument {
  relays?: RelayDefinition[];
  defaults?: { samplingTiers?: SamplingTier[] };
  organizations: OrganizationDefinition[];
}

/** Organisation fields changeable at run time. */
export interface OrganizationPatch {
  targetSampleRate?: number | null;
  samplingMode?: SamplingMode;
  blendedSampleRate?: number | null;
  dynamicSampling?: boolean;
}

/** Project fields changeable at run time (biases have their own call). */
export interface ProjectPatch {
  targetSampleRate?: number | null;
  minimumSampleRate?: boolean;
  biases?: ActivatableBias[] | null;
}
