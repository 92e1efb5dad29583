// A pure-TypeScript dynamic sampling engine with the native engine's semantics, written to be
// fast: the benchmark's `typescript-peer` path. `PeerEngine` takes envelope Buffers; `evaluate`,
// `isTraceFullySampled` and `matchCondition` take plain objects (the conformance vectors).

import { compileCondition } from './condition';
import { CompiledConfig, ConfigError, STAGE_NAMES } from './config';
import { decide, Evaluation, isTraceFullySampled as traceFullySampled, Reservoir, type RootState } from './decision';
import { EventInstance, FlatInstance, parseDsc, parseRfc3339 } from './fields';

export { PeerEngine, KEEP, DROP, NO_MATCH, ENVELOPE_ERRORS } from './engine';
export { randomValue } from './random';
export { CompiledConfig, ConfigError };

export interface PeerEvaluateInput {
  config?: unknown;
  rootConfig?: unknown;
  dsc?: unknown;
  event?: unknown;
  /** RFC 3339, epoch ms or a Date; defaults to now. */
  now?: string | number | Date;
  itemType?: 'transaction' | 'span';
  rootProjectKnown?: boolean;
  reservoirCounters?: Record<string, number>;
}

export interface PeerEvaluateResult {
  decision: 'keep' | 'drop' | 'noMatch';
  sampleRate: number | null;
  matchedRuleIds: number[];
  randomValue: number | null;
  stage: 'transaction' | 'project' | 'trace' | null;
  reservoirCounters?: Record<string, number>;
}

const DECISIONS = ['keep', 'drop', 'noMatch'] as const;

type Slot = CompiledConfig | 'absent' | 'rejected';

function readConfig(value: unknown): Slot {
  if (value === undefined || value === null) return 'absent';
  try {
    return CompiledConfig.parse(value);
  } catch (error) {
    if (error instanceof ConfigError) return 'rejected';
    throw error;
  }
}

function epochMs(now: PeerEvaluateInput['now']): number {
  if (now === undefined) return Date.now();
  if (now instanceof Date) return now.getTime();
  if (typeof now === 'number') return now;
  const ms = parseRfc3339(now);
  if (Number.isNaN(ms)) throw new TypeError(`now: not an RFC 3339 timestamp: ${now}`);
  return ms;
}

function eventOf(value: unknown): EventInstance | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('event: expected an object');
  return new EventInstance(value);
}

const compiledOf = (slot: Slot) => (typeof slot === 'string' ? undefined : slot);

/** Decides keep or drop for one transaction or span envelope, from plain objects. */
export function evaluate(input: PeerEvaluateInput): PeerEvaluateResult {
  const own = readConfig(input.config);
  const root = readConfig(input.rootConfig);
  const dsc = input.dsc === undefined || input.dsc === null ? undefined : parseDsc(input.dsc);
  const reservoir =
    input.reservoirCounters === undefined
      ? null
      : new Reservoir(new Map(Object.entries(input.reservoirCounters).map(([k, v]) => [Number(k), v])));
  const ev = new Evaluation();
  decide(
    {
      span: input.itemType === 'span',
      own: compiledOf(own),
      ownKey: dsc?.publicKey ?? '0'.repeat(32),
      rootKnown: input.rootProjectKnown ?? true,
      root: compiledOf(root),
      dsc,
      event: eventOf(input.event),
      now: epochMs(input.now),
      reservoir,
    },
    ev,
  );
  const result: PeerEvaluateResult = {
    decision: DECISIONS[ev.decision],
    sampleRate: ev.stage < 0 ? null : ev.sampleRate,
    matchedRuleIds: ev.stage < 0 ? [] : [...ev.ids],
    randomValue: ev.stage < 0 ? null : ev.randomValue,
    stage: ev.stage < 0 ? null : STAGE_NAMES[ev.stage],
  };
  if (reservoir !== null) {
    result.reservoirCounters = Object.fromEntries([...reservoir.counts].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]));
  }
  return result;
}

/** Whether an error's trace was kept: null means "do not tag". */
export function isTraceFullySampled(input: Omit<PeerEvaluateInput, 'config' | 'event' | 'itemType'>): boolean | null {
  const dsc = input.dsc === undefined || input.dsc === null ? undefined : parseDsc(input.dsc);
  if (dsc === undefined) return null;
  const slot = readConfig(input.rootConfig);
  const state: RootState = input.rootProjectKnown === false ? 'unknown' : slot;
  return traceFullySampled(state, dsc, epochMs(input.now), new Evaluation());
}

export type PeerMatchTarget = { event: unknown } | { dsc: unknown } | { instance: Record<string, unknown> };

/** Whether `condition` matches the event, DSC or flat instance (an invalid DSC matches nothing). */
export function matchCondition(condition: unknown, target: PeerMatchTarget): boolean {
  const compiled = compileCondition(condition);
  if ('event' in target) return compiled.match(eventOf(target.event) ?? new EventInstance({}));
  if ('dsc' in target) {
    const dsc = parseDsc(target.dsc);
    if (dsc === undefined) throw new TypeError('dsc: not a valid dynamic sampling context');
    return compiled.match(dsc);
  }
  return compiled.match(new FlatInstance(target.instance));
}
