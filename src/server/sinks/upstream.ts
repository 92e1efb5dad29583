// Forwards kept envelopes to another Relay or Sentry: a bounded queue, retries with backoff, 503 to clients when full.

import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';

import { Backoff } from '../../configs/backoff';
import { RelaySigner } from '../../configs/signing';
import { QueueFullError, ServerOptionsError } from '../errors';
import { RepeatLimiter } from '../log-limit';
import type { EnvelopeSink, KeptEnvelope, SinkHealth } from './types';

export interface UpstreamSinkOptions {
  /** Base URL of the upstream (`http://relay:3000`); envelopes go to `<url>/api/<projectId>/envelope/`. */
  url: string;
  /** Bound of the queue in envelopes (default 10000). */
  maxQueue?: number;
  /** Bound of the queue in bytes (default 256 MiB). */
  maxQueueBytes?: number;
  /** Requests in flight (default 8). */
  concurrency?: number;
  /** Timeout of one request, ms (default 10000). */
  requestTimeout?: number;
  /** Backoff after a failed attempt, ms (default 100 ×2 up to 30000). */
  initialBackoff?: number;
  maxBackoff?: number;
  /** Retry-After answered to clients while the queue is full, seconds (default 5). */
  retryAfter?: number;
  /** `sentry_client` of forwarded requests whose SDK gave none. */
  client?: string;
  /** Relay credentials: forwarded requests carry `X-Sentry-Relay-Id` and a signature of the body, as a Relay's do. */
  relay?: { relayId: string; secretKey: string };
  /** Compress forwarded bodies again (Relay's `http.encoding`; default `identity`: as they are). */
  encoding?: ForwardEncoding;
}

export const FORWARD_ENCODINGS = ['identity', 'gzip', 'deflate', 'br'] as const;
export type ForwardEncoding = (typeof FORWARD_ENCODINGS)[number];

const compressors: Record<Exclude<ForwardEncoding, 'identity'>, (body: Buffer) => Promise<Buffer>> = {
  gzip: promisify(zlib.gzip),
  deflate: promisify(zlib.deflate),
  br: promisify(zlib.brotliCompress),
};

/** Why an attempt failed: retried (`transient`) or given up (`permanent`, the upstream refused the envelope). */
type AttemptResult = { ok: true } | { ok: false; permanent: boolean; reason: string; retryAfterMs?: number };

interface UpstreamMetrics {
  queued: Gauge<string>;
  queuedBytes: Gauge<string>;
  sent: Counter<string>;
  retries: Counter<'reason'>;
  rejected: Counter<'status'>;
  full: Counter<string>;
}

function metrics(registry: Registry): UpstreamMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const p = 'dynamic_sampling_server_upstream_';
  return {
    queued: get(`${p}queue_envelopes`, () => new Gauge({ name: `${p}queue_envelopes`, help: 'Envelopes waiting to be forwarded upstream.', registers: [registry] })),
    queuedBytes: get(`${p}queue_bytes`, () => new Gauge({ name: `${p}queue_bytes`, help: 'Bytes waiting to be forwarded upstream.', registers: [registry] })),
    sent: get(`${p}sent_total`, () => new Counter({ name: `${p}sent_total`, help: 'Envelopes the upstream accepted.', registers: [registry] })),
    retries: get(`${p}retries_total`, () => new Counter({ name: `${p}retries_total`, help: 'Failed attempts that will be retried, by reason.', labelNames: ['reason'], registers: [registry] })),
    rejected: get(`${p}rejected_total`, () => new Counter({ name: `${p}rejected_total`, help: 'Envelopes the upstream refused for good (4xx other than 429), by status.', labelNames: ['status'], registers: [registry] })),
    full: get(`${p}queue_full_total`, () => new Counter({ name: `${p}queue_full_total`, help: 'Envelopes refused with 503 because the queue was full.', registers: [registry] })),
  };
}

/** A double-ended queue of envelopes (retries go back to the front). */
class EnvelopeQueue {
  private items: KeptEnvelope[] = [];
  private head = 0;
  bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(kept: KeptEnvelope): void {
    this.items.push(kept);
    this.bytes += kept.envelope.length;
  }

  unshift(kept: KeptEnvelope): void {
    if (this.head > 0) this.items[--this.head] = kept;
    else this.items.unshift(kept);
    this.bytes += kept.envelope.length;
  }

