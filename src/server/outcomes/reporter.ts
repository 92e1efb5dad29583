// Reports what the server dropped to the upstream as Relay does: outcomes aggregated per time bucket, project,
// outcome, reason and data category, sent in signed batches to `POST /api/0/relays/outcomes/`.

import pino, { type Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

import { Backoff } from '../../configs/backoff';
import { describeError } from '../../configs/errors';
import { RelayRegistration } from '../../configs/registration';
import { RelaySigner } from '../../configs/signing';
import { ServerOptionsError } from '../errors';

export const OUTCOMES_PATH = '/api/0/relays/outcomes/';

/** Relay's outcome ids (`OutcomeId`) of what this server reports. */
export const OUTCOME_ID = { filtered: 1, invalid: 3 } as const;
export type ReportedOutcome = keyof typeof OUTCOME_ID;

export interface OutcomeEvent {
  organizationId: number | null;
  projectId: number;
  /** The numeric id of the project key the envelope came with (`publicKeys[].numericId`), null when unknown. */
  keyId?: number | null;
  outcome: ReportedOutcome;
  /** `Sampled:1000,1004` for sampling drops, Relay's discard reason for invalid data. */
  reason: string;
  /** Relay's data category id. */
  category: number;
  quantity: number;
  /** When it happened, ms since the epoch. */
  at: number;
}

export interface OutcomeReporterOptions {
  /** Base URL of the upstream (Sentry, or a Relay in front of it). */
  url: string;
  relayId: string;
  secretKey: string;
  /** How often aggregated outcomes are sent, ms (default 5000). */
  flushInterval?: number;
  /** Outcomes are aggregated per bucket of this length, ms (Relay's `outcomes.aggregator.bucket_interval`, default 60 s). */
  bucketInterval?: number;
  /** Outcomes per request (default 1000). */
  batchSize?: number;
  /** Bound of distinct aggregates held while the upstream cannot take them (default 100000); beyond it they are lost, and counted. */
  maxPending?: number;
  /** Timeout of one request, ms (default 10000). */
  requestTimeout?: number;
  /** Register before sending (default true), or use this registration (shared with the configs client of the same upstream and relay). */
  registration?: RelayRegistration | false;
}

/**
 * One aggregate as Relay's `TrackRawOutcome` serializes it: absent fields are left out, as Relay's
 * are; no event id or client address (Relay's aggregator drops them too), no `source` (Relay's
 * `outcomes.source` is unset by default).
 */
interface RawOutcome {
  timestamp: string;
  org_id?: number;
  project_id: number;
  key_id?: number;
  outcome: number;
  reason: string;
  category: number;
  quantity: number;
}

interface ReporterMetrics {
  reported: Counter<'outcome'>;
  batches: Counter<'result'>;
  lost: Counter<string>;
}

function reporterMetrics(registry: Registry): ReporterMetrics {
  const p = 'dynamic_sampling_server_outcomes_';
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    reported: get(`${p}reported_total`, () => new Counter({ name: `${p}reported_total`, help: 'Quantities the upstream acknowledged in outcome batches, by outcome.', labelNames: ['outcome'], registers: [registry] })),
    batches: get(`${p}batches_total`, () => new Counter({ name: `${p}batches_total`, help: 'Outcome batches sent, by result (ok, retried, refused).', labelNames: ['result'], registers: [registry] })),
    lost: get(`${p}lost_total`, () => new Counter({ name: `${p}lost_total`, help: 'Outcome quantities given up (the upstream refused the batch, or too many were pending).', registers: [registry] })),
  };
}

