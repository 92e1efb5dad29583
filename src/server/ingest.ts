// The ingestion pipeline for one envelope: engine decision, shared reservoir check, error tagging, and what is forwarded.

import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';

import type { SamplingEngine } from '../engine/engine';
import type { Sampler } from '../sampler';
import { readDecision, type Decision } from './decision';
import type { EnvelopeHeader } from './envelope/header';
import { splitItems, type EnvelopeItem } from './envelope/items';
import { planForward, type ForwardPlan } from './envelope/plan';
import { BadEnvelopeError } from './errors';
import type { ServerMetrics } from './metrics';
import { ReservoirAwareEngine } from './reservoir/engine';
import type { SharedReservoir } from './reservoir/shared';

export interface IngestInput {
  /** The decompressed body. */
  body: Buffer;
  header: EnvelopeHeader;
  publicKey: string;
  /** The organisation of the key's project (null when its config could not be loaded). */
  organizationId: number | null;
}

export interface IngestResult {
  eventId: string;
  decision: Decision;
  items: EnvelopeItem[];
  plan: ForwardPlan;
}

export class EnvelopeIngestor {
  constructor(
    private readonly sampler: Sampler,
    private readonly metrics: ServerMetrics,
    private readonly reservoir: SharedReservoir | null,
  ) {}

  private get engine(): SamplingEngine {
    return this.sampler.engine;
  }

  private decide(body: Buffer, publicKey: string): Decision {
    const started = process.hrtime.bigint();
    const code = this.sampler.sampleEnvelope(body, publicKey);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (code < 0) throw BadEnvelopeError.fromEngineCode(-code);
    const decision = readDecision(this.engine, code);
    this.metrics.decisionSeconds.observe({ kind: decision.kind }, seconds);
    return decision;
  }

  /**
   * With a shared reservoir: an item a reservoir rule kept counts against the fleet's budget. When
   * the budget is used up, the rule is taken out of the engine and the envelope decided again.
   */
  private async checkReservoir(input: IngestInput, decision: Decision): Promise<Decision> {
    const engine = this.engine;
    if (this.reservoir === null || input.organizationId === null || !(engine instanceof ReservoirAwareEngine)) return decision;
    if (decision.decision !== 'keep' || decision.matchedRuleIds.length !== 1) return decision;
    const rule = engine.reservoirRule(input.organizationId, decision.matchedRuleIds[0]);
    if (rule === undefined) return decision;
    const verdict = await this.reservoir.take(input.organizationId, rule);
    if (verdict !== 'exhausted') return decision;
    engine.markExhausted(input.organizationId, rule);
    return this.decide(input.body, input.publicKey);
  }

  async ingest(input: IngestInput): Promise<IngestResult> {
    let decision = this.decide(input.body, input.publicKey);
    // Header lines must be UTF-8 (checked one by one only when the whole body is not).
    const items = splitItems(input.body, input.header.end, { checkUtf8: !isUtf8(input.body) });
    decision = await this.checkReservoir(input, decision);
    // The engine tags error events whatever shares their envelope (spec §7.3), in the same pass.
    const tag = decision.traceFullySampled;
    const plan = planForward(input.body, input.header.end, items, decision, tag);
    return { eventId: input.header.eventId ?? randomUUID().replace(/-/g, ''), decision, items, plan };
  }
}
