// `dynamic-sampling/sdk`: head sampling in the application with the server's rules — a
// `tracesSampler` and an error sampler for @sentry/node, and an OpenTelemetry `Sampler`.

export { createHeadRules, HeadRules, type HeadDecision, type HeadRulesOptions, type RuleOutcome, type RuleFields, type Seed } from './head-rules';
export { createTracesSampler, EXPLICIT_DECISION_ATTRIBUTE, type ParentPolicy, type SamplingContextLike, type TracesSampler, type TracesSamplerOptions } from './traces-sampler';
export { seededRandom } from './random';
export { createOtelSampler, DynamicSamplingOtelSampler, type OtelSamplerOptions, type SamplingResultLike } from './otel-sampler';
export { createErrorSampler, type ErrorSampler, type ErrorSamplerOptions } from './error-sampler';
export type { SampleResult } from './results';
