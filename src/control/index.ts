// Control plane core of dynamic sampling: rebalancing models and Relay rule generation (pure, no I/O).

export * from './types';
export * from './errors';
export * from './constants';
export { toEpochMicros, unixSecondsToEpochMicros, formatUtcSeconds, formatUtcMicros, InvalidDateError, type EpochMicros } from './time';
export { readStoredFloat, type StoredFloatResult } from './stored-values';
export { validateRuleCondition, isSupportedRuleCondition, type ConditionValidator } from './condition';
export {
  fullRebalancing,
  rebalanceProjects,
  rebalanceTransactions,
  compareClasses,
  sortClassesDescending,
  type FullRebalancingInput,
  type FullRebalancingResult,
  type ProjectsRebalancingInput,
  type TransactionsRebalancingInput,
  type TransactionsRebalancingResult,
} from './models';
export { resolveBaseSampleRate, isProjectModeSampling, isRecentlyAdded, type BaseSampleRate, type BaseRateSource } from './base-rate';
export * from './biases';
export {
  generateSamplingConfig,
  generateRulesDetailed,
  getEnabledBiases,
  relayBiasOrder,
  isBiasGenerated,
  ALWAYS_INCLUDED_BIASES,
  ALWAYS_ALLOWED_BIASES,
  type RuleGenerationOptions,
  type RuleGenerationResult,
  type RuleGenerationIssue,
} from './rules';
