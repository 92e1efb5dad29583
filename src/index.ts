// dynamic-sampling: Relay-compatible dynamic sampling for Node.js, with a Rust core.
//
// `require('dynamic-sampling')` loads the engine alone. The services have their own entry points,
// loaded only when asked for: `dynamic-sampling/configs` (createSampler, the project-config
// service), `dynamic-sampling/server` (the ingestion server), `dynamic-sampling/control` (the
// control plane and rule generation).

export {
  SamplingEngine,
  EnvelopeBatch,
  KEEP,
  DROP,
  NO_MATCH,
  DECISION_NAMES,
  OUT,
  ENVELOPE_KINDS,
  KEEP_REASONS,
  SPAN_REJECTIONS,
  unknownRootKey,
} from './engine/engine';
export type { EngineOptions, EnvelopeDecision, EnvelopeKind, KeepReason, ProjectInfo, SpanRejection } from './engine/engine';
export { SamplingConfigError, SamplingRequestError, EnvelopeError, ENVELOPE_ERRORS } from './engine/errors';
export { compileSamplingConfig, CompiledSamplingConfig, type CompileOptions } from './engine/compiled-config';
export {
  evaluate,
  explain,
  isTraceFullySampled,
  evaluationOrder,
  matchCondition,
  parseReport,
  parseSamplingConfig,
  randomValue,
  normalizedFields,
} from './engine/evaluate';
export type {
  ConfigInput,
  JsonInput,
  EvaluateInput,
  EvaluateResult,
  EvaluationNote,
  ExplainResult,
  ExplainStep,
  MatchTarget,
  NormalizedFields,
  ParseReport,
  ParseTarget,
  ParsedSamplingConfig,
  RuleReport,
} from './engine/evaluate';
export { ruleCategory, ruleCategories, sampledReason, type RuleCategory } from './engine/outcome';
export type * from './engine/types';
