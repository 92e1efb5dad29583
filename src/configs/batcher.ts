// The upstream source: batches key requests into rounds, retries pending/failed keys, backs off, enforces deadlines.

import type { Logger } from 'pino';
import { Backoff } from './backoff';
import { QueryDeadlineError, UpstreamHttpError, UpstreamNetworkError, UpstreamProtocolError, UpstreamTimeoutError, describeError } from './errors';
import type { ConfigMetrics, RequestOutcome } from './metrics';
import { RegistrationError } from './registration';
import type { ConfigSource, RequestOptions, SourceListener, SourceResult } from './source';
import { UpstreamClient, type UpstreamConnectionOptions } from './upstream';

export interface BatchingOptions {
  /** How long requests accumulate before a round is sent, ms (Relay `cache.batch_interval`, default 100). */
  batchInterval?: number;
  /** Keys per HTTP request (Relay `cache.batch_size`, default 500). */
  batchSize?: number;
  /** Requests sent concurrently in one round (Relay `limits.max_concurrent_queries`, default 5). */
  maxConcurrent?: number;
  /** Per-key deadline across retries, ms (Relay `limits.query_timeout`, default 30000). */
  queryTimeout?: number;
  /** First backoff after a failed round, ms (default 1000). */
  initialBackoff?: number;
  /** Backoff growth factor (default 1.5). */
  backoffMultiplier?: number;
  /** Backoff bound, ms (Relay `http.max_retry_interval`, default 60000). */
  maxBackoff?: number;
  /** A key is sent with `noCache` at most once per this interval, ms (default 1000). */
  noCacheInterval?: number;
  /** Continuous failure for this long is logged as an error, ms (Relay `http.project_failure_interval`, default 90000). */
  failureReportInterval?: number;
}

export type UpstreamSourceOptions = UpstreamConnectionOptions & BatchingOptions;

interface Channel {
  publicKey: string;
  revision: string | null;
  noCache: boolean;
  /** now() after which the key is given up. */
  deadline: number;
}

function outcomeOf(err: unknown): RequestOutcome {
  if (err instanceof RegistrationError) return 'registration';
  if (err instanceof UpstreamHttpError) return 'http_error';
  if (err instanceof UpstreamTimeoutError) return 'timeout';
  if (err instanceof UpstreamProtocolError) return 'invalid_response';
  if (err instanceof UpstreamNetworkError) return 'network';
  return 'network';
}

export class UpstreamSource implements ConfigSource {
  readonly client: UpstreamClient;
  private readonly batchInterval: number;
  private readonly batchSize: number;
  private readonly maxConcurrent: number;
  private readonly queryTimeout: number;
  private readonly noCacheInterval: number;
  private readonly failureReportInterval: number;
  private failingSince: number | null = null;
  private failureReported = false;
  private readonly backoff: Backoff;
  private readonly queue = new Map<string, Channel>();
  private readonly inFlight = new Map<string, Channel>();
  private readonly lastNoCache = new Map<string, number>();
  private listener: SourceListener = () => {};
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private closed = false;

