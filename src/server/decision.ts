// The decision of the engine's last fast-path call, read through the engine's one result decoder (what outcomes, stats and sinks report).

import { decisionFromRow, DROP, type EnvelopeDecision, type SamplingEngine } from '../engine/engine';
import { sampledReason as reasonOf } from '../engine/outcome';

export interface Decision extends EnvelopeDecision {
  /** KEEP (0), DROP (1) or NO_MATCH (2). */
  code: number;
}

/** The decision of the engine's last `sampleEnvelope` call that returned `code` (>= 0). */
export function readDecision(engine: SamplingEngine, code: number): Decision {
  const decision = decisionFromRow(engine.result, 0, engine.matchedRuleIds, 0, engine.matchedRuleIds.length) as Decision;
  decision.code = code;
  return decision;
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
