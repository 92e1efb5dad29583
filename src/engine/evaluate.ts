// The convenient API: evaluate, explain, match and parse with plain objects (off the hot path).

import { checkBoolean, checkObject, checkOneOf, checkOptionalObject, checkString, checkTime, describe } from './args';
import { nativeCall, SamplingConfigError } from './errors';
import { sampledReason } from './outcome';
import { native } from './native';
import type {
  ConditionJson,
  DecisionName,
  SamplingValueJson,
  DynamicSamplingContext,
  ItemType,
  SamplingConfigJson,
  SamplingRuleJson,
  StageName,
  TimeInput,
  TxNameRuleJson,
} from './types';

export interface EvaluateInput {
  /**
   * The sampling config of the project the item was sent to. Config objects are treated as
   * immutable: each is serialised and compiled once, then reused (pass a new object to change it).
   */
  config?: SamplingConfigJson | null;
  /** The sampling config of the project that started the trace (the DSC's `public_key`). */
  rootConfig?: SamplingConfigJson | null;
  dsc?: DynamicSamplingContext | Record<string, unknown> | null;
  /** The transaction event (for transaction rules, and to rebuild a DSC when there is none). */
  event?: Record<string, unknown> | null;
  /** Defaults to the current time. */
  now?: TimeInput;
  itemType?: ItemType;
  /** False when the DSC's project is unknown or belongs to another organisation. */
  rootProjectKnown?: boolean;
  /** Reservoir counts so far (rule id → count); the result carries the updated counts. */
  reservoirCounters?: Record<string, number>;
  /** Accept historical reservoir rules (off by default: a config holding one is rejected, as current Relay). */
  reservoir?: boolean;
  /**
   * The envelope header's `event_id`: it seeds the transaction stage (Relay writes it into the
   * event); without it, the event's own `event_id` does.
   */
  envelopeEventId?: string;
}

const ITEM_TYPES: readonly ItemType[] = ['transaction', 'span', 'legacySpan'];

/** Checks an `EvaluateInput` argument, naming the field at fault. */
function checkInput(name: string, input: unknown): asserts input is EvaluateInput {
  checkObject(name, input);
  const i = input as Record<string, unknown>;
  checkOptionalObject(`${name}.config`, i.config);
  checkOptionalObject(`${name}.rootConfig`, i.rootConfig);
  checkOptionalObject(`${name}.dsc`, i.dsc);
  checkOptionalObject(`${name}.event`, i.event);
  checkOptionalObject(`${name}.reservoirCounters`, i.reservoirCounters);
  if (i.now !== undefined) checkTime(`${name}.now`, i.now);
  if (i.itemType !== undefined) checkOneOf(`${name}.itemType`, i.itemType, ITEM_TYPES);
  if (i.rootProjectKnown !== undefined) checkBoolean(`${name}.rootProjectKnown`, i.rootProjectKnown);
  if (i.reservoir !== undefined) checkBoolean(`${name}.reservoir`, i.reservoir);
  if (i.envelopeEventId !== undefined) checkString(`${name}.envelopeEventId`, i.envelopeEventId);
}

/** Something the engine noticed about the inputs (a rejected or unsupported config, an ignored DSC). */
export interface EvaluationNote {
  config?: 'config' | 'rootConfig';
  rejected?: { path: string; ruleId: number | null; message: string };
  unsupported?: boolean;
  dsc?: 'ignored';
  reason?: string;
}

export interface EvaluateResult {
  decision: DecisionName;
  /** The applied rate; null when no rule terminated (`noMatch`, kept). */
  sampleRate: number | null;
  matchedRuleIds: number[];
  /** The trace- or event-seeded random value compared with the rate. */
  randomValue: number | null;
  /** The stage whose rule terminated evaluation. */
  stage: StageName | null;
  /** Relay's outcome reason when the item is dropped (`Sampled:` and rule categories), else null. */
  outcomeReason: string | null;
  notes: EvaluationNote[];
  reservoirCounters?: Record<string, number>;
}

export interface ExplainStep {
  stage: StageName;
  ruleId: number;
  type: 'sampleRate' | 'factor' | 'minimumSampleRate' | 'reservoir';
  /** The rule's value at `now`, after its decaying function. */
  value: number;
  /** The accumulated factor after this rule. */
  factor: number;
  /** False for a minimum rate that matched after the first one (ignored). */
  applied: boolean;
}

export interface ExplainResult extends EvaluateResult {
  /** The matched rules, in evaluation order. */
  explain: ExplainStep[];
  /** Every stage the item went through, with the rule ids each evaluates. */
  evaluationOrder: { stage: StageName; ids: number[] }[];
}

function toIso(now: TimeInput | undefined): string | number | undefined {
  if (now === undefined) return undefined;
  if (now instanceof Date) return now.toISOString();
  return now;
}

/** JSON text of each config object, so repeated calls with the same object serialise it once. */
const configTexts = new WeakMap<object, string>();

