// The wire types, defined once for every part: Relay's sampling config (rules, conditions,
// values), transaction-name rules, the dynamic sampling context and project states. The engine
// accepts them, the control plane generates and serves them, the configs layer reads them.

/** Scalar and structured JSON values, as allowed in an `eq` condition's `value`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface EqCondition {
  op: 'eq';
  name: string;
  value: JsonValue;
  options?: { ignoreCase?: boolean };
}

export interface GlobCondition {
  op: 'glob';
  name: string;
  value: string[];
}

export interface CompareCondition {
  op: 'gt' | 'gte' | 'lt' | 'lte';
  name: string;
  value: number | string;
}

export interface CidrCondition {
  op: 'cidr';
  name: string;
  value: string[];
}

export interface LogicalCondition {
  op: 'and' | 'or';
  inner: RuleCondition[];
}

export interface NotCondition {
  op: 'not';
  inner: RuleCondition;
}

export interface ArrayCondition {
  op: 'any' | 'all';
  name: string;
  inner: RuleCondition;
}

/** `{}`: "match everything" as used by the minimum-sample-rate rule. */
export type EmptyCondition = Record<string, never>;

/** A rule condition of an operator this engine knows. */
export type RuleCondition =
  | EqCondition
  | GlobCondition
  | CompareCondition
  | CidrCondition
  | LogicalCondition
  | NotCondition
  | ArrayCondition
  | EmptyCondition;

/** A condition as a config may carry it: a known one, or another operator (the config is then unsupported). */
export type ConditionJson = RuleCondition | { readonly op?: string };

export type SamplingValue =
  | { type: 'sampleRate' | 'factor' | 'minimumSampleRate'; value: number }
  | { type: 'reservoir'; limit: number };

/** Where a rule is matched: the trace root's DSC, the transaction event, or the own project's DSC. */
export type RuleType = 'trace' | 'transaction' | 'project';

/** Rule active only inside `[start, end)`; RFC 3339 UTC strings. */
export interface TimeRange {
  start: string;
  end: string;
}

export type DecayingFn = { type: 'constant' } | { type: 'linear'; decayedValue: number };

/** A rule as Sentry generates it (`generateSamplingConfig`). */
export interface SamplingRule {
  id: number;
  type: RuleType;
  condition: RuleCondition;
  samplingValue: SamplingValue;
  timeRange?: TimeRange;
  decayingFn?: DecayingFn;
}

/** `ProjectConfig.sampling` as Sentry generates it: version 2, known rules only. */
export interface SamplingConfig {
  version: 2;
  rules: SamplingRule[];
}

/** A rule as a config may carry it: any rule type or operator (unknown ones make it unsupported), open time ranges. */
export interface SamplingRuleJson {
  id: number;
  type: RuleType | (string & {});
  condition: ConditionJson;
  samplingValue: SamplingValue;
  timeRange?: { start?: string | null; end?: string | null };
  decayingFn?: DecayingFn;
}

/** `ProjectConfig.sampling` (alias `dynamicSampling`) as the engine accepts it; a `SamplingConfig` is one. */
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

/** One of a project's keys, as a project state lists them. */
export interface PublicKeyConfig {
  publicKey: string;
  numericId?: number;
  isEnabled?: boolean;
}

/**
 * A project state as the project-configs protocol carries it (Relay's `ProjectState`): what the
 * configs layer reads from an upstream or a file. Fields other than these are carried untouched.
 */
export interface ProjectState {
  disabled?: boolean;
  projectId?: number;
  organizationId?: number | null;
  slug?: string;
  rev?: string | null;
  lastChange?: string;
  publicKeys?: PublicKeyConfig[];
  config?: {
    sampling?: SamplingConfigJson | null;
    /** The older name of `sampling`. */
    dynamicSampling?: SamplingConfigJson | null;
    txNameRules?: TxNameRuleJson[];
    features?: string[];
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** A full, enabled project state, as the control plane serves it. */
export interface FullProjectState extends ProjectState {
  disabled: false;
  projectId: number;
  organizationId: number;
  slug: string;
  rev: string;
  lastChange: string;
  publicKeys: Array<Required<PublicKeyConfig>>;
  config: { sampling?: SamplingConfig; txNameRules?: TxNameRuleJson[]; features: string[] };
}

/** `span`: span v2 containers (the span sampler); `legacySpan`: legacy `span`/`otel_span` items. */
export type ItemType = 'transaction' | 'span' | 'legacySpan';
export type DecisionName = 'keep' | 'drop' | 'noMatch';
export type StageName = 'transaction' | 'project' | 'trace';
/** A point in time: a Date, an RFC 3339 string, or epoch milliseconds. */
export type TimeInput = Date | string | number;
