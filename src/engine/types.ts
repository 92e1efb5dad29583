// Wire types the engine accepts and returns (Relay's sampling config format, the DSC, results).

/** A rule condition (`op` tagged); unknown operators are carried and make a config unsupported. */
export type ConditionJson =
  | { op: 'eq'; name: string; value: unknown; options?: { ignoreCase?: boolean } }
  | { op: 'glob'; name: string; value: string[] }
  | { op: 'gt' | 'gte' | 'lt' | 'lte'; name: string; value: number | string }
  | { op: 'cidr'; name: string; value: string[] }
  | { op: 'and' | 'or'; inner: ConditionJson[] }
  | { op: 'not'; inner: ConditionJson }
  | { op: 'any' | 'all'; name: string; inner: ConditionJson }
  /** Any other operator (carried; it makes the config unsupported). */
  | { readonly op?: string };

export type SamplingValueJson =
  | { type: 'sampleRate' | 'factor' | 'minimumSampleRate'; value: number }
  | { type: 'reservoir'; limit: number };

export interface SamplingRuleJson {
  id: number;
  type: 'trace' | 'transaction' | 'project' | (string & {});
  condition: ConditionJson;
  samplingValue: SamplingValueJson;
  timeRange?: { start?: string | null; end?: string | null };
  decayingFn?: { type: 'constant' } | { type: 'linear'; decayedValue: number };
}

/** `ProjectConfig.sampling` (alias `dynamicSampling`). */
export interface SamplingConfigJson {
  version?: number;
  rules?: SamplingRuleJson[];
  /** Legacy: appended to `rules` when `version` is 1 or missing. */
  rulesV2?: SamplingRuleJson[];
}

/**
 * A transaction-name rule (project config `txNameRules`, found by Sentry's transaction
 * clusterer): URL-like names matching `pattern` (a path glob: `*` one segment, replaced; `**`
 * any rest, kept) get their `*` parts replaced by `redaction.substitution` (default `*`) until
 * `expiry`.
 */
export interface TxNameRuleJson {
  pattern: string;
  /** RFC 3339. */
  expiry: string;
  redaction: { method: 'replace' | (string & {}); substitution?: string };
  [key: string]: unknown;
}

/** The dynamic sampling context from the envelope header's `trace`. */
export interface DynamicSamplingContext {
  trace_id: string;
  public_key: string;
  release?: string | null;
  environment?: string | null;
  transaction?: string | null;
  segment_name?: string | null;
  sample_rate?: string | null;
  sampled?: boolean | 'true' | 'false' | null;
  user_id?: string;
  user_segment?: string;
  user?: { id?: string; segment?: string } | null;
  replay_id?: string | null;
  [key: string]: unknown;
}

/** `span`: span v2 containers (the span sampler); `legacySpan`: legacy `span`/`otel_span` items. */
export type ItemType = 'transaction' | 'span' | 'legacySpan';
export type DecisionName = 'keep' | 'drop' | 'noMatch';
export type StageName = 'transaction' | 'project' | 'trace';
/** A point in time: a Date, an RFC 3339 string, or epoch milliseconds. */
export type TimeInput = Date | string | number;
