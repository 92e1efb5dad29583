// Reads the engine's fast-path result into a plain record (what outcomes, stats and sinks report).

import {
  DECISION_NAMES,
  DROP,
  ENVELOPE_KINDS,
  KEEP_REASONS,
  OUT,
  SPAN_REJECTIONS,
  type EnvelopeKind,
  type KeepReason,
  type SamplingEngine,
  type SpanRejection,
} from '../engine/engine';
import { sampledReason as reasonOf } from '../engine/outcome';
import type { DecisionName } from '../engine/types';

export interface Decision {
  /** KEEP (0), DROP (1) or NO_MATCH (2). */
  code: number;
  decision: DecisionName;
  kind: EnvelopeKind;
  sampleRate: number | null;
  randomValue: number | null;
  keepReason: KeepReason;
  /** For errors: the value for `contexts.trace.sampled` (null: do not tag). */
  traceFullySampled: boolean | null;
  matchedRuleIds: number[];
  spanCount: number;
  invalidDsc: boolean;
  /** When a transaction and spans share the envelope: the spans' own decision (null otherwise). */
  spanDecision: DecisionName | null;
  /** Span v2 containers rejected before sampling (Relay's `missing_dsc` / `invalid_dsc` outcomes). */
  spanRejection: SpanRejection;
}

const nullable = (v: number): number | null => (Number.isNaN(v) ? null : v);

/** The decision of the engine's last `sampleEnvelope` call that returned `code` (>= 0). */
export function readDecision(engine: SamplingEngine, code: number): Decision {
  const r = engine.result;
  const kind = ENVELOPE_KINDS[r[OUT.kind]];
  const keepReason = KEEP_REASONS[r[OUT.keepReason]];
  // Rule ids belong to sampling decisions only (the engine leaves them as they were otherwise).
  const evaluated = (kind === 'transaction' || kind === 'spans') && keepReason === 'none';
  const matched = evaluated ? Math.min(r[OUT.matchedCount], engine.matchedRuleIds.length) : 0;
  const tfs = r[OUT.traceFullySampled];
  return {
    code,
    decision: DECISION_NAMES[code],
    kind,
    sampleRate: nullable(r[OUT.sampleRate]),
    randomValue: nullable(r[OUT.randomValue]),
    keepReason,
    traceFullySampled: tfs === 0 ? null : tfs === 2,
    matchedRuleIds: Array.from(engine.matchedRuleIds.subarray(0, matched)),
    spanCount: r[OUT.spanCount],
    invalidDsc: r[OUT.invalidDsc] === 1,
    spanDecision: Number.isNaN(r[OUT.spanDecision]) ? null : DECISION_NAMES[r[OUT.spanDecision]],
    spanRejection: SPAN_REJECTIONS[r[OUT.spanRejection]] ?? 'none',
  };
}

/**
 * Relay's outcome reason for a sampling drop: `Sampled:` and the matched rules' categories,
 * de-duplicated and in Relay's order (`Sampled:1000,1004,1400`), not the raw ids.
 */
export function sampledReason(decision: Decision): string {
  return reasonOf(decision.matchedRuleIds);
}

export function isDrop(decision: Decision): boolean {
  return decision.code === DROP;
}
