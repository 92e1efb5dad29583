// The evaluator (factors, the first minimum rate, a sample rate that terminates) and the
// decisions per item type: transaction → project → trace for transactions, project → trace for
// spans, and the error-tagging question "was this trace fully sampled".

import { CompiledConfig, FACTOR, MINIMUM, RESERVOIR, SAMPLE_RATE, STAGE_PROJECT, STAGE_TRACE, STAGE_TRANSACTION } from './config';
import type { Dsc, EventInstance, Instance } from './fields';
import { randomValue } from './random';

export const KEEP = 0;
export const DROP = 1;
export const NO_MATCH = 2;

/** Counters for reservoir rules: rule id → items kept so far. */
export class Reservoir {
  constructor(readonly counts = new Map<number, number>()) {}

  tryTake(ruleId: number, limit: number): boolean {
    const n = this.counts.get(ruleId) ?? 0;
    if (n >= limit) return false;
    this.counts.set(ruleId, n + 1);
    return true;
  }
}

/** Rust's `f64::max`: a NaN argument yields the other one. */
function rustMax(a: number, b: number): number {
  return a !== a ? b : b !== b ? a : a > b ? a : b;
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** One decision's state and result; reused between decisions. */
export class Evaluation {
  now = 0;
  factor = 1;
  /** NaN when no minimum has matched yet. */
  minimum = Number.NaN;
  readonly ids: number[] = [];
  reservoir: Reservoir | null = null;
  // The result
  decision = NO_MATCH;
  sampleRate = Number.NaN;
  randomValue = Number.NaN;
  /** STAGE_* of the terminating rule, or -1. */
  stage = -1;

  reset(now: number): void {
    this.now = now;
    this.factor = 1;
    this.minimum = Number.NaN;
    this.ids.length = 0;
    this.reservoir = null;
    this.decision = NO_MATCH;
    this.sampleRate = Number.NaN;
    this.randomValue = Number.NaN;
    this.stage = -1;
  }

  /** Forgets the decision but keeps the matched ids (error tagging reports them). */
  clearResult(): void {
    this.decision = NO_MATCH;
    this.sampleRate = Number.NaN;
    this.randomValue = Number.NaN;
    this.stage = -1;
  }

  /** Evaluates one stage of `config`; true when a rule terminated (the result is then set). */
  runStage(config: CompiledConfig, stage: number, instance: Instance, seed: string): boolean {
    const [positions, count] = config.stages[stage].candidates(instance);
    const rules = config.rules;
    const now = this.now;
    for (let k = 0; k < count; k++) {
      const rule = rules[positions[k]];
      // Time range and decaying function first, as Relay does.
      if (rule.start === rule.start && now < rule.start) continue;
      if (rule.end === rule.end && now >= rule.end) continue;
      let value = rule.value;
      if (rule.linear) {
        if (rule.start !== rule.start || rule.end !== rule.end || value < rule.decayedValue) continue;
        // Progress on whole seconds.
        const s = Math.floor(rule.start / 1000);
        const p = (Math.floor(now / 1000) - s) / (Math.floor(rule.end / 1000) - s);
        const progress = p < 0 ? 0 : p > 1 ? 1 : p;
        if (rule.kind !== RESERVOIR) value = value + (rule.decayedValue - value) * progress;
      }
      if (!rule.match(instance)) continue;
      switch (rule.kind) {
        case FACTOR:
          this.factor *= value;
          this.ids.push(rule.id);
          break;
        case MINIMUM:
          if (this.minimum !== this.minimum) {
            this.minimum = value;
            this.ids.push(rule.id);
          }
          break;
        case SAMPLE_RATE:
          this.ids.push(rule.id);
          this.finish(clamp01(rustMax(value, this.minimum === this.minimum ? this.minimum : 0) * this.factor), seed, stage);
          return true;
        case RESERVOIR:
          if (this.reservoir === null || !this.reservoir.tryTake(rule.id, value)) continue;
          this.ids.length = 0;
          this.ids.push(rule.id);
          this.finish(1, seed, stage);
          return true;
      }
    }
    return false;
  }

  private finish(rate: number, seed: string, stage: number): void {
    const random = randomValue(seed);
    this.sampleRate = rate;
    this.randomValue = random;
    this.stage = stage;
    this.decision = rate !== rate || rate >= 1 ? KEEP : rate <= 0 ? DROP : random < rate ? KEEP : DROP;
  }
}

/** Everything one decision looks at. */
export interface DecisionInput {
  span: boolean;
  /** The config of the project the item was sent to (undefined if absent or rejected). */
  own: CompiledConfig | undefined;
  ownKey: string;
  /** Whether the DSC's project was resolved in the same organisation. */
  rootKnown: boolean;
  root: CompiledConfig | undefined;
  dsc: Dsc | undefined;
  event: EventInstance | undefined;
  now: number;
  reservoir: Reservoir | null;
}

/** Unsupported configs are treated as absent (Relay's production contract). */
const usable = (c: CompiledConfig | undefined) => (c === undefined || c.unsupported ? undefined : c);

/** Decides keep or drop for a transaction or the spans of an envelope; the result is in `ev`. */
export function decide(input: DecisionInput, ev: Evaluation): void {
  ev.reset(input.now);
  const own = usable(input.own);
  if (input.span) {
    let dsc = input.dsc;
    if (dsc === undefined) return;
    let root: CompiledConfig | undefined;
    if (input.rootKnown) root = usable(input.root);
    else {
      dsc = dsc.reducedTo(input.ownKey);
      root = own;
    }
    if (root === undefined) return;
    if (own !== undefined && ev.runStage(own, STAGE_PROJECT, dsc, dsc.traceId)) return;
    ev.runStage(root, STAGE_TRACE, dsc, dsc.traceId);
    return;
  }
  ev.reservoir = input.reservoir;
  let dsc: Dsc | undefined;
  let root: CompiledConfig | undefined;
  const event = input.event;
  if (input.dsc !== undefined && input.rootKnown) {
    dsc = input.dsc;
    root = usable(input.root);
  } else {
    dsc = event?.toDsc(input.ownKey, input.dsc?.sampleRate);
    // The event's own project becomes the root.
    root = dsc === undefined ? undefined : own;
  }
  if (!((own !== undefined && event !== undefined) || (root !== undefined && dsc !== undefined))) return;
  if (own !== undefined && event !== undefined) {
    const eventId = event.eventId;
    if (eventId !== undefined && ev.runStage(own, STAGE_TRANSACTION, event, eventId)) return;
  }
  if (dsc === undefined) return;
  if (own !== undefined && ev.runStage(own, STAGE_PROJECT, dsc, dsc.traceId)) return;
  if (root !== undefined) ev.runStage(root, STAGE_TRACE, dsc, dsc.traceId);
}

/** The root config as error tagging sees it. */
export type RootState = 'unknown' | 'absent' | 'rejected' | CompiledConfig;

/** "Is this trace fully sampled?" for tagging errors: null means no tag. */
export function isTraceFullySampled(root: RootState, dsc: Dsc, now: number, ev: Evaluation): boolean | null {
  if (root === 'unknown') return null;
  if (dsc.sampled === undefined) return null;
  if (!dsc.sampled) return false;
  if (typeof root === 'string' || root.unsupported) return null;
  ev.reset(now);
  ev.runStage(root, STAGE_TRACE, dsc, dsc.traceId);
  return ev.decision !== DROP;
}
