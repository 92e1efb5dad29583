// The convenient API: evaluate, explain, match and parse with plain objects or compiled configs.
// `evaluate` with compiled configs (`compileSamplingConfig`) and the DSC and event as JSON bytes is
// a hot path: numbers cross the boundary, into arrays reused between calls.

import { checkBoolean, checkObject, checkOneOf, checkOptionalObject, checkString, checkTime, describe } from './args';
import { compileOrReject, handleOf, isCompiled, type CompiledSamplingConfig, type ConfigRejection } from './compiled-config';
import { nativeCall, SamplingConfigError, SamplingRequestError, toRequestError } from './errors';
import { sampledReason } from './outcome';
import { native, type CompiledConfigHandle } from './native';
import type {
  ConditionJson,
  DecisionName,
  SamplingValue,
  DynamicSamplingContext,
  ItemType,
  SamplingConfigJson,
  SamplingRuleJson,
  StageName,
  TimeInput,
  TxNameRuleJson,
} from './types';

/** A sampling config for the convenient API: compiled once (`compileSamplingConfig`), or an object. */
export type ConfigInput = CompiledSamplingConfig | SamplingConfigJson;

/** JSON for the DSC or the event: an object, or its JSON text or UTF-8 bytes (read by the engine alone). */
export type JsonInput = Record<string, unknown> | string | Uint8Array;

export interface EvaluateInput {
  /**
   * The sampling config of the project the item was sent to: a `CompiledSamplingConfig`, or a
   * config object (compiled on first use and cached for that object, so treat it as immutable;
   * a config object the engine rejects is reported in `notes` and samples as absent).
   */
  config?: ConfigInput | null;
  /** The sampling config of the project that started the trace (the DSC's `public_key`). */
  rootConfig?: ConfigInput | null;
  dsc?: DynamicSamplingContext | JsonInput | null;
  /** The transaction event (for transaction rules, and to rebuild a DSC when there is none). */
  event?: JsonInput | null;
  /** Defaults to the current time. */
  now?: TimeInput;
  itemType?: ItemType;
  /** False when the DSC's project is unknown or belongs to another organisation. */
  rootProjectKnown?: boolean;
  /** Reservoir counts so far (rule id → count); the result carries the updated counts. */
  reservoirCounters?: Record<string, number>;
  /**
   * Accept historical reservoir rules in config objects and count them in `reservoirCounters`
   * (off by default: a config holding one is rejected, as current Relay). Compiled configs carry
   * their own `reservoir` option.
   */
  reservoir?: boolean;
  /**
   * The envelope header's `event_id`: it seeds the transaction stage (Relay writes it into the
   * event); without it, the event's own `event_id` does.
   */
  envelopeEventId?: string;
}

const ITEM_TYPES: readonly ItemType[] = ['transaction', 'span', 'legacySpan'];