  shift(): KeptEnvelope | undefined {
    if (this.head >= this.items.length) return undefined;
    const kept = this.items[this.head];
    this.items[this.head++] = undefined as unknown as KeptEnvelope;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.bytes -= kept.envelope.length;
    return kept;
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export class UpstreamSink implements EnvelopeSink {
  readonly description: string;
  private readonly base: URL;
  private readonly queue = new EnvelopeQueue();
  private readonly backoff: Backoff;
  private readonly agent: http.Agent;
  private readonly metrics: UpstreamMetrics;
  private inFlight = 0;
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  private readonly o: Required<Omit<UpstreamSinkOptions, 'url' | 'relay'>>;
  private readonly signer: RelaySigner | null;
  /** Per-envelope failures (queue full, refusals) are logged once per interval with a count. */
  private readonly log: RepeatLimiter;

  constructor(options: UpstreamSinkOptions, private readonly deps: { logger: Logger; registry: Registry }) {
    try {
      this.base = new URL(options.url);
    } catch {
      throw new ServerOptionsError(`the upstream sink URL is not a URL: ${options.url}`);
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new ServerOptionsError(`the upstream sink URL must be http(s): ${options.url}`);
    this.o = {
      maxQueue: options.maxQueue ?? 10_000,
      maxQueueBytes: options.maxQueueBytes ?? 256 * 1024 * 1024,
      concurrency: options.concurrency ?? 8,
      requestTimeout: options.requestTimeout ?? 10_000,
      initialBackoff: options.initialBackoff ?? 100,
      maxBackoff: options.maxBackoff ?? 30_000,
      retryAfter: options.retryAfter ?? 5,
      client: options.client ?? 'dynamic-sampling/0.1.0',
      encoding: options.encoding ?? 'identity',
    };
    if (!FORWARD_ENCODINGS.includes(this.o.encoding)) throw new ServerOptionsError(`the forwarding encoding must be one of ${FORWARD_ENCODINGS.join(', ')}, got ${String(options.encoding)}`);
    this.signer = options.relay ? new RelaySigner(options.relay.relayId, options.relay.secretKey) : null;
    this.description = `upstream:${this.base.origin}${this.base.pathname.replace(/\/$/, '')}`;
    this.backoff = new Backoff({ initial: this.o.initialBackoff, multiplier: 2, max: this.o.maxBackoff });
    const Agent = this.base.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: this.o.concurrency });
    this.metrics = metrics(deps.registry);
    this.log = new RepeatLimiter(deps.logger);
  }

  /** Envelopes queued or in flight. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /**
   * Not ready while the queue is full (every envelope is answered 503), yet ok: a restart would
   * only lose the queue; the upstream being down is retried here.
   */
  health(): SinkHealth {
    const full = this.queue.length >= this.o.maxQueue || this.queue.bytes >= this.o.maxQueueBytes;
    return full ? { ok: true, ready: false, error: `the forwarding queue is full (${this.queue.length} envelopes, ${this.queue.bytes} bytes)` } : { ok: true, ready: true };
  }

  accept(kept: KeptEnvelope): Promise<void> {
    if (this.queue.length >= this.o.maxQueue || this.queue.bytes + kept.envelope.length > this.o.maxQueueBytes) {
      this.metrics.full.inc();
      this.log.log('error', 'queue-full', { queued: this.queue.length, bytes: this.queue.bytes, upstream: this.description }, 'forwarding queue full: answering 503');
      return Promise.reject(new QueueFullError(this.queue.length, this.queue.bytes, this.o.retryAfter));
    }
    this.queue.push(kept);
    this.updateGauges();
    this.pump();
    return Promise.resolve();
  }

  private updateGauges(): void {
    this.metrics.queued.set(this.queue.length + this.inFlight);
    this.metrics.queuedBytes.set(this.queue.bytes);
  }

  private pump(): void {
    // Once closed with nothing queued, the only thing left is to wake close() when the last one settles.
    if (this.closed && this.queue.length === 0) {
      this.checkDrained();
      return;
    }
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) {
      if (this.timer === null) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.pump();
        }, wait);
      }
      return;
    }
    while (this.inFlight < this.o.concurrency && this.queue.length > 0) {
      const kept = this.queue.shift()!;
      this.inFlight++;
      void this.send(kept).then((result) => this.settle(kept, result));
    }
    this.checkDrained();
  }

  private settle(kept: KeptEnvelope, result: AttemptResult): void {
    this.inFlight--;
    if (result.ok) {
      this.backoff.reset();
      this.metrics.sent.inc();
    } else if (result.permanent) {
      this.metrics.rejected.inc({ status: result.reason });
      this.log.log('error', `refused:${result.reason}`, { projectId: kept.projectId, eventId: kept.eventId, reason: result.reason }, 'upstream refused a forwarded envelope');
    } else {
      this.metrics.retries.inc({ reason: result.reason.startsWith('HTTP') ? result.reason : 'network' });
      this.queue.unshift(kept);
      const delay = Math.max(this.backoff.fail(), result.retryAfterMs ?? 0);
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay);
      if (this.backoff.consecutiveFailures === 1 || this.backoff.consecutiveFailures % 20 === 0) {
        this.deps.logger.warn({ reason: result.reason, queued: this.queue.length, retryInMs: delay, upstream: this.description }, 'upstream unavailable: retrying');
      }
    }
    this.updateGauges();
    this.pump();
  }

  private checkDrained(): void {
    if (this.queue.length === 0 && this.inFlight === 0) this.drainWaiters.splice(0).forEach((fn) => fn());
  }

  private async send(kept: KeptEnvelope): Promise<AttemptResult> {
    let body = kept.envelope;
    if (this.o.encoding !== 'identity') {
      try {
        body = await compressors[this.o.encoding](kept.envelope);
      } catch (err) {
        return { ok: false, permanent: true, reason: `compression failed: ${(err as Error).message}` };
      }
    }
    return this.post(kept, body);
  }

  private post(kept: KeptEnvelope, body: Buffer): Promise<AttemptResult> {
    const prefix = this.base.pathname.replace(/\/$/, '');
    // The SDK's identity and the client's address travel on, as a Relay passes them (the upstream's
    // inbound filters and rate limits read them); this server appends the address it saw. The
    // client's own X-Sentry-Auth goes as received; clients that authenticated in the query get one.
    const client = kept.client;
    const auth = client?.auth ?? `Sentry sentry_version=7, sentry_key=${kept.publicKey}, sentry_client=${client?.sentryClient ?? this.o.client}`;
    const forwardedFor = client?.address ? (client.forwardedFor ? `${client.forwardedFor}, ${client.address}` : client.address) : client?.forwardedFor;
    const transport = this.base.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      const req = transport.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port,
          method: 'POST',
          path: `${prefix}/api/${kept.projectId}/envelope/`,
          agent: this.agent,
          timeout: this.o.requestTimeout,
          headers: {
            'content-type': 'application/x-sentry-envelope',
            'content-length': body.length,
            'x-sentry-auth': auth,
            ...(this.o.encoding !== 'identity' ? { 'content-encoding': this.o.encoding } : {}),
            ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
            ...(client?.userAgent ? { 'user-agent': client.userAgent } : {}),
            ...(this.signer ? lowerCaseKeys(this.signer.headers(body)) : {}),
          },
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          res.on('end', () => {
            if (status >= 200 && status < 300) resolve({ ok: true });
            else if (status === 429 || status >= 500 || status === 408) resolve({ ok: false, permanent: false, reason: `HTTP ${status}`, retryAfterMs: retryAfterMs(res.headers['retry-after']) });
            else resolve({ ok: false, permanent: true, reason: String(status) });
          });
          res.on('error', () => resolve({ ok: false, permanent: false, reason: 'response aborted' }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.o.requestTimeout} ms`)));
      req.on('error', (err) => resolve({ ok: false, permanent: false, reason: err.message }));
      req.end(body);
    });
  }

  flush(timeoutMs = 10_000): Promise<boolean> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    const drained = await this.flush(timeoutMs);
    if (!drained) {
      // Queued ones were never sent; those in flight are cut off now: the upstream may or may not have them.
      const neverSent = this.queue.length;
      const inFlight = this.inFlight;
      this.deps.logger.error(
        { neverSent, inFlight, upstream: this.description },
        `closing after ${timeoutMs} ms: ${neverSent} envelopes never sent to the upstream, ${inFlight} in flight (may or may not have arrived)`,
      );
    }
    if (this.timer) clearTimeout(this.timer);
    this.agent.destroy();
    this.log.flush();
  }
}
