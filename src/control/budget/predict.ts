// Predicts the kept share of counted trace roots under the rules that will be served (pure: the condition matcher is given).

import type { RuleCondition, SamplingRule } from '../../rules/types';

/** Roots of one project that every rule sees alike: transactions or segment spans counted for it as root project, with the DSC's fields. */
export interface TrafficClass {
  projectId: number;
  kind: 'transaction' | 'segment';
  transaction: string;
  release: string | null;
  environment: string | null;
  count: number;
}

/** What a condition is matched against: the root's DSC (trace rules) or its event (transaction rules). */
export type MatchTarget = { dsc: Record<string, unknown> } | { event: Record<string, unknown> };
/** Relay's condition matching (the engine's `matchCondition`). */
export type ConditionMatcher = (condition: RuleCondition, target: MatchTarget) => boolean;

const TRACE_ID = '00000000000000000000000000000000';
const PUBLIC_KEY = 'ffffffffffffffffffffffffffffffff';

function fields(c: TrafficClass): Record<string, unknown> {
  const out: Record<string, unknown> = { transaction: c.transaction };
  if (c.release !== null) out.release = c.release;
  if (c.environment !== null) out.environment = c.environment;
  return out;
}

/**
 * Remembers matches per (condition, stage, class): the conditions of a project's rules do not
 * change when only their values do, so a solver evaluating many rate candidates matches each
 * condition against each class once.
 */
export class MemoMatcher {
  private readonly memo = new Map<string, boolean>();
  constructor(private readonly match: ConditionMatcher) {}

  matches(condition: RuleCondition, stage: 'event' | 'trace', c: TrafficClass): boolean {
    const key = `${stage}\u0000${JSON.stringify(condition)}\u0000${c.transaction}\u0000${c.release ?? '\u0001'}\u0000${c.environment ?? '\u0001'}`;
    let hit = this.memo.get(key);
    if (hit === undefined) {
      const target: MatchTarget =
        stage === 'trace'
          ? { dsc: { trace_id: TRACE_ID, public_key: PUBLIC_KEY, ...fields(c) } }
          : { event: { type: 'transaction', ...fields(c), contexts: { trace: { trace_id: TRACE_ID, span_id: '0000000000000000' } } } };
      hit = this.match(condition, target);
      this.memo.set(key, hit);
    }
    return hit;
  }
}

/** The rule's value at `atSeconds` (whole unix seconds), or null when it is not active then. */
function valueAt(rule: SamplingRule, atSeconds: number): number | null {
  const value = 'value' in rule.samplingValue ? rule.samplingValue.value : null;
  if (value === null) return null;
  if (!rule.timeRange) return value;
  const start = Math.floor(Date.parse(rule.timeRange.start) / 1000);
  const end = Math.floor(Date.parse(rule.timeRange.end) / 1000);
  if (!(start <= atSeconds && atSeconds < end)) return null;
  if (!rule.decayingFn || rule.decayingFn.type !== 'linear') return value;
  const progress = Math.min(1, Math.max(0, (atSeconds - start) / (end - start)));
  return value + (rule.decayingFn.decayedValue - value) * progress;
}

/**
 * The sample rate Relay applies to a root of this class at `at` (ms): transaction rules on the
 * event first (root transactions only: a transaction rule never applies to spans), then trace
 * rules on the DSC, factors multiplying, the first `sampleRate` ending evaluation, the first
 * `minimumSampleRate` a floor (sampling.md §6). No match keeps the root (rate 1).
 */
export function classRate(rules: readonly SamplingRule[], c: TrafficClass, at: number, matcher: MemoMatcher): number {
  const atSeconds = Math.floor(at / 1000);
  let factor = 1;
  let minimum: number | null = null;
  const stages: Array<'event' | 'trace'> = c.kind === 'transaction' ? ['event', 'trace'] : ['trace'];
  for (const stage of stages) {
    for (const rule of rules) {
      if (rule.type !== (stage === 'event' ? 'transaction' : 'trace')) continue;
      const value = valueAt(rule, atSeconds);
      if (value === null || !matcher.matches(rule.condition, stage, c)) continue;
      switch (rule.samplingValue.type) {
        case 'factor':
          factor *= value;
          break;
        case 'minimumSampleRate':
          if (minimum === null) minimum = value;
          break;
        case 'sampleRate':
          return Math.min(1, Math.max(0, Math.max(value, minimum ?? 0) * factor));
      }
    }
  }
  return 1;
}

/** Predicted roots and kept roots, in total and per project. */
export interface Prediction {
  total: number;
  kept: number;
  /** Variance of the kept count when each root is kept independently at its rate (Σ n·p·(1 − p)). */
  variance: number;
  projects: Map<number, { total: number; kept: number }>;
}

/**
 * The expected kept roots of the counted traffic under each project's rules at `at` (ms). A
 * project without rules (no sampling config) keeps everything.
 */
export function predictKept(
  classes: readonly TrafficClass[],
  rulesByProject: ReadonlyMap<number, readonly SamplingRule[]>,
  at: number,
  matcher: MemoMatcher,
): Prediction {
  const out: Prediction = { total: 0, kept: 0, variance: 0, projects: new Map() };
  for (const c of classes) {
    if (!(c.count > 0)) continue;
    const rules = rulesByProject.get(c.projectId) ?? [];
    const rate = classRate(rules, c, at, matcher);
    const kept = c.count * rate;
    out.variance += c.count * rate * (1 - rate);
    let p = out.projects.get(c.projectId);
    if (!p) out.projects.set(c.projectId, (p = { total: 0, kept: 0 }));
    p.total += c.count;
    p.kept += kept;
    out.total += c.count;
    out.kept += kept;
  }
  return out;
}
