// An OpenTelemetry `Sampler` (@opentelemetry/sdk-trace-base 2.x) with the server's rules:
// ParentBased, span attributes mapped to the fields rules read, and the decision written as a
// consistent-probability threshold (`th`) with the randomness that decided (`rv`) in the `ot`
// tracestate entry, so OTel samplers downstream can only tighten it.

import type { Attributes, Context, Link, SpanKind, TraceState } from '@opentelemetry/api';

import { checkPublicKey } from '../engine/args';
import { checkRate, createHeadRules, HeadRules, type HeadRulesOptions } from './head-rules';
import type { ProbeFields } from './probe';
import { EXPLICIT_DECISION_ATTRIBUTE, type ParentPolicy } from './traces-sampler';
import { OtTraceState } from './ot-trace-state';
import { formatOtEntry, parseOtEntry, passes, randomnessFromValue, thresholdFor } from './otel-threshold';

type OtelApi = typeof import('@opentelemetry/api');

/** `SamplingDecision` of @opentelemetry/sdk-trace-base (a const enum there: the values are fixed by the spec). */
const NOT_RECORD = 0;
const RECORD_AND_SAMPLED = 2;
const SAMPLED_FLAG = 1;

export interface OtelSamplerOptions extends Partial<HeadRulesOptions> {
  /** The project key the spans are sent to (its rules apply). */
  publicKey: string;
  /** Rules shared with other samplers (instead of the config-source options). */
  rules?: HeadRules;
  /** `inherit` (default, ParentBased): follow the parent's sampled flag; `rules`: re-decide root and remote-parent spans. */
  parentPolicy?: ParentPolicy;
  /** The release when a span carries no `service.version` (set it from the resource). */
  release?: string;
  /** The environment when a span carries no `deployment.environment.name` (default `production`). */
  environment?: string;
}

export interface SamplingResultLike {
  decision: number;
  attributes?: Attributes;
  traceState?: TraceState;
}

function str(attributes: Attributes, name: string): string | undefined {
  const value = attributes[name];
  return typeof value === 'string' ? value : undefined;
}

/** The sampler: pass it as `sampler` to a tracer provider. */
export class DynamicSamplingOtelSampler {
  readonly rules: HeadRules;
  private readonly owned: boolean;
  private readonly publicKey: string;
  private readonly parentPolicy: ParentPolicy;
  private readonly release: string | undefined;
  private readonly environment: string;
  private readonly api: OtelApi;
  private readonly fields: ProbeFields;
  private readonly empty: TraceState;
  private readonly createTraceState: (raw: string) => TraceState;
  /** `th` per rate (a project has few distinct rates). */
  private readonly thresholds = new Map<number, ReturnType<typeof thresholdFor>>();

  constructor(options: OtelSamplerOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError(`the OpenTelemetry sampler needs an options object, got ${JSON.stringify(options)}`);
    const { rules, publicKey, parentPolicy = 'inherit', release, environment = 'production', ...ruleOptions } = options;
    checkPublicKey('publicKey', publicKey);
    if (parentPolicy !== 'inherit' && parentPolicy !== 'rules') throw new TypeError(`parentPolicy must be 'inherit' or 'rules', got ${JSON.stringify(parentPolicy)}`);
    if (rules !== undefined && !(rules instanceof HeadRules)) throw new TypeError('rules must come from createHeadRules');
    if (ruleOptions.fallbackRate !== undefined) checkRate('fallbackRate', ruleOptions.fallbackRate);
    this.rules = rules ?? createHeadRules(ruleOptions as HeadRulesOptions);
    this.owned = rules === undefined;
    this.publicKey = publicKey;
    this.parentPolicy = parentPolicy;
    this.release = release;
    this.environment = environment;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.api = require('@opentelemetry/api') as OtelApi;
    this.empty = this.api.createTraceState();
    const api = this.api;
    this.createTraceState = (raw) => api.createTraceState(raw);
    this.fields = { item: 'span', publicKey, rootKey: publicKey, release, environment, dscTransaction: undefined, name: '', source: undefined, op: undefined, method: undefined };
  }

  shouldSample(context: Context, traceId: string, spanName: string, _kind: SpanKind, attributes: Attributes, _links: Link[]): SamplingResultLike {
    const parent = this.api.trace.getSpanContext(context);
    const hasParent = parent !== undefined && this.api.isSpanContextValid(parent);
    if (hasParent && (this.parentPolicy === 'inherit' || !parent.isRemote)) {
      // The tracer keeps the parent's tracestate (with its `ot` entry) when the result has none.
      return { decision: (parent.traceFlags & SAMPLED_FLAG) === SAMPLED_FLAG ? RECORD_AND_SAMPLED : NOT_RECORD };
    }
    const explicit = attributes[EXPLICIT_DECISION_ATTRIBUTE];
    if (typeof explicit === 'boolean' || typeof explicit === 'number') {
      return { decision: explicit === true || (typeof explicit === 'number' && explicit > 0) ? RECORD_AND_SAMPLED : NOT_RECORD };
    }
    const fields = this.fields;
    const route = str(attributes, 'http.route');
    fields.name = route ?? spanName;
    fields.dscTransaction = fields.name;
    fields.source = route === undefined ? 'custom' : 'route';
    fields.release = str(attributes, 'service.version') ?? this.release;
    fields.environment = str(attributes, 'deployment.environment.name') ?? str(attributes, 'deployment.environment') ?? this.environment;
    fields.op = str(attributes, 'sentry.op');
    fields.method = str(attributes, 'http.request.method');
    fields.userId = this.rules.readsUser(this.publicKey) ? str(attributes, 'enduser.id') : undefined;
    const incoming = hasParent ? parseOtEntry(parent.traceState?.get('ot')) : undefined;
    const decision = this.rules.decide(fields, traceId);
    if (incoming?.rv !== undefined) {
      // Randomness the trace already carries wins (OTel consistency); the threshold is the rules' rate.
      const threshold = thresholdFor(decision.rate);
      if (threshold === null || !passes(incoming.rv, threshold)) return { decision: NOT_RECORD };
      const state = parent!.traceState ?? this.empty;
      return { decision: RECORD_AND_SAMPLED, traceState: state.set('ot', formatOtEntry(threshold.th, incoming.rv, incoming.rest)) };
    }
    if (!decision.keep) return { decision: NOT_RECORD };
    let threshold = this.thresholds.get(decision.rate);
    if (threshold === undefined) {
      threshold = thresholdFor(decision.rate);
      if (this.thresholds.size > 1000) this.thresholds.clear();
      this.thresholds.set(decision.rate, threshold);
    }
    const ot = formatOtEntry(threshold === null ? '0' : threshold.th, randomnessFromValue(decision.random), incoming?.rest);
    if (!hasParent) return { decision: RECORD_AND_SAMPLED, traceState: new OtTraceState(ot, this.createTraceState) };
    return { decision: RECORD_AND_SAMPLED, traceState: (parent!.traceState ?? this.empty).set('ot', ot) };
  }

  toString(): string {
    return `DynamicSampling{${this.publicKey}}`;
  }

  /** Closes the rules when this sampler created them. */
  close(): Promise<void> {
    return this.owned ? this.rules.close() : Promise.resolve();
  }
}

/** Creates the OpenTelemetry sampler: `new BasicTracerProvider({ sampler: createOtelSampler({ publicKey, file }) })`. */
export function createOtelSampler(options: OtelSamplerOptions): DynamicSamplingOtelSampler {
  return new DynamicSamplingOtelSampler(options);
}
