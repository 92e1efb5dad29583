// The native engine: a store of compiled project configs and the envelope fast path, which
// decides from raw bytes and reports numbers in reusable typed arrays.

import { checkBoolean, checkBytes, checkNonNegativeInteger, checkObject, checkPublicKey, checkTime, describe } from './args';
import { EnvelopeError, nativeCall, SamplingConfigError, SamplingRequestError } from './errors';
import { sampledReason } from './outcome';
import { native, type BindingEngine } from './native';
import { EnvelopePlanView } from './plan';
import type { DecisionName, SamplingConfigJson, TimeInput, TxNameRuleJson } from './types';

/** Decision codes returned by the fast path. */
export const KEEP = 0;
export const DROP = 1;
export const NO_MATCH = 2;
export const DECISION_NAMES: readonly DecisionName[] = ['keep', 'drop', 'noMatch'];

/** Statuses of the fast path beyond the envelope error codes (the binding's 100, 101, 102). */
const STATUS_ERRORS: Readonly<Record<number, string>> = {
  100: 'the engine was released',
  101: 'unknown key handle',
  102: 'internal error in the sampling engine',
};

/** Slots of a result row (`SamplingEngine.result`, or a row of a batch's `out`): the binding's constants. */
export const OUT = {
  decision: native.RESULT_DECISION,
  sampleRate: native.RESULT_SAMPLE_RATE,
  randomValue: native.RESULT_RANDOM_VALUE,
  kind: native.RESULT_KIND,
  keepReason: native.RESULT_KEEP_REASON,
  traceFullySampled: native.RESULT_TRACE_FULLY_SAMPLED,
  matchedCount: native.RESULT_MATCHED_COUNT,
  spanCount: native.RESULT_SPAN_COUNT,
  invalidDsc: native.RESULT_INVALID_DSC,
  /** Four 32-bit words of the DSC's project key when the engine does not know it (else NaN). */
  unknownRootKey: native.RESULT_UNKNOWN_ROOT_KEY,
  /** When the envelope holds a transaction and spans: the spans' own decision code (else NaN). */
  spanDecision: native.RESULT_SPAN_DECISION,
  /** ... and the rate applied to the spans (NaN when none). */
  spanSampleRate: native.RESULT_SPAN_SAMPLE_RATE,
  /** Span v2 containers rejected before sampling (`SPAN_REJECTIONS`). */
  spanRejection: native.RESULT_SPAN_REJECTION,
  /** Words of the plan the last `sampleEnvelope` wrote (NaN in batch rows). */
  planWords: native.RESULT_PLAN_WORDS,
  /** The reservoir rule that kept the item (NaN when none), its limit and its end (epoch ms, NaN when open-ended). */
  reservoirRule: native.RESULT_RESERVOIR_RULE,
  reservoirLimit: native.RESULT_RESERVOIR_LIMIT,
  reservoirEnd: native.RESULT_RESERVOIR_END,
} as const;
export const STRIDE: number = native.RESULT_STRIDE;

/** Why span v2 containers were rejected (`OUT.spanRejection`): an outcome of their own (Relay's
 * `missing_dsc` / `invalid_dsc`), not a sampling drop. */
export const SPAN_REJECTIONS = ['none', 'missingDsc', 'invalidDsc'] as const;
export type SpanRejection = (typeof SPAN_REJECTIONS)[number];

/** The DSC project key the engine did not know, from a result row (null when none). */
export function unknownRootKey(out: Float64Array, row = 0): string | null {
  if (!(out instanceof Float64Array)) throw new TypeError(`out must be a Float64Array, got ${describe(out)}`);
  checkNonNegativeInteger('row', row);
  const base = row * STRIDE + OUT.unknownRootKey;
  if (Number.isNaN(out[base])) return null;
  let key = '';
  for (let i = 0; i < 4; i++) key += (out[base + i] >>> 0).toString(16).padStart(8, '0');
  return key;
}

/** What an envelope held, as far as sampling goes (`OUT.kind`). */
export const ENVELOPE_KINDS = ['other', 'transaction', 'spans', 'error'] as const;
export type EnvelopeKind = (typeof ENVELOPE_KINDS)[number];

/** Why an envelope was kept without a full evaluation (`OUT.keepReason`). */
export const KEEP_REASONS = ['none', 'unknownProject', 'noConfig', 'invalidEvent'] as const;
export type KeepReason = (typeof KEEP_REASONS)[number];

export interface ProjectInfo {
  projectId: number;
  organizationId: number;
}

