// The control plane: rebalancing models and rule generation (pure), and the services around them (definitions, state, counting, tasks, config server).

export * from '../rules/types';
export * from './errors';
export * from '../rules/constants';
export { toEpochMicros, unixSecondsToEpochMicros, formatUtcSeconds, formatUtcMicros, InvalidDateError, type EpochMicros } from '../rules/time';
export { readStoredFloat, type StoredFloatResult } from '../rules/stored-values';
export { validateRuleCondition, isSupportedRuleCondition, type ConditionValidator } from '../rules/condition';
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
} from '../rules/models';
export { resolveBaseSampleRate, isProjectModeSampling, isRecentlyAdded, type BaseSampleRate, type BaseRateSource } from '../rules/base-rate';
export * from '../rules/biases';
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
} from '../rules/generate';

// ---- Control plane services (I/O): definitions, state, counting, tasks, config server -------------
export { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './control-plane';
export { systemClock, systemMonotonic, type Clock, type MonotonicClock } from './clock';
export type { KeyValueStore, HashIncrement } from './store/kv';
export { MemoryKeyValueStore } from './store/memory-kv';
export { RedisKeyValueStore, type RedisConnection } from './store/redis-kv';
export * as stateKeys from './state/keys';
export { DynamicSamplingState, type FactorOwner, type RateRead } from './state/ds-state';
export { ReleaseBoosts, type ObserveOutcome, type ReleaseRow } from './state/releases';
export { TrafficCounts, lastWindow, type OrgVolume, type ProjectVolume, type RootCount, type RootClass, type RootKind, type Decision } from './traffic/counts';
export { classRate, predictKept, MemoMatcher, type TrafficClass, type ConditionMatcher, type MatchTarget, type Prediction } from './budget/predict';
export { solveModelRate, type SolveOptions } from './budget/solve';
export { solveOrgBudget, classicCandidate, type OrgBudget, type BudgetedPipeline, type CandidateRates, type CandidateRatesOf } from './budget/org-budget';
export { predictiveSolver, rateBudgetSolver } from './per-org/predictive';
export {
  CountingTrafficRecorder,
  OVERFLOW_TRANSACTION,
  type TrafficRecorder,
  type RootRecord,
  type ReleaseObservation,
} from './traffic/recorder';
export { Definitions, type DefinitionsChangeEvent, type ResolvedKey } from './definitions/repository';
export type * from './definitions/types';
export { parseDefinitions, validateDefinitions } from './definitions/validate';
export { conditionHash, queryToCondition, upsertCustomRule, deactivateOldRules } from './definitions/custom-rules';
export { FilePersistence, RedisPersistence, NoPersistence, type DefinitionsPersistence } from './definitions/persistence';
export { TaskContext, Timers, TimedIterator, timedFunction, newLogState, type LogState, type TaskContextSummary } from './tasks/context';
export { TaskRunner, type TaskRunResult } from './tasks/runner';
export { defaultTasks, plannedTasks, taskName, type Pipeline, type TaskPlan, type TaskId, type TaskDefinition } from './tasks/registry';
export { PerOrgPipeline, isOrgInRollout } from './per-org/pipeline';
export { PerOrgState } from './per-org/store';
export { runOrgPass, countedRootsMeasure, DEFAULT_PASS_STEPS, type PassReport, type PassStatus, type PassSteps, type PassResults, type RecalibrationMeasure } from './per-org/pass';
export { balanceProjects, balanceTransactions, recalibrationFactor, boundFactor, projectsModelSolver, projectsModel, type BaseRateSolver, type BaseRateProblem, type BaseRateContext } from './per-org/calculations';
export { relativeDeviation, isWithinRelativeTolerance, type Comparison } from './per-org/comparisons';
export { CustomRuleSamples } from './traffic/custom-rule-samples';
export type { CustomRuleNotification } from './tasks/custom-rule-notifications';
export { DEFAULT_CONTROL_OPTIONS, type ControlOptions } from './tasks/options';
export { InProcessScheduler, type TaskScheduler } from './tasks/scheduler';
export { BullmqScheduler, type BullmqSchedulerOptions } from './tasks/bullmq';
export { computeAdjustedFactor } from './tasks/recalibrate-orgs';
export { extrapolateMonthlyVolume, tierRateForVolume } from './tasks/sliding-window-org';
export { ProjectConfigServer, type ProjectConfigsRequest, type ProjectConfigsResponse } from './serving/config-service';
export { ConfigInvalidator } from './serving/invalidation';
export { ProjectStateBuilder } from './serving/project-state';
export type { FullProjectState, ProjectState } from '../engine/types';
export { createControlMetrics, type ControlMetrics } from './metrics';
export { controlPlaneOptionsFromEnv } from './env';
