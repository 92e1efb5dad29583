// Rule generation: base rate, enabled biases and the fixed bias order, producing a Relay sampling config.

import { resolveBaseSampleRate, isProjectModeSampling, type BaseSampleRate } from './base-rate';
import { boostEnvironmentsRules } from './biases/boost-environments';
import { boostLatestReleasesRules } from './biases/boost-latest-releases';
import { boostLowVolumeProjectsRules } from './biases/boost-low-volume-projects';
import { boostLowVolumeTransactionsRules } from './biases/boost-low-volume-transactions';
import { boostReplayIdRules } from './biases/boost-replay-id';
import { customRules } from './biases/custom-rules';
import { ignoreHealthChecksRules } from './biases/ignore-health-checks';
import { minimumSampleRateRules } from './biases/minimum-sample-rate';
import { recalibrationRules } from './biases/recalibration';
import type { ConditionValidator } from './condition';
import { DEFAULT_BIASES, HEALTH_CHECK_GLOBS, OPTION_GATED_BIASES } from './constants';
import { BiasGenerationError, InvalidCustomRuleError, InvalidProjectInputError } from '../control/errors';
import { toEpochMicros, type EpochMicros } from './time';
import type { ActivatableBias, BiasId, OrganizationFeatures, ProjectDescription, SamplingConfig, SamplingRule } from './types';

/** Biases generated whatever the base rate and the project's bias settings. */
export const ALWAYS_INCLUDED_BIASES: ReadonlySet<BiasId> = new Set<BiasId>(['uniformRule', 'customRule']);
/** Biases generated whenever enabled, whatever the base rate. */
export const ALWAYS_ALLOWED_BIASES: ReadonlySet<BiasId> = new Set<BiasId>(['minimumSampleRate']);

/** Merges the project option onto the defaults (by id, unknown ids ignored) and returns the active ids. */
export function getEnabledBiases(userBiases: readonly ActivatableBias[] | null | undefined): Set<string> {
  const byId = new Map<string, ActivatableBias>();
  for (const bias of userBiases ?? []) byId.set(bias.id, bias);
  const enabled = new Set<string>();
  for (const bias of DEFAULT_BIASES) {
    const chosen = byId.get(bias.id) ?? bias;
    if (chosen.active) enabled.add(bias.id);
  }
  for (const id of OPTION_GATED_BIASES) if (byId.get(id)?.active !== false) enabled.add(id);
  return enabled;
}

/** The biases Relay gets, in rule order (`minimumSampleRate` only with its feature). */
export function relayBiasOrder(features: OrganizationFeatures = {}): BiasId[] {
  const order: BiasId[] = [
    'customRule',
    'ignoreHealthChecks',
    'boostReplayId',
    'boostEnvironments',
    'recalibrationRule',
    'boostLatestRelease',
    'boostLowVolumeTransactions',
  ];
  if (features.minimumSampleRate) order.push('minimumSampleRate');
  order.push('uniformRule');
  return order;
}

/** Whether a bias is generated for this base rate and set of enabled biases. */
export function isBiasGenerated(bias: BiasId, baseSampleRate: number, enabled: ReadonlySet<string>): boolean {
  if (ALWAYS_INCLUDED_BIASES.has(bias)) return true;
  if (!enabled.has(bias)) return false;
  return (baseSampleRate > 0 && baseSampleRate < 1) || ALWAYS_ALLOWED_BIASES.has(bias);
}

export interface RuleGenerationOptions {
  /** Validates stored custom rule conditions; defaults to the structural Relay check. */
  validateCondition?: ConditionValidator;
  /** Health-check glob list; defaults to the newest `HEALTH_CHECK_GLOBS`. */
  healthCheckGlobs?: readonly string[];
  /**
   * Emit reservoir rules (the custom-rule bias, `{"type":"reservoir"}`). Off by default: current
   * Relay rejects a config holding one, and Sentry no longer generates them; turn it on only for
   * engines with their reservoir option on.
   */
  reservoir?: boolean;
}