/** Relay's timestamp format: RFC 3339 with microseconds, UTC. */
function timestampOf(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

export class OutcomeReporter {
  private readonly base: string;
  private readonly signer: RelaySigner;
  private readonly registration: RelayRegistration | null;
  private readonly ownsRegistration: boolean;
  private readonly pending = new Map<string, RawOutcome>();
  private readonly o: Required<Omit<OutcomeReporterOptions, 'url' | 'relayId' | 'secretKey' | 'registration'>>;
  private readonly backoff = new Backoff({ initial: 1000, multiplier: 2, max: 60_000 });
  private readonly metrics: ReporterMetrics;
  private readonly timer: NodeJS.Timeout;
  private sending: Promise<void> | null = null;
  private pausedUntil = 0;
  private closed = false;

  constructor(options: OutcomeReporterOptions, private readonly deps: { logger?: Logger; registry: Registry }) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new ServerOptionsError(`the outcomes upstream is not a URL: ${options.url}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ServerOptionsError(`the outcomes upstream must be http(s): ${options.url}`);
    this.base = url.origin + url.pathname.replace(/\/+$/, '');
    this.signer = new RelaySigner(options.relayId, options.secretKey);
    this.o = {
      flushInterval: options.flushInterval ?? 5000,
      bucketInterval: options.bucketInterval ?? 60_000,
      batchSize: options.batchSize ?? 1000,
      maxPending: options.maxPending ?? 100_000,
      requestTimeout: options.requestTimeout ?? 10_000,
    };
    const logger = deps.logger ?? pino({ level: 'silent' });
    this.ownsRegistration = options.registration === undefined;
    // Its own registration reports no gauge: the configs client's is the one on /metrics.
    this.registration =
      options.registration === false
        ? null
        : (options.registration ?? new RelayRegistration({ baseUrl: this.base, signer: this.signer, publicKey: this.signer.publicKey, requestTimeout: this.o.requestTimeout, logger }));
    this.metrics = reporterMetrics(deps.registry);
    this.timer = setInterval(() => void this.flush(), this.o.flushInterval);
    this.timer.unref();
  }

  /** Aggregates and sums pending quantities (not yet acknowledged by the upstream). */
  get pendingQuantity(): number {
    let total = 0;
    for (const o of this.pending.values()) total += o.quantity;
    return total;
  }

  /** Counts one outcome into its aggregate. Never throws, never waits. */
  record(event: OutcomeEvent): void {
    if (this.closed || !(event.quantity > 0)) return;
    const bucket = Math.floor(event.at / this.o.bucketInterval) * this.o.bucketInterval;
    // Relay aggregates per bucket, scoping (organization, project, key), outcome and category.
    const keyId = event.keyId ?? null;
    const key = `${bucket}|${event.organizationId ?? ''}|${event.projectId}|${keyId ?? ''}|${event.outcome}|${event.reason}|${event.category}`;
    this.add(key, {
      timestamp: timestampOf(bucket),
      ...(event.organizationId ? { org_id: event.organizationId } : {}),
      project_id: event.projectId,
      ...(keyId !== null ? { key_id: keyId } : {}),
      outcome: OUTCOME_ID[event.outcome],
      reason: event.reason,
      category: event.category,
      quantity: event.quantity,
    });
  }

  private add(key: string, outcome: RawOutcome): void {
    const existing = this.pending.get(key);
    if (existing) {
      existing.quantity += outcome.quantity;
      return;
    }
    if (this.pending.size >= this.o.maxPending) {
      this.metrics.lost.inc(outcome.quantity);
      return;
    }
    this.pending.set(key, { ...outcome });
  }

  /** Sends what is pending (one round at a time). Resolves when the round is over; never rejects. */
  flush(): Promise<void> {
    if (this.sending) return this.sending;
    if (this.pending.size === 0 || Date.now() < this.pausedUntil) return Promise.resolve();
    this.sending = this.sendAll().finally(() => {
      this.sending = null;
    });
    return this.sending;
  }

  private async sendAll(): Promise<void> {
    const entries = [...this.pending.entries()];
    this.pending.clear();
    for (let i = 0; i < entries.length; i += this.o.batchSize) {
      const batch = entries.slice(i, i + this.o.batchSize);
      const result = await this.send(batch.map(([, o]) => o));
      if (result === 'ok') {
        this.backoff.reset();
        this.metrics.batches.inc({ result: 'ok' });
        for (const [, o] of batch) this.metrics.reported.inc({ outcome: o.outcome === OUTCOME_ID.filtered ? 'filtered' : 'invalid' }, o.quantity);
        continue;
      }
      if (result === 'refused') {
        this.metrics.batches.inc({ result: 'refused' });
        this.metrics.lost.inc(batch.reduce((sum, [, o]) => sum + o.quantity, 0));
        continue;
      }
      // Retried later: this batch and the rest go back (merged with what arrived meanwhile).
      this.metrics.batches.inc({ result: 'retried' });
      for (const [key, o] of entries.slice(i)) this.add(key, o);
      this.pausedUntil = Date.now() + this.backoff.fail();
      return;
    }
  }

  private async send(outcomes: RawOutcome[]): Promise<'ok' | 'retry' | 'refused'> {
    const logger = this.deps.logger;
    try {
      await this.registration?.ensure();
    } catch (err) {
      logger?.warn({ err: describeError(err) }, 'outcomes wait for the relay registration');
      return 'retry';
    }
    const body = Buffer.from(JSON.stringify({ outcomes }));
    try {
      const response = await fetch(this.base + OUTCOMES_PATH, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...this.signer.headers(body) },
        body,
        signal: AbortSignal.timeout(this.o.requestTimeout),
      });
      const text = await response.text();
      if (response.ok) return 'ok';
      if (response.status === 401 || response.status === 403) this.registration?.invalidate(response.status);
      if (response.status === 401 || response.status === 403 || response.status === 408 || response.status === 429 || response.status >= 500) {
        logger?.warn({ status: response.status, detail: text.slice(0, 200) }, 'outcome batch not taken: retrying');
        return 'retry';
      }
      logger?.error({ status: response.status, detail: text.slice(0, 200), outcomes: outcomes.length }, 'upstream refused an outcome batch');
      return 'refused';
    } catch (err) {
      logger?.warn({ err: describeError(err) }, 'outcome batch failed: retrying');
      return 'retry';
    }
  }

  /** Sends what is pending (bounded by `timeoutMs`) and stops. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    this.pausedUntil = 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      (async () => {
        await this.sending;
        await this.flush();
      })(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    this.closed = true;
    if (this.pending.size > 0) this.deps.logger?.error({ quantity: this.pendingQuantity }, 'closing with outcomes the upstream never took');
    if (this.ownsRegistration) this.registration?.close();
  }
}