/** A decision as an object, for callers off the hot path. */
export interface EnvelopeDecision {
  decision: DecisionName;
  sampleRate: number | null;
  randomValue: number | null;
  kind: EnvelopeKind;
  keepReason: KeepReason;
  /** For error envelopes: the value for `contexts.trace.sampled` (`null`: do not tag). */
  traceFullySampled: boolean | null;
  matchedRuleIds: number[];
  spanCount: number;
  invalidDsc: boolean;
  /** The DSC's project key when the engine holds no such project. */
  unknownRootKey: string | null;
  /** Relay's outcome reason when the decision is a drop (`Sampled:` and rule categories), else null. */
  outcomeReason: string | null;
  /** The spans' own decision when the envelope also holds a transaction (else null). */
  spanDecision: DecisionName | null;
  spanSampleRate: number | null;
  /** Span v2 containers rejected before sampling: an outcome, not a sampling drop. */
  spanRejection: SpanRejection;
  /** The reservoir rule that kept the item (its count went up by one), or null. */
  reservoirRule: ReservoirHit | null;
}

/** A reservoir rule that kept an item: what a fleet counts against the rule's shared budget. */
export interface ReservoirHit {
  id: number;
  limit: number;
  /** End of the rule's time range (ms since the epoch), or null when open-ended. */
  endMs: number | null;
}

export interface EngineOptions {
  /**
   * Accept historical reservoir rules (`{"type":"reservoir","limit":n}`). Off by default: a config
   * holding one is rejected, as current Relay does.
   */
  reservoir?: boolean;
}

function epochMs(now: TimeInput): number {
  if (now instanceof Date) return now.getTime();
  if (typeof now === 'string') {
    const ms = Date.parse(now);
    if (Number.isNaN(ms)) throw new TypeError(`now: not a valid time: ${now}`);
    return ms;
  }
  return now;
}

/**
 * The one decoder of results: a result row (the engine's `result`, or row `row` of a batch's
 * `out`) and its matched rule ids as an object.
 */
function nullable(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}

export function decisionFromRow(out: Float64Array, row: number, ids: Uint32Array, idsStart: number, idsCap: number): EnvelopeDecision {
  const base = row * STRIDE;
  const matched = Math.min(out[base + OUT.matchedCount], idsCap);
  const tfs = out[base + OUT.traceFullySampled];
  const matchedRuleIds: number[] = new Array(matched);
  for (let i = 0; i < matched; i++) matchedRuleIds[i] = ids[idsStart + i];
  const decision = DECISION_NAMES[out[base + OUT.decision]];
  const spanCode = out[base + OUT.spanDecision];
  return {
    decision,
    sampleRate: nullable(out[base + OUT.sampleRate]),
    randomValue: nullable(out[base + OUT.randomValue]),
    kind: ENVELOPE_KINDS[out[base + OUT.kind]],
    keepReason: KEEP_REASONS[out[base + OUT.keepReason]],
    traceFullySampled: tfs === 0 ? null : tfs === 2,
    matchedRuleIds,
    spanCount: out[base + OUT.spanCount],
    invalidDsc: out[base + OUT.invalidDsc] === 1,
    unknownRootKey: Number.isNaN(out[base + OUT.unknownRootKey]) ? null : unknownRootKey(out, row),
    outcomeReason: decision === 'drop' ? sampledReason(matchedRuleIds) : null,
    spanDecision: Number.isNaN(spanCode) ? null : DECISION_NAMES[spanCode],
    spanSampleRate: nullable(out[base + OUT.spanSampleRate]),
    spanRejection: SPAN_REJECTIONS[out[base + OUT.spanRejection]] ?? 'none',
    reservoirRule: Number.isNaN(out[base + OUT.reservoirRule])
      ? null
      : { id: out[base + OUT.reservoirRule], limit: out[base + OUT.reservoirLimit], endMs: nullable(out[base + OUT.reservoirEnd]) },
  };
}

/** Holds many envelopes for one `sampleEnvelopes` call; reusable after `clear()`. */
export class EnvelopeBatch {
  private data: Uint8Array;
  private used = 0;
  private offsetsBuf: Uint32Array;
  private keysBuf: Uint8Array;
  private count = 0;
  private static readonly keyCache = new Map<string, Buffer>();
  out: Float64Array;
  ids: Uint32Array;

  constructor(
    readonly capacity = 256,
    /** Matched rule ids kept per envelope (more are counted but not listed). */
    readonly idsPerEnvelope = 16,
    initialBytes = 1 << 20,
  ) {
    checkNonNegativeInteger('capacity', capacity);
    checkNonNegativeInteger('idsPerEnvelope', idsPerEnvelope);
    checkNonNegativeInteger('initialBytes', initialBytes);
    this.data = new Uint8Array(initialBytes);
    this.offsetsBuf = new Uint32Array(capacity + 1);
    this.keysBuf = new Uint8Array(capacity * 16);
    this.out = new Float64Array(capacity * STRIDE);
    this.ids = new Uint32Array(capacity * idsPerEnvelope);
  }

  get length(): number {
    return this.count;
  }