function configText(config: SamplingConfigJson | null | undefined): string | null {
  if (config === null || config === undefined) return null;
  let text = configTexts.get(config);
  if (text === undefined) {
    text = JSON.stringify(config);
    configTexts.set(config, text);
  }
  return text;
}

function call(input: EvaluateInput, extra: Record<string, unknown>): string {
  const request = JSON.stringify({
    dsc: input.dsc ?? null,
    event: input.event ?? null,
    now: toIso(input.now),
    itemType: input.itemType,
    rootProjectKnown: input.rootProjectKnown,
    reservoirCounters: input.reservoirCounters,
    reservoir: input.reservoir,
    envelopeEventId: input.envelopeEventId,
    ...extra,
  });
  return nativeCall(() => native.evaluateJson(request, configText(input.config), configText(input.rootConfig)));
}

/** The outcome reason Relay reports for a drop, next to the raw ids. */
function withReason<T extends EvaluateResult>(result: T): T {
  result.outcomeReason = result.decision === 'drop' ? sampledReason(result.matchedRuleIds) : null;
  return result;
}

/** Decides keep or drop for one transaction or span envelope, exactly as Relay would. */
export function evaluate(input: EvaluateInput): EvaluateResult {
  checkInput('input', input);
  return withReason(JSON.parse(call(input, {})));
}

/** `evaluate`, plus which rules matched, in which stage, with which factors. */
export function explain(input: EvaluateInput): ExplainResult {
  checkInput('input', input);
  return withReason(JSON.parse(call(input, { explain: true })));
}

/** Whether an error's trace was kept: `null` means "do not tag" (no `sampled` flag, unknown root). */
export function isTraceFullySampled(input: Omit<EvaluateInput, 'config' | 'event' | 'itemType'>): boolean | null {
  checkInput('input', input);
  const result = JSON.parse(call(input, { operation: 'isTraceFullySampled' }));
  return result.traceFullySampled;
}

/** The stages an item goes through with these configs, and the rule ids each evaluates. */
export function evaluationOrder(input: {
  config?: SamplingConfigJson | null;
  rootConfig?: SamplingConfigJson | null;
  itemType?: ItemType;
  reservoir?: boolean;
}): { stage: StageName; ids: number[] }[] {
  checkInput('input', input);
  return JSON.parse(nativeCall(() => native.evaluationOrderJson(JSON.stringify(input))));
}

/** What a condition is matched against: an event, a DSC, or a flat typed instance. */
export type MatchTarget =
  | { event: Record<string, unknown> }
  | { dsc: DynamicSamplingContext | Record<string, unknown> }
  | { instance: Record<string, unknown> };

/** Whether `condition` matches the event, DSC or flat instance. */
export function matchCondition(condition: ConditionJson | Record<string, unknown>, target: MatchTarget): boolean {
  checkObject('condition', condition);
  checkObject('target', target);
  if (!('event' in target || 'dsc' in target || 'instance' in target)) {
    throw new TypeError('target must hold one of `event`, `dsc` or `instance`');
  }
  const [kind, value] =
    'event' in target ? ['event', target.event] : 'dsc' in target ? ['dsc', target.dsc] : ['instance', target.instance];
  checkObject(`target.${kind}`, value);
  return nativeCall(() => native.matchConditionJson(JSON.stringify(condition), kind, JSON.stringify(value)));
}

export type ParseTarget = 'samplingConfig' | 'samplingRule' | 'ruleCondition' | 'dsc' | 'projectConfig';
const PARSE_TARGETS: readonly ParseTarget[] = ['samplingConfig', 'samplingRule', 'ruleCondition', 'dsc', 'projectConfig'];

/** One rule as the engine holds it after normalisation (`ParseReport.rules`). */
export interface RuleReport {
  id: number;
  /** `trace`, `transaction`, `project`, or `unsupported` for a type this engine does not know. */
  type: string;
  condition: ConditionJson;
  samplingValue: SamplingValueJson;
  /** Both ends, `null` where open (RFC 3339 UTC). */
  timeRange: { start: string | null; end: string | null };
  decayingFn: { type: 'constant' } | { type: 'linear'; decayedValue: number };
  unsupported: boolean;
  /** What makes the rule unsupported (the type is named first when both are). */
  unsupportedReason: 'ruleType' | 'condition' | null;
  typeUnsupported: boolean;
  conditionUnsupported: boolean;
}

/** The engine's report on one input: accepted or not, supported or not, and normalised details. */
export interface ParseReport {
  accepted: boolean;
  unsupported?: boolean;
  error?: { path: string; ruleId?: number | null; message: string };
  /** Configs: the version as written (1 when absent) and after normalisation. */
  declaredVersion?: number;
  normalizedVersion?: number;
  /** Configs: the version is above the supported one. */
  unsupportedVersion?: boolean;
  /** Configs and project configs: the ids of the rules evaluated, in order. */
  ruleIds?: number[];
  unsupportedRuleIds?: number[];
  /** What a legacy `rulesV2` list became: how many rules it held and whether they were appended to `rules`. */
  legacyRules?: { count: number; appended: boolean };
  /** Configs: every rule, normalised (time ranges, decaying functions, support). */
  rules?: RuleReport[];
  /** Project configs: the key the sampling config came under (`sampling` or `dynamicSampling`). */
  samplingKey?: 'sampling' | 'dynamicSampling';
  [detail: string]: unknown;
}

