// `tracesSampler` for @sentry/node: the server's rules at span start, decided with the engine's own
// seeded value (returned as 0 or 1), while the DSC carries the rule's rate and a `sample_rand`
// consistent with the decision, so the server and downstream SDKs agree with it.

import type { Client, Span } from '@sentry/core';

import { checkRate, createHeadRules, HeadRules, type HeadDecision, type HeadRulesOptions } from './head-rules';
import type { ProbeFields } from './probe';
import { defaultWarn, onceWarner, rateOf } from './results';
import { loadSentry, type SentryApi } from './sentry-api';

/** What to do when the trace arrives with a decision from upstream. */
export type ParentPolicy = 'inherit' | 'rules';

export interface TracesSamplerOptions extends Partial<HeadRulesOptions> {
  /** Rules shared with other samplers (instead of the config-source options). */
  rules?: HeadRules;
  /** `inherit` (default): follow an upstream decision; `rules`: re-decide with the rules (breaks traces that other services keep). */
  parentPolicy?: ParentPolicy;
  /** The project key to evaluate (default: the public key of the client's DSN). */
  publicKey?: string;
  /** The Sentry SDK module to read scopes from (default: `require('@sentry/node')`). */
  sentry?: SentryApi;
  /**
   * The application's own decision, asked first (after an explicit `sampling.priority`): a boolean
   * or a rate in [0, 1]; undefined falls through. Any other result is warned about and drops the span.
   */
  override?: (context: SamplingContextLike) => unknown;
  /** Where warnings go (default: `process.emitWarning`, once per distinct message). */
  warn?: (message: string) => void;
  /** Called with every decision the rules or the fallback make (not with explicit or inherited ones). */
  onDecision?: (traceId: string, name: string, decision: HeadDecision) => void;
}

/** The attribute that passes a decision explicitly at span start (OpenTracing's `sampling.priority`: > 0 keep, 0 drop; or a boolean). */
export const EXPLICIT_DECISION_ATTRIBUTE = 'sampling.priority';

const SAMPLE_RATE_ATTRIBUTE = 'sentry.sample_rate';
const SOURCE_ATTRIBUTE = 'sentry.segment.name.source';
const OP_ATTRIBUTE = 'sentry.op';
const MAX_PENDING_EVENT_IDS = 10_000;

/** What `@sentry/node` passes to `tracesSampler` (the fields this sampler reads). */
export interface SamplingContextLike {
  name: string;
  attributes?: Record<string, unknown>;
  parentSampled?: boolean;
  parentSampleRate?: number;
}

/** How one root span was decided, kept until its span starts (same call stack) and its DSC is made. */
interface SpanDecision {
  /** The rate for the DSC (`sentry.sample_rate`); undefined: leave the SDK's. */
  rate: number | undefined;
  /** The DSC's `sample_rand` consistent with the decision; undefined: leave the SDK's. */
  random: number | undefined;
  keep: boolean;
  eventId: string | null;
}

/** The `tracesSampler` function, with the rules it reads and `close()`. */
export interface TracesSampler {
  (context: SamplingContextLike): number;
  readonly rules: HeadRules;
  /** Closes the rules when this sampler created them. */
  close(): Promise<void>;
}

function explicitDecision(attributes: Record<string, unknown> | undefined): boolean | undefined {
  const value = attributes?.[EXPLICIT_DECISION_ATTRIBUTE];
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && !Number.isNaN(value)) return value > 0;
  return undefined;
}