/** A DSC or event argument: an object, JSON text or bytes, or absent. */
function checkJsonInput(name: string, value: unknown): void {
  if (value === undefined || value === null || typeof value === 'string' || value instanceof Uint8Array) return;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, JSON text or UTF-8 bytes, got ${describe(value)}`);
  }
}

/** Checks an `EvaluateInput` argument, naming the field at fault. */
function checkInput(name: string, input: unknown): asserts input is EvaluateInput {
  checkObject(name, input);
  const i = input as Record<string, unknown>;
  checkOptionalObject(`${name}.config`, i.config);
  checkOptionalObject(`${name}.rootConfig`, i.rootConfig);
  checkJsonInput(`${name}.dsc`, i.dsc);
  checkJsonInput(`${name}.event`, i.event);
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

/** Config objects compiled on first use, per object and `reservoir` option: compiled, or rejected. */
const compiledObjects = [new WeakMap<object, CompiledSamplingConfig | ConfigRejection>(), new WeakMap<object, CompiledSamplingConfig | ConfigRejection>()];

/** The native handle of a config input (null: absent or rejected), noting what `evaluate` reports about it. */
function resolveConfig(
  which: 'config' | 'rootConfig',
  config: ConfigInput | null | undefined,
  reservoir: boolean,
  notes: EvaluationNote[],
): CompiledConfigHandle | null {
  if (config === null || config === undefined) return null;
  let compiled: CompiledSamplingConfig | ConfigRejection | undefined;
  if (isCompiled(config)) compiled = config;
  else {
    const cache = compiledObjects[reservoir ? 1 : 0];
    compiled = cache.get(config);
    if (compiled === undefined) {
      compiled = compileOrReject(JSON.stringify(config), reservoir);
      cache.set(config, compiled);
    }
  }
  if (!isCompiled(compiled)) {
    notes.push({ config: which, rejected: compiled });
    return null;
  }
  if (compiled.unsupported) notes.push({ config: which, unsupported: true });
  return handleOf(compiled);
}

/** What the `reservoir` option is for this input: as given, else as the compiled configs were compiled. */
function reservoirOf(input: EvaluateInput): boolean {
  if (input.reservoir !== undefined) return input.reservoir;
  const { config, rootConfig } = input;
  return (isCompiled(config) && config.reservoir) || (isCompiled(rootConfig) && rootConfig.reservoir);
}

/** The DSC or event as the engine takes it: JSON bytes or text. */
function jsonArg(value: JsonInput | DynamicSamplingContext | null | undefined): Uint8Array | string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || value instanceof Uint8Array) return value;
  return JSON.stringify(value);
}

function toIso(now: TimeInput | undefined): string | number | undefined {
  if (now === undefined) return undefined;
  if (now instanceof Date) return now.toISOString();
  return now;
}

function timeArg(now: TimeInput | undefined): number | string | null {
  if (now === undefined) return null;
  if (now instanceof Date) return now.getTime();
  return now;
}

const ITEM_FLAGS: Record<ItemType, number> = { transaction: 0, span: native.EVALUATE_ITEM_SPAN, legacySpan: native.EVALUATE_ITEM_LEGACY_SPAN };

function flagsOf(input: { itemType?: ItemType; rootProjectKnown?: boolean }, extra = 0): number {
  return ITEM_FLAGS[input.itemType ?? 'transaction'] | (input.rootProjectKnown === false ? native.EVALUATE_ROOT_UNKNOWN : 0) | extra;
}

/** The numbers `evaluateCompiled` writes, and the matched rule ids (grown when a call needs more). */
const out = new Float64Array(native.EVALUATION_SLOTS);
const { EVALUATION_SLOT_SAMPLE_RATE, EVALUATION_SLOT_RANDOM_VALUE, EVALUATION_SLOT_STAGE, EVALUATION_SLOT_MATCHED_COUNT, EVALUATION_SLOT_DSC_IGNORED } = native;
let ids = new Uint32Array(64);
const DECISIONS: readonly DecisionName[] = ['keep', 'drop', 'noMatch'];
const STAGES: readonly StageName[] = ['transaction', 'project', 'trace'];

/** One `evaluateCompiled` call: the code, with `out` and `ids` filled. */
function evaluateNative(input: EvaluateInput, own: CompiledConfigHandle | null, root: CompiledConfigHandle | null, extraFlags = 0): number {
  const dsc = jsonArg(input.dsc);
  const event = jsonArg(input.event);
  const now = timeArg(input.now);
  const flags = flagsOf(input, extraFlags);
  const eventId = input.envelopeEventId ?? null;
  try {
    let code = native.evaluateCompiled(own, root, dsc, event, now, flags, eventId, out, ids);
    const matched = out[EVALUATION_SLOT_MATCHED_COUNT];
    if (matched > ids.length) {
      ids = new Uint32Array(matched * 2);
      code = native.evaluateCompiled(own, root, dsc, event, now, flags, eventId, out, ids);
    }
    return code;
  } catch (error) {
    throw toRequestError(error);
  }
}

function dscNote(notes: EvaluationNote[]): void {
  if (out[EVALUATION_SLOT_DSC_IGNORED] === 1) notes.push({ dsc: 'ignored', reason: native.lastIgnoredDscReason() ?? '' });
}

/** The DSC or event as a value for the JSON route (JSON text and bytes parsed here). */
function jsonValue(name: string, value: JsonInput | DynamicSamplingContext | null | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) return value;
  const text = typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SamplingRequestError(`${name} is not valid JSON: ${(error as Error).message}`);
  }
}

/** The JSON route, for explanations and reservoir counters: the configs compiled, the rest as JSON. */
function evaluateJson(input: EvaluateInput, own: CompiledConfigHandle | null, root: CompiledConfigHandle | null, notes: EvaluationNote[], reservoir: boolean, explain: boolean): ExplainResult {
  const request = JSON.stringify({
    dsc: jsonValue('input.dsc', input.dsc),
    event: jsonValue('input.event', input.event),
    now: toIso(input.now),
    itemType: input.itemType,
    rootProjectKnown: input.rootProjectKnown,
    reservoirCounters: input.reservoirCounters,
    reservoir,
    envelopeEventId: input.envelopeEventId,
    explain,
  });
  const result = JSON.parse(nativeCall(() => native.evaluateCompiledJson(own, root, request))) as ExplainResult;
  result.notes = [...notes, ...result.notes];
  return result;
}

/** The outcome reason Relay reports for a drop, next to the raw ids. */
function withReason<T extends EvaluateResult>(result: T): T {
  result.outcomeReason = result.decision === 'drop' ? sampledReason(result.matchedRuleIds) : null;
  return result;
}

/**
 * Decides keep or drop for one transaction or span item, exactly as Relay would. With compiled
 * configs and the DSC and event as JSON bytes or text, nothing but numbers crosses to the engine.
 */
export function evaluate(input: EvaluateInput): EvaluateResult {
  checkInput('input', input);
  const reservoir = reservoirOf(input);
  const notes: EvaluationNote[] = [];
  const own = resolveConfig('config', input.config, reservoir, notes);
  const root = resolveConfig('rootConfig', input.rootConfig, reservoir, notes);
  if (input.reservoirCounters !== undefined && input.reservoirCounters !== null) {
    return withReason(evaluateJson(input, own, root, notes, reservoir, false));
  }
  const code = evaluateNative(input, own, root);
  dscNote(notes);
  const rate = out[EVALUATION_SLOT_SAMPLE_RATE];
  const random = out[EVALUATION_SLOT_RANDOM_VALUE];
  const count = out[EVALUATION_SLOT_MATCHED_COUNT];
  const matchedRuleIds = new Array<number>(count);
  for (let k = 0; k < count; k++) matchedRuleIds[k] = ids[k];
  const decision = DECISIONS[code];
  return {
    decision,
    sampleRate: Number.isNaN(rate) ? null : rate,
    matchedRuleIds,
    randomValue: Number.isNaN(random) ? null : random,
    stage: STAGES[out[EVALUATION_SLOT_STAGE]] ?? null,
    notes,
    outcomeReason: decision === 'drop' ? sampledReason(matchedRuleIds) : null,
  };
}

/** `evaluate`, plus which rules matched, in which stage, with which factors. */
export function explain(input: EvaluateInput): ExplainResult {
  checkInput('input', input);
  const reservoir = reservoirOf(input);
  const notes: EvaluationNote[] = [];
  const own = resolveConfig('config', input.config, reservoir, notes);
  const root = resolveConfig('rootConfig', input.rootConfig, reservoir, notes);
  return withReason(evaluateJson(input, own, root, notes, reservoir, true));
}

/** Whether an error's trace was kept: `null` means "do not tag" (no `sampled` flag, unknown root). */
export function isTraceFullySampled(input: Omit<EvaluateInput, 'config' | 'event' | 'itemType'>): boolean | null {
  checkInput('input', input);
  const root = resolveConfig('rootConfig', input.rootConfig, reservoirOf(input), []);
  const code = evaluateNative({ ...input, event: null, itemType: undefined }, null, root, native.EVALUATE_TRACE_FULLY_SAMPLED);
  return code === 0 ? null : code === 2;
}

/** The stages an item goes through with these configs, and the rule ids each evaluates. */
export function evaluationOrder(input: {
  config?: ConfigInput | null;
  rootConfig?: ConfigInput | null;
  itemType?: ItemType;
  reservoir?: boolean;
}): { stage: StageName; ids: number[] }[] {
  checkInput('input', input);
  const reservoir = reservoirOf(input);
  const own = resolveConfig('config', input.config, reservoir, []);
  const root = resolveConfig('rootConfig', input.rootConfig, reservoir, []);
  return JSON.parse(nativeCall(() => native.evaluationOrderCompiled(own, root, flagsOf(input))));
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
  samplingValue: SamplingValue;
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