/**
 * Parses any of the engine's inputs and reports what the engine makes of it (`input` may be JSON
 * text or a value). `options.reservoir` accepts historical reservoir rules.
 */
export function parseReport(target: ParseTarget, input: unknown, options: { reservoir?: boolean } = {}): ParseReport {
  checkOneOf('target', target, PARSE_TARGETS);
  if (input === undefined || typeof input === 'function' || typeof input === 'symbol' || typeof input === 'bigint') {
    throw new TypeError(`input must be JSON text or a JSON value, got ${describe(input)}`);
  }
  checkObject('options', options);
  if (options.reservoir !== undefined) checkBoolean('options.reservoir', options.reservoir);
  const text = typeof input === 'string' ? input : JSON.stringify(input);
  return JSON.parse(nativeCall(() => native.parseJsonReport(target, text, options.reservoir ?? false)));
}

export interface ParsedSamplingConfig {
  /** The version after normalisation (legacy version 1 becomes 2). */
  version: number;
  rules: SamplingRuleJson[];
  /** Parsed, but uses something this engine does not know: treated as absent when sampling. */
  unsupported: boolean;
}

/** Parses and normalises a sampling config; throws `SamplingConfigError` with path and rule id. */
export function parseSamplingConfig(config: string | SamplingConfigJson, options: { reservoir?: boolean } = {}): ParsedSamplingConfig {
  if (typeof config !== 'string') checkObject('config', config);
  let value: unknown = config;
  if (typeof config === 'string') {
    try {
      value = JSON.parse(config);
    } catch (error) {
      throw new SamplingConfigError({ path: '', ruleId: null, message: `not valid JSON: ${(error as Error).message}` });
    }
  }
  const report = parseReport('samplingConfig', value, options);
  if (!report.accepted) {
    const e = report.error!;
    throw new SamplingConfigError({ path: e.path, ruleId: e.ruleId ?? null, message: e.message });
  }
  const serialized = report.serialized as { version: number; rules: SamplingRuleJson[] };
  return { version: serialized.version, rules: serialized.rules, unsupported: report.unsupported === true };
}

/** Every field normalization can change, with the value rules read (null: missing). */
export interface NormalizedFields {
  'event.transaction'?: string | null;
  'event.transaction.source'?: string | null;
  'event.contexts.browser.name'?: string | null;
  'event.contexts.browser.version'?: string | null;
  'event.contexts.device.family'?: string | null;
  'event.contexts.device.model'?: string | null;
  'event.contexts.device.brand'?: string | null;
  'event.contexts.os.name'?: string | null;
  'event.contexts.os.version'?: string | null;
  'event.contexts.os.build'?: string | null;
  'event.contexts.os.kernel_version'?: string | null;
  'event.contexts.trace.status'?: string | null;
  'event.contexts.trace.op'?: string | null;
  /** The DSC's name as parametrized with the root project's rules (only with a `dsc`). */
  'trace.transaction'?: string | null;
}

/**
 * What rules read after Relay's normalization (§4.4): the transaction name and source (URL
 * names scrubbed of identifiers, then `txNameRules`), user-agent contexts, trace status and op
 * for `event`; the parametrized name for `dsc` (with `rootTxNameRules`). For debugging and tests.
 */
export function normalizedFields(input: {
  event?: Record<string, unknown> | null;
  dsc?: DynamicSamplingContext | Record<string, unknown> | null;
  txNameRules?: readonly TxNameRuleJson[] | null;
  rootTxNameRules?: readonly TxNameRuleJson[] | null;
  /** For rule expiry; defaults to the current time. */
  now?: TimeInput;
}): NormalizedFields {
  const request = JSON.stringify({ ...input, now: toIso(input.now) });
  return JSON.parse(nativeCall(() => native.normalizedFieldsJson(request)));
}

/**
 * A transaction name as Relay parametrizes the DSC's before rules match: when it holds a `/`,
 * identifiers are scrubbed (`/users/1234` → `/users/*`) and `txNameRules` applied.
 */
export function parametrizeTransactionName(name: string, txNameRules?: readonly TxNameRuleJson[] | null): string {
  const rules = txNameRules === undefined || txNameRules === null ? null : JSON.stringify(txNameRules);
  return nativeCall(() => native.parametrizeTransactionName(name, rules)) ?? name;
}

/** The random value in [0, 1) Relay draws for a trace or event id. */
export function randomValue(id: string): number {
  checkString('id', id);
  return nativeCall(() => native.randomValueFor(id));
}