  /** Adds an envelope sent to the project `publicKey`; returns its index, or -1 when full. */
  add(envelope: Uint8Array, publicKey: string): number {
    checkBytes('envelope', envelope);
    if (this.count === this.capacity) return -1;
    let key = EnvelopeBatch.keyCache.get(publicKey);
    if (key === undefined) {
      checkPublicKey('publicKey', publicKey);
      key = Buffer.from(publicKey, 'hex');
      if (EnvelopeBatch.keyCache.size > 100_000) EnvelopeBatch.keyCache.clear();
      EnvelopeBatch.keyCache.set(publicKey, key);
    }
    if (this.used + envelope.length > this.data.length) {
      const grown = new Uint8Array(Math.max(this.data.length * 2, this.used + envelope.length));
      grown.set(this.data.subarray(0, this.used));
      this.data = grown;
    }
    this.data.set(envelope, this.used);
    this.keysBuf.set(key, this.count * 16);
    this.offsetsBuf[this.count] = this.used;
    this.used += envelope.length;
    this.offsetsBuf[this.count + 1] = this.used;
    return this.count++;
  }

  clear(): void {
    this.count = 0;
    this.used = 0;
  }

  /** @internal The arrays handed to the engine. */
  views(): [Uint8Array, Uint32Array, Uint8Array] {
    return [this.data.subarray(0, this.used), this.offsetsBuf.subarray(0, this.count + 1), this.keysBuf.subarray(0, this.count * 16)];
  }

  /** The decision code of envelope `i` (negative: the envelope could not be read). */
  decisionCode(i: number): number {
    return this.out[i * STRIDE + OUT.decision];
  }

  /** Envelope `i`'s decision as an object (throws `EnvelopeError` for unreadable envelopes). */
  decision(i: number): EnvelopeDecision {
    const code = this.decisionCode(i);
    if (code < 0) throw new EnvelopeError(-code);
    return decisionFromRow(this.out, i, this.ids, i * this.idsPerEnvelope, this.idsPerEnvelope);
  }
}

/**
 * Project configs by public key, compiled once, and the per-envelope decision.
 *
 * Each instance owns its own native store; create one per process (or per worker thread).
 */
export class SamplingEngine {
  private readonly binding: BindingEngine;
  /** The hot path calls plain functions with this id: entering a class method costs far more. */
  private readonly id: number;
  private readonly handles = new Map<string, number>();
  /** The last `sampleEnvelope` result, read with the `OUT` slots (engine memory, rewritten by each call). */
  readonly result: Float64Array;
  /** The last `sampleEnvelope` matched rule ids (`result[OUT.matchedCount]` of them, up to 64). */
  readonly matchedRuleIds: Uint32Array;
  /** Whether configs with reservoir rules are accepted (`EngineOptions.reservoir`). */
  readonly reservoir: boolean;
  /**
   * The plan of the last `sampleEnvelope` (items, fates, error tag edits, header fields, roots):
   * what a server forwards is assembled from it, without reading the envelope's JSON again.
   */
  readonly plan: EnvelopePlanView;

  constructor(options: EngineOptions = {}) {
    checkObject('options', options);
    if (options.reservoir !== undefined) checkBoolean('options.reservoir', options.reservoir);
    this.reservoir = options.reservoir === true;
    this.binding = new native.BindingEngine(this.reservoir);
    this.id = this.binding.id;
    this.result = this.binding.resultView();
    this.matchedRuleIds = this.binding.matchedIdsView();
    this.plan = new EnvelopePlanView(() => this.binding.planView());
  }

  /**
   * Sets the count of reservoir rule `ruleId` in every project of the organisation (and projects
   * installed later): how a fleet shares the rule's budget. At the rule's limit the rule is used
   * up and decisions go on as if it were not there; nothing is recompiled.
   */
  setReservoirCount(organizationId: number, ruleId: number, count: number): void {
    checkNonNegativeInteger('organizationId', organizationId);
    checkNonNegativeInteger('ruleId', ruleId);
    checkNonNegativeInteger('count', count);
    nativeCall(() => this.binding.setReservoirCount(organizationId, ruleId, count));
  }

  /** Makes plans carry trace roots and releases of kept items (off by default: it reads payloads). */
  setCounting(on: boolean): void {
    checkBoolean('on', on);
    nativeCall(() => this.binding.setCounting(on));
  }

  /** The number standing for a key at the boundary (strings cost more to pass than numbers). */
  private handle(publicKey: string): number {
    let handle = this.handles.get(publicKey);
    if (handle === undefined) {
      handle = nativeCall(() => this.binding.keyHandle(publicKey));
      this.handles.set(publicKey, handle);
    }
    return handle;
  }

