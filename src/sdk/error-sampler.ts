// Error sampling in the application: rates per exception type, logger and level (or a callback),
// drawn independently per error as the SDK's `sampleRate` is, and the `contexts.trace.sampled` tag
// the server would add (sampling.md §7.3), for @sentry/node's `beforeSend`.

import type { ErrorEvent, EventHint } from '@sentry/core';

import { OUT } from '../engine/engine';
import { HeadRules } from './head-rules';
import { defaultWarn, onceWarner, rateOf, type SampleResult } from './results';

export interface ErrorSamplerOptions {
  /** Rates by exception type (the type of the error thrown: the last exception value). */
  exceptionTypes?: Record<string, SampleResult>;
  /** Rates by `event.logger`. */
  loggers?: Record<string, SampleResult>;
  /** Rates by `event.level` (`fatal`, `error`, `warning`, ...). */
  levels?: Record<string, SampleResult>;
  /** The rate when nothing above applies (default 1). */
  defaultRate?: SampleResult;
  /** Asked first; undefined falls through to the tables. An invalid result is warned about and drops the error. */
  sampler?: (event: ErrorEvent, hint: EventHint) => unknown;
  /** The project's rules: with them, errors get `contexts.trace.sampled` as the server would tag them. */
  rules?: HeadRules;
  /** The project the errors are sent to (default: the trace's root project). */
  publicKey?: string;
  /** Where warnings go (default: `process.emitWarning`, once per distinct message). */
  warn?: (message: string) => void;
  /** The draw per error (default `Math.random`). */
  random?: () => number;
}

export interface ErrorSampler {
  /** The rate for this error (what an `errorSampler` hook returns); null when a callback result was invalid. */
  rateFor(event: ErrorEvent, hint: EventHint): number | null;
  /** Whether the error's trace is fully sampled (§7.3): true, false, or null for no tag. */
  traceSampled(event: ErrorEvent): boolean | null;
  /** For `Sentry.init({ beforeSend })`: draws with `rateFor`, tags the trace decision, or drops (null). */
  beforeSend(event: ErrorEvent, hint: EventHint): ErrorEvent | null;
}

function checkTable(name: string, table: Record<string, SampleResult> | undefined): Map<string, number> {
  const map = new Map<string, number>();
  if (table === undefined) return map;
  if (table === null || typeof table !== 'object') throw new TypeError(`${name} must be an object of rates, got ${JSON.stringify(table)}`);
  for (const [key, value] of Object.entries(table)) map.set(key, checkResult(`${name}.${key}`, value));
  return map;
}

function checkResult(name: string, value: unknown): number {
  const rate = rateOf(value, name, () => undefined);
  if (rate === null) throw new TypeError(`${name} must be a boolean or a number in [0, 1], got ${JSON.stringify(value)}`);
  return rate;
}

function errorEnvelope(dsc: Record<string, unknown>, eventId: string): Buffer {
  const event = JSON.stringify({ event_id: eventId, level: 'error', platform: 'node' });
  return Buffer.from(`${JSON.stringify({ event_id: eventId, trace: dsc })}\n{"type":"event","length":${Buffer.byteLength(event)}}\n${event}\n`);
}

export function createErrorSampler(options: ErrorSamplerOptions = {}): ErrorSampler {
  if (options === null || typeof options !== 'object') throw new TypeError(`createErrorSampler needs an options object, got ${JSON.stringify(options)}`);
  const exceptionTypes = checkTable('exceptionTypes', options.exceptionTypes);
  const loggers = checkTable('loggers', options.loggers);
  const levels = checkTable('levels', options.levels);
  const defaultRate = checkResult('defaultRate', options.defaultRate ?? 1);
  const { sampler, rules } = options;
  if (sampler !== undefined && typeof sampler !== 'function') throw new TypeError('sampler must be a function');
  if (rules !== undefined && !(rules instanceof HeadRules)) throw new TypeError('rules must come from createHeadRules');
  const warn = onceWarner(options.warn ?? defaultWarn);
  const random = options.random ?? Math.random;

  function rateFor(event: ErrorEvent, hint: EventHint): number | null {
    if (sampler !== undefined) {
      const result = sampler(event, hint);
      if (result !== undefined) return rateOf(result, 'the error sampler callback', warn);
    }
    const values = event.exception?.values;
    const type = values && values.length > 0 ? values[values.length - 1].type : undefined;
    const byType = type === undefined ? undefined : exceptionTypes.get(type);
    if (byType !== undefined) return byType;
    const byLogger = event.logger === undefined ? undefined : loggers.get(event.logger);
    if (byLogger !== undefined) return byLogger;
    const byLevel = event.level === undefined ? undefined : levels.get(event.level);
    return byLevel ?? defaultRate;
  }

  function traceSampled(event: ErrorEvent): boolean | null {
    const dsc = event.sdkProcessingMetadata?.dynamicSamplingContext as Record<string, unknown> | undefined;
    if (rules === undefined || dsc === undefined || typeof dsc.public_key !== 'string' || typeof dsc.trace_id !== 'string') return null;
    // The server's answer for this DSC: the root's trace rules with the trace id (§7.3); a root
    // project not loaded here gives no tag (the server tags it then, if it knows the project).
    const loaded = (key: string) => ['fresh', 'stale'].includes(rules.configs.get(key).state);
    const own = options.publicKey ?? dsc.public_key;
    if (!loaded(dsc.public_key) || !loaded(own)) return null;
    const code = rules.engine.sampleEnvelope(errorEnvelope(dsc, event.event_id ?? dsc.trace_id), own);
    if (code < 0) return null;
    const tag = rules.engine.result[OUT.traceFullySampled];
    return tag === 0 ? null : tag === 2;
  }

  function beforeSend(event: ErrorEvent, hint: EventHint): ErrorEvent | null {
    const rate = rateFor(event, hint);
    if (rate === null || !(random() < rate)) return null;
    const trace = event.contexts?.trace;
    if (trace !== undefined && trace.sampled === undefined) {
      const sampled = traceSampled(event);
      if (sampled !== null) (trace as Record<string, unknown>).sampled = sampled;
    }
    return event;
  }

  return { rateFor, traceSampled, beforeSend };
}
