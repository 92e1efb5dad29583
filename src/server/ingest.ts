// The ingestion pipeline for one envelope: the engine's decision and plan, shared reservoir check, and what is forwarded and counted — no envelope JSON is read here.

import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';

import type { SamplingEngine } from '../engine/engine';
import { native } from '../engine/native';
import type { Sampler } from '../sampler';
import { readDecision, type Decision } from './decision';
import { planForward, type ForwardPlan, type PlannedItem } from './envelope/plan';
import { BadEnvelopeError } from './errors';
import type { ServerMetrics } from './metrics';
import type { SharedReservoir } from './reservoir/shared';
import type { RootCount } from './roots';

/** What the server learns of an envelope before authenticating its request. */
export interface EnvelopeRead {
  /** The header's `event_id` (32 lowercase hex digits), when valid. */
  eventId: string | null;
  /** The public key of the header's `dsn`, when present. */
  dsnKey: string | null;
}

export interface IngestInput {
  /** The decompressed body. */
  body: Buffer;
  publicKey: string;
  /** The organisation of the key's project (null when its config could not be loaded). */
  organizationId: number | null;
}

export interface IngestResult {
  eventId: string;
  decision: Decision;
  items: PlannedItem[];
  forward: Buffer | null;
  modified: boolean;
  /** What the control plane counts (null when the engine does not count, or counts nothing here). */
  count: RootCount | null;
}

/** The public key of a DSN (`https://<key>@host/<project>`), or null. */
export function keyFromDsn(dsn: string | null): string | null {
  if (dsn === null) return null;
  try {
    const key = new URL(dsn).username;
    return key === '' ? null : decodeURIComponent(key);
  } catch {
    return null;
  }
}

const KEY_PATTERN = /^[0-9a-fA-F]{32}$/;

export class EnvelopeIngestor {
  /** The body and key of the engine's last decision, while no other call has replaced its plan. */
  private last: { body: Buffer; publicKey: string | null; calls: number; decision: Decision | null } | null = null;
  private calls = 0;

  constructor(
    private readonly sampler: Sampler,
    private readonly metrics: ServerMetrics,
    private readonly reservoir: SharedReservoir | null,
    private readonly limits: { maxEnvelopeHeaderSize: number },
  ) {}

  private get engine(): SamplingEngine {
    return this.sampler.engine;
  }

  /** One engine call: decision and plan of `body` for `publicKey` (null: no project yet). */
  private decide(body: Buffer, publicKey: string | null): Decision {
    const started = performance.now();
    const code = publicKey === null ? this.engine.sampleUnattributed(body) : this.sampler.sampleEnvelope(body, publicKey);
    const seconds = (performance.now() - started) / 1000;
    this.calls++;
    this.last = { body, publicKey, calls: this.calls, decision: null };
    if (code < 0) throw BadEnvelopeError.fromEngineCode(-code);
    const decision = readDecision(this.engine, code);
    this.last.decision = decision;
    if (publicKey !== null) this.metrics.decisionSeconds.observe({ kind: decision.kind }, seconds);
    return decision;
  }

  /**
   * Reads the envelope before its request is authenticated: the engine decides it for the
   * request's key (or for no project when the key comes from the header's `dsn`), so that a
   * request with a known key costs one engine call. Throws `BadEnvelopeError` for envelopes the
   * engine cannot read, headers over the size limit and header lines that are not UTF-8.
   */
  read(body: Buffer, requestKey: string | null): EnvelopeRead {
    const key = requestKey !== null && KEY_PATTERN.test(requestKey) ? requestKey.toLowerCase() : null;
    this.decide(body, key);
    const plan = this.engine.plan;
    if (plan.headerEnd > this.limits.maxEnvelopeHeaderSize) {
      throw new BadEnvelopeError(null, `the envelope header is larger than ${this.limits.maxEnvelopeHeaderSize} bytes`);
    }
    // Header lines must be UTF-8 (checked one by one only when the whole body is not).
    if (!isUtf8(body)) {
      if (!isUtf8(body.subarray(0, plan.headerEnd))) throw new BadEnvelopeError(2, 'the envelope header is not valid UTF-8');
      for (let i = 0; i < plan.itemCount; i++) {
        if (!isUtf8(body.subarray(plan.item(i, native.ITEM_START), plan.item(i, native.ITEM_HEADER_END)))) {
          throw new BadEnvelopeError(3, 'an item header is not valid UTF-8');
        }
      }
    }
    return { eventId: plan.eventId(), dsnKey: requestKey === null ? keyFromDsn(plan.dsn()) : null };
  }

  /** The decision for the authenticated key: the one `read` made when it still stands, else a new one. */
  private decisionFor(input: IngestInput): Decision {
    const last = this.last;
    if (last !== null && last.body === input.body && last.publicKey === input.publicKey && last.calls === this.calls && last.decision !== null) {
      // A key seen for the first time had no config when `read` decided: decide with it now.
      if (last.decision.keepReason !== 'unknownProject') return last.decision;
    }
    return this.decide(input.body, input.publicKey);
  }

  /** What is forwarded and counted, read from the engine's plan right after the decision. */
  private planned(input: IngestInput, decision: Decision): { plan: ForwardPlan; count: RootCount | null } {
    const plan = this.engine.plan;
    const forward = planForward(input.body, plan, decision.traceFullySampled);
    // Nothing counted (counting off, or no transaction or segment): no names to decode.
    if (plan.transactionCount === 0 && plan.segmentCount === 0) return { plan: forward, count: null };
    const count: RootCount = {
      transactions: plan.transactionCount,
      segments: plan.segmentCount,
      rootProjectId: plan.rootProjectId(),
      transactionName: plan.transactionName(),
      segmentName: plan.segmentName(),
      release: plan.rootRelease(),
      environment: plan.rootEnvironment(),
      releases: plan.releases(),
    };
    return { plan: forward, count };
  }

  /**
   * The decision, what is forwarded and what is counted: at once, unless a shared reservoir's
   * budget must be asked (a reservoir rule kept the item): then a promise.
   */
  ingest(input: IngestInput, eventId: string | null): IngestResult | Promise<IngestResult> {
    const decision = this.decisionFor(input);
    const planned = this.planned(input, decision);
    // With a shared reservoir: an item a reservoir rule kept counts against the fleet's budget.
    // When the budget is used up, the engine learns it (the rule's count set to its limit: no
    // config is rewritten) and this item, which the rule may no longer keep, is decided again.
    const rule = decision.reservoirRule;
    if (this.reservoir !== null && input.organizationId !== null && rule !== null) {
      const organizationId = input.organizationId;
      return this.reservoir.take(organizationId, rule).then((budget) => {
        if (budget !== 'exhausted') return this.result(eventId, decision, planned);
        this.engine.setReservoirCount(organizationId, rule.id, rule.limit);
        const again = this.decide(input.body, input.publicKey);
        return this.result(eventId, again, this.planned(input, again));
      });
    }
    return this.result(eventId, decision, planned);
  }

  private result(eventId: string | null, decision: Decision, { plan, count }: { plan: ForwardPlan; count: RootCount | null }): IngestResult {
    return {
      eventId: eventId ?? randomUUID().replace(/-/g, ''),
      decision,
      items: plan.items,
      forward: plan.forward,
      modified: plan.modified,
      count,
    };
  }
}