  /**
   * Installs or replaces a project's sampling config, atomically, with the project's
   * transaction-name rules (`txNameRules`: they rewrite URL-like transaction names before rules
   * match). A config that fails to parse throws `SamplingConfigError` and leaves the previous
   * config in force.
   */
  putProject(
    publicKey: string,
    info: ProjectInfo,
    sampling: SamplingConfigJson | string | null | undefined,
    txNameRules?: readonly TxNameRuleJson[] | string | null,
  ): void {
    checkPublicKey('publicKey', publicKey);
    checkObject('info', info);
    checkNonNegativeInteger('info.projectId', info.projectId);
    checkNonNegativeInteger('info.organizationId', info.organizationId);
    if (sampling !== null && sampling !== undefined && typeof sampling !== 'string') checkObject('sampling', sampling);
    if (txNameRules !== null && txNameRules !== undefined && typeof txNameRules !== 'string' && !Array.isArray(txNameRules)) throw new TypeError(`txNameRules must be an array, JSON text or null, got ${describe(txNameRules)}`);
    const json = sampling === null || sampling === undefined ? null : typeof sampling === 'string' ? sampling : JSON.stringify(sampling);
    const rules = txNameRules === null || txNameRules === undefined ? null : typeof txNameRules === 'string' ? txNameRules : JSON.stringify(txNameRules);
    const error = nativeCall(() => this.binding.putProject(publicKey, info.projectId, info.organizationId, json, rules));
    if (error !== null) throw new SamplingConfigError(JSON.parse(error), publicKey);
  }

  /** Forgets a project: its envelopes are then kept as from an unknown project. */
  removeProject(publicKey: string): boolean {
    checkPublicKey('publicKey', publicKey);
    return nativeCall(() => this.binding.removeProject(publicKey));
  }

  get projectCount(): number {
    return nativeCall(() => this.binding.projectCount());
  }

  /** Pins the engine's clock (tests, replays); `null` returns to the system clock. */
  setNow(now: TimeInput | null): void {
    if (now !== null) checkTime('now', now);
    this.binding.setNow(now === null ? null : epochMs(now));
  }

  /**
   * The fast path: decides for an envelope sent to `publicKey` from its raw bytes. Returns
   * `KEEP`, `DROP` or `NO_MATCH` (details in `result` and `matchedRuleIds`), or a negative
   * envelope error code when the envelope cannot be read (see `ENVELOPE_ERRORS`).
   */
  sampleEnvelope(envelope: Uint8Array, publicKey: string): number {
    let handle = this.handles.get(publicKey);
    if (handle === undefined) {
      // Checked once per key (the hot path then skips the checks).
      checkPublicKey('publicKey', publicKey);
      handle = this.handle(publicKey);
    }
    if (!(envelope instanceof Uint8Array)) checkBytes('envelope', envelope);
    return this.sampleWithHandle(envelope, handle);
  }

  private sampleWithHandle(envelope: Uint8Array, handle: number): number {
    const status = native.sampleEnvelope(this.id, envelope, handle);
    if (status === 0) {
      this.plan.refresh(this.result[OUT.planWords]);
      return this.result[OUT.decision];
    }
    if (status >= 100) throw new SamplingRequestError(STATUS_ERRORS[status] ?? `engine status ${status}`);
    return -status;
  }

  /**
   * `sampleEnvelope` for an envelope whose project is not known yet (e.g. to read the header's
   * `dsn` before authenticating): the envelope is planned and kept as from an unknown project.
   */
  sampleUnattributed(envelope: Uint8Array): number {
    if (!(envelope instanceof Uint8Array)) checkBytes('envelope', envelope);
    return this.sampleWithHandle(envelope, native.NO_PROJECT);
  }

  /** `sampleEnvelope` with the result as an object; throws `EnvelopeError` for unreadable envelopes. */
  decideEnvelope(envelope: Uint8Array, publicKey: string): EnvelopeDecision {
    const code = this.sampleEnvelope(envelope, publicKey);
    if (code < 0) throw new EnvelopeError(-code);
    return decisionFromRow(this.result, 0, this.matchedRuleIds, 0, this.matchedRuleIds.length);
  }

  /** Decides for every envelope of the batch in one native call; results land in the batch. */
  sampleEnvelopes(batch: EnvelopeBatch): void {
    if (!(batch instanceof EnvelopeBatch)) throw new TypeError(`batch must be an EnvelopeBatch, got ${describe(batch)}`);
    const [data, offsets, keys] = batch.views();
    nativeCall(() => native.sampleEnvelopes(this.id, data, offsets, keys, batch.out, batch.ids, batch.idsPerEnvelope));
  }

  /** @internal The empty native call with the fast path's arguments (benchmarks). */
  noop(envelope: Uint8Array, publicKey = '00000000000000000000000000000000'): number {
    return native.noop(this.id, envelope, this.handles.get(publicKey) ?? this.handle(publicKey));
  }
}