function stringAttribute(attributes: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = attributes?.[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Creates a `tracesSampler` for `Sentry.init` that applies the project's dynamic sampling rules
 * before anything is sent (precedence: an explicit `sampling.priority` attribute, then the
 * parent's decision under `parentPolicy`, then the rules, then `fallbackRate`).
 */
export function createTracesSampler(options: TracesSamplerOptions): TracesSampler {
  if (options === null || typeof options !== 'object') throw new TypeError(`createTracesSampler needs an options object, got ${JSON.stringify(options)}`);
  const { rules: shared, parentPolicy = 'inherit', publicKey, sentry, onDecision, override, warn: warnOption, ...ruleOptions } = options;
  if (override !== undefined && typeof override !== 'function') throw new TypeError('override must be a function');
  const warn = onceWarner(warnOption ?? defaultWarn);
  if (onDecision !== undefined && typeof onDecision !== 'function') throw new TypeError('onDecision must be a function');
  if (parentPolicy !== 'inherit' && parentPolicy !== 'rules') throw new TypeError(`parentPolicy must be 'inherit' or 'rules', got ${JSON.stringify(parentPolicy)}`);
  if (shared !== undefined && !(shared instanceof HeadRules)) throw new TypeError('rules must come from createHeadRules');
  if (ruleOptions.fallbackRate !== undefined) checkRate('fallbackRate', ruleOptions.fallbackRate);
  const rules = shared ?? createHeadRules(ruleOptions as HeadRulesOptions);
  let api: SentryApi | undefined = sentry;
  const hooked = new WeakSet<Client>();
  const decided = new WeakMap<Span, SpanDecision>();
  // Transactions decided by a transaction rule, by root span id: the event id whose value decided.
  const eventIds = new Map<string, string>();
  let pending: SpanDecision | null = null;
  const fields: ProbeFields = { item: 'transaction', publicKey: '', rootKey: '', release: undefined, environment: undefined, dscTransaction: undefined, name: '', source: undefined, op: undefined, method: undefined };

  function hook(client: Client): void {
    hooked.add(client);
    // Runs right after the sampler, in the same call: attach the decision to the span it made.
    client.on('spanStart', (span: Span) => {
      const decision = pending;
      if (decision === null) return;
      pending = null;
      decided.set(span, decision);
      if (decision.rate !== undefined) span.setAttribute(SAMPLE_RATE_ATTRIBUTE, decision.rate);
      if (decision.eventId !== null && decision.keep) {
        if (eventIds.size >= MAX_PENDING_EVENT_IDS) eventIds.clear();
        eventIds.set(span.spanContext().spanId, decision.eventId);
      }
    });
    // The DSC of a trace this SDK starts: the rule's rate and the value that decided.
    client.on('createDsc', (dsc, rootSpan) => {
      const decision = rootSpan === undefined ? undefined : decided.get(rootSpan);
      if (decision === undefined) return;
      if (decision.rate !== undefined) dsc.sample_rate = String(decision.rate);
      if (decision.random !== undefined) dsc.sample_rand = String(decision.random);
    });
    // A transaction rule decided with this event id's value: the server must see the same id.
    client.addEventProcessor((event) => {
      if (event.type !== 'transaction') return event;
      const spanId = event.contexts?.trace?.span_id;
      const eventId = spanId === undefined ? undefined : eventIds.get(spanId);
      if (eventId !== undefined) {
        eventIds.delete(spanId!);
        event.event_id = eventId;
      }
      return event;
    });
  }

  function sampler(context: SamplingContextLike): number {
    pending = null;
    const sdk = (api ??= loadSentry());
    const client = sdk.getClient();
    if (client !== undefined && !hooked.has(client)) hook(client);
    const explicit = explicitDecision(context.attributes);
    if (explicit !== undefined) return explicit ? 1 : 0;
    if (override !== undefined) {
      const result = override(context);
      if (result !== undefined) return rateOf(result, 'the tracesSampler override', warn) ?? 0;
    }
    if (typeof context.parentSampled === 'boolean' && parentPolicy === 'inherit') {
      // Keep the upstream rate in the DSC (the SDK would write 0 or 1 there).
      pending = { rate: context.parentSampleRate, random: undefined, keep: context.parentSampled, eventId: null };
      return context.parentSampled ? 1 : 0;
    }
    const key = publicKey ?? client?.getDsn()?.publicKey;
    if (key === undefined) return rules.fallbackRate;
    const scope = sdk.getCurrentScope();
    const active = sdk.getActiveSpan();
    const propagation = scope.getPropagationContext();
    const traceId = active?.spanContext().traceId ?? propagation.traceId;
    // An incoming DSC (a continued trace); an empty one (sentry-trace without baggage) names no root.
    const incoming = active === undefined && propagation.dsc?.public_key !== undefined ? propagation.dsc : undefined;
    const clientOptions = client?.getOptions();
    const attributes = context.attributes;
    const sourceAttribute = attributes?.[SOURCE_ATTRIBUTE];
    const source = typeof sourceAttribute === 'string' ? sourceAttribute : 'custom';
    // One fields object, rewritten per span (the outcome cache copies nothing from it).
    fields.item = clientOptions?.traceLifecycle === 'stream' ? 'span' : 'transaction';
    fields.publicKey = key;
    fields.rootKey = incoming?.public_key ?? key;
    fields.release = incoming ? incoming.release : clientOptions?.release;
    fields.environment = incoming ? incoming.environment : (clientOptions?.environment ?? 'production');
    fields.dscTransaction = incoming ? incoming.transaction : source === 'url' ? undefined : context.name;
    fields.name = context.name;
    fields.source = source;
    fields.op = stringAttribute(attributes, OP_ATTRIBUTE);
    fields.method = stringAttribute(attributes, 'http.request.method') ?? stringAttribute(attributes, 'http.method');
    fields.userId = undefined;
    const decision = rules.decide(fields, traceId, () => propagation.sampleRand ?? Math.random());
    onDecision?.(traceId, context.name, decision);
    if (!decision.byRules) return decision.rate;
    pending = {
      // A degenerate decaying rule gives NaN (the engine keeps): a DSC rate must parse, so 1.
      rate: Number.isNaN(decision.rate) ? 1 : decision.rate,
      // The value that decided: a downstream SDK comparing `sample_rand` with the rate decides the same.
      random: decision.random,
      keep: decision.keep,
      eventId: decision.eventId,
    };
    return decision.keep ? 1 : 0;
  }

  return Object.assign(sampler, {
    rules,
    close: () => (shared === undefined ? rules.close() : Promise.resolve()),
  });
}