/** Problems met while generating: they never stop generation, but callers may log them. */
export type RuleGenerationIssue = InvalidProjectInputError | BiasGenerationError | InvalidCustomRuleError;

export interface RuleGenerationResult {
  config: SamplingConfig;
  /** The resolved base rate, `null` when it could not be resolved (then there are no rules). */
  baseSampleRate: BaseSampleRate | null;
  issues: RuleGenerationIssue[];
}

interface BiasContext {
  project: ProjectDescription;
  baseSampleRate: number;
  now: EpochMicros;
  options: RuleGenerationOptions;
  issues: RuleGenerationIssue[];
}

function biasRules(bias: BiasId, ctx: BiasContext): SamplingRule[] {
  const { project, baseSampleRate, now, options } = ctx;
  const state = project.state ?? {};
  switch (bias) {
    case 'customRule':
      // Custom rules are reservoir rules: an extension behind the reservoir switch.
      if (options.reservoir !== true) return [];
      return customRules(project.customRules ?? [], now, {
        validateCondition: options.validateCondition,
        onDropped: (e) => ctx.issues.push(e),
      });
    case 'ignoreHealthChecks':
      return ignoreHealthChecksRules(baseSampleRate, {
        traceBased: project.features?.healthChecksTraceBased ?? false,
        globs: options.healthCheckGlobs ?? HEALTH_CHECK_GLOBS,
      });
    case 'boostReplayId':
      return boostReplayIdRules();
    case 'boostEnvironments':
      return boostEnvironmentsRules();
    case 'recalibrationRule':
      return recalibrationRules(
        isProjectModeSampling(project) ? state.projectRecalibrationFactor : state.organizationRecalibrationFactor,
      );
    case 'boostLatestRelease':
      return boostLatestReleasesRules(baseSampleRate, state.boostedReleases ?? [], project.platform, now);
    case 'boostLowVolumeTransactions':
      return boostLowVolumeTransactionsRules(baseSampleRate, state.transactionRates);
    case 'minimumSampleRate':
      return minimumSampleRateRules(baseSampleRate, project.minimumSampleRateEnabled ?? false);
    case 'uniformRule':
      return boostLowVolumeProjectsRules(baseSampleRate);
    case 'boostKeyTransactions':
      return [];
  }
}

/**
 * Generates the project's rules and reports what went wrong on the way: an unusable base-rate
 * input gives no rules at all; a failing bias is skipped; invalid custom rules are dropped.
 */
export function generateRulesDetailed(project: ProjectDescription, options: RuleGenerationOptions = {}): RuleGenerationResult {
  if (project === null || typeof project !== 'object') throw new TypeError(`project must be an object, got ${project === null ? 'null' : typeof project}`);
  if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, got ${options === null ? 'null' : typeof options}`);
  const issues: RuleGenerationIssue[] = [];
  let base: BaseSampleRate;
  let now: EpochMicros;
  try {
    base = resolveBaseSampleRate(project);
    try {
      now = toEpochMicros(project.now);
    } catch (e) {
      throw new InvalidProjectInputError(project.projectId, 'now', (e as Error).message);
    }
  } catch (e) {
    if (!(e instanceof InvalidProjectInputError)) throw e;
    issues.push(e);
    return { config: { version: 2, rules: [] }, baseSampleRate: null, issues };
  }

  const enabled = getEnabledBiases(project.biases);
  const ctx: BiasContext = { project, baseSampleRate: base.rate, now, options, issues };
  const rules: SamplingRule[] = [];
  for (const bias of relayBiasOrder(project.features)) {
    if (!isBiasGenerated(bias, base.rate, enabled)) continue;
    try {
      rules.push(...biasRules(bias, ctx));
    } catch (e) {
      issues.push(new BiasGenerationError(bias, project.projectId, e));
    }
  }
  return { config: { version: 2, rules }, baseSampleRate: base, issues };
}

/** The Relay `sampling` config of a project (`{version: 2, rules}`). */
export function generateSamplingConfig(project: ProjectDescription, options: RuleGenerationOptions = {}): SamplingConfig {
  return generateRulesDetailed(project, options).config;
}