  constructor(
    options: UpstreamSourceOptions,
    private readonly deps: { metrics: ConfigMetrics; logger: Logger; now: () => number },
  ) {
    this.client = new UpstreamClient(options, { logger: deps.logger, registry: deps.metrics.registry });
    this.batchInterval = options.batchInterval ?? 100;
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? 5);
    this.queryTimeout = options.queryTimeout ?? 30_000;
    this.noCacheInterval = options.noCacheInterval ?? 1000;
    this.failureReportInterval = options.failureReportInterval ?? 90_000;
    this.backoff = new Backoff({ initial: options.initialBackoff, multiplier: options.backoffMultiplier, max: options.maxBackoff });
  }

  setListener(listener: SourceListener): void {
    this.listener = listener;
  }

  /** Current backoff delay, ms (0 when the upstream is healthy). */
  get backoffDelay(): number {
    return this.backoff.current;
  }

  /** Keys waiting for the next round plus keys in flight. */
  get outstanding(): number {
    return this.queue.size + this.inFlight.size;
  }

  request(publicKey: string, revision: string | null, options: RequestOptions = {}): void {
    if (this.closed) return;
    const now = this.deps.now();
    let noCache = options.noCache === true;
    if (noCache) {
      const last = this.lastNoCache.get(publicKey);
      if (last !== undefined && now - last < this.noCacheInterval) noCache = false;
    }
    const queued = this.queue.get(publicKey);
    if (queued) {
      // Concurrent requests share one channel; differing revisions collapse to "no revision".
      if (queued.revision !== revision) queued.revision = null;
      if (noCache && !queued.noCache) {
        queued.noCache = true;
        this.lastNoCache.set(publicKey, now);
      }
      return;
    }
    // The answer in flight serves this request too (a pending answer requeues the key).
    if (this.inFlight.has(publicKey) && !noCache) return;
    if (noCache) this.lastNoCache.set(publicKey, now);
    this.queue.set(publicKey, { publicKey, revision, noCache, deadline: now + this.queryTimeout });
    this.schedule();
  }

  private emit(result: SourceResult): void {
    if (this.closed) return;
    try {
      this.listener(result);
    } catch (err) {
      this.deps.logger.error({ err, publicKey: result.publicKey }, 'project config listener threw');
    }
  }

  private schedule(): void {
    if (this.closed || this.timer || this.round || this.queue.size === 0) return;
    // Next fetch = batch interval + backoff (0 while healthy).
    this.timer = setTimeout(() => {
      this.timer = null;
      this.round = this.runRound().finally(() => {
        this.round = null;
        this.schedule();
      });
    }, this.batchInterval + this.backoff.current);
    this.timer.unref();
  }

  private async runRound(): Promise<void> {
    const now = this.deps.now();
    for (const [key, at] of this.lastNoCache) if (now - at >= this.noCacheInterval) this.lastNoCache.delete(key);
    for (const channel of [...this.queue.values()]) {
      if (now >= channel.deadline) {
        this.queue.delete(channel.publicKey);
        this.deps.metrics.keysFailed.inc();
        this.emit({ publicKey: channel.publicKey, kind: 'failed', error: new QueryDeadlineError(channel.publicKey, this.queryTimeout) });
      }
    }
    const taken: Channel[] = [];
    for (const channel of this.queue.values()) {
      if (taken.length >= this.batchSize * this.maxConcurrent) break;
      taken.push(channel);
    }
    if (taken.length === 0) return;
    for (const channel of taken) {
      this.queue.delete(channel.publicKey);
      this.inFlight.set(channel.publicKey, channel);
    }
    // noCache keys travel in requests of their own.
    const chunks: Channel[][] = [];
    for (const group of [taken.filter((c) => !c.noCache), taken.filter((c) => c.noCache)]) {
      for (let i = 0; i < group.length; i += this.batchSize) chunks.push(group.slice(i, i + this.batchSize));
    }
    const outcomes = await Promise.all(chunks.map((chunk) => this.send(chunk)));
    if (this.closed) return;
    if (outcomes.some((ok) => ok)) {
      this.backoff.reset();
      if (this.failingSince !== null) this.deps.logger.info('upstream answers project config requests again');
      this.failingSince = null;
      this.failureReported = false;
    } else {
      const delay = this.backoff.fail();
      const details = { backoffMs: delay, failures: this.backoff.consecutiveFailures };
      // Logged when failures start, and as an error once they have lasted the report interval.
      if (this.failingSince === null) {
        this.failingSince = now;
        this.deps.logger.warn(details, 'project config requests failing; backing off');
      } else if (!this.failureReported && now - this.failingSince >= this.failureReportInterval) {
        this.failureReported = true;
        this.deps.logger.error({ ...details, failingForMs: now - this.failingSince }, 'upstream has failed project config requests continuously');
      } else {
        this.deps.logger.debug(details, 'project config round failed; backing off');
      }
    }
    this.deps.metrics.backoffSeconds.set(this.backoff.current / 1000);
    this.deps.metrics.consecutiveFailures.set(this.backoff.consecutiveFailures);
  }

  /** Sends one request; returns whether it succeeded. Never throws. */
  private async send(chunk: Channel[]): Promise<boolean> {
    const { metrics, logger } = this.deps;
    const keys = chunk.map((c) => c.publicKey);
    const noCache = chunk[0]?.noCache ?? false;
    metrics.keysPerRequest.observe(keys.length);
    const started = performance.now();
    try {
      const answer = await this.client.fetchConfigs(keys, chunk.map((c) => c.revision), noCache);
      metrics.requests.inc({ outcome: 'ok' });
      metrics.fetchDuration.observe({ outcome: 'ok' }, (performance.now() - started) / 1000);
      for (const channel of chunk) {
        const key = channel.publicKey;
        this.inFlight.delete(key);
        if (this.closed) continue;
        if (answer.pending.has(key)) {
          // Still being computed upstream: ask again in a later round, same deadline.
          this.queue.set(key, { ...channel, noCache: false });
          this.emit({ publicKey: key, kind: 'pending' });
          continue;
        }
        const entry = answer.configs.get(key);
        if (entry instanceof Error) {
          metrics.parseFailures.inc({ kind: 'project_state' });
          logger.warn({ publicKey: key, err: entry.message }, 'upstream sent an invalid project state');
          this.emit({ publicKey: key, kind: 'invalid', error: entry });
        } else if (entry !== undefined) {
          this.emit({ publicKey: key, kind: 'state', state: entry });
        } else if (answer.unchanged.has(key)) {
          this.emit({ publicKey: key, kind: 'unchanged' });
        } else {
          // A key in neither `configs`, `pending` nor `unchanged` is disabled.
          this.emit({ publicKey: key, kind: 'state', state: { disabled: true, rev: null, raw: null } });
        }
      }
      return true;
    } catch (err) {
      const outcome = outcomeOf(err);
      metrics.requests.inc({ outcome });
      metrics.fetchDuration.observe({ outcome }, (performance.now() - started) / 1000);
      const error = err instanceof Error ? err : new UpstreamNetworkError(String(err));
      if (!this.closed) logger.debug({ outcome, keys: keys.length, err: describeError(err) }, 'project config request failed');
      for (const channel of chunk) {
        this.inFlight.delete(channel.publicKey);
        if (this.closed) continue;
        // Retried in a later round (after backoff) until the key's deadline.
        if (!this.queue.has(channel.publicKey)) this.queue.set(channel.publicKey, channel);
        this.emit({ publicKey: channel.publicKey, kind: 'error', error });
      }
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.client.close();
    await this.round?.catch(() => {});
    this.queue.clear();
    this.inFlight.clear();
  }
}
