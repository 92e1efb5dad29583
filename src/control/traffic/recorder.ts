// The recorder the ingestion server calls: counts per org/root project/transaction/decision (Relay's count_per_root_project), and release observations.

import type { Logger } from 'pino';
import { systemClock, toMillis, type Clock } from '../clock';
import { MINUTE_MS } from '../state/keys';
import type { Decision, RootCount, RootKind, TrafficCounts } from './counts';

/** Transactions or segment spans of one trace root project (Relay's `count_per_root_project`), with their decision. */
export interface RootRecord {
  orgId: number;
  projectId: number;
  /** The DSC's transaction name; absent or empty is counted under `""`. */
  transaction?: string | null;
  decision: Decision;
  /** How many transactions or segments this record stands for (default 1). */
  count?: number;
  /** When the root was seen (default: now). */
  at?: Date | number;
  /** Transaction events (default) or segment spans. */
  kind?: RootKind;
  /** The DSC's release and environment (what the release and environment rules match). */
  release?: string | null;
  environment?: string | null;
}

/** A transaction event of a project carried a release (for the latest-release bias, §8). */
export interface ReleaseObservation {
  projectId: number;
  release: string;
  environment?: string | null;
  at?: Date | number;
}

/** What the ingestion server calls. Both methods return at once and never throw. */
export interface TrafficRecorder {
  recordRoot(root: RootRecord): void;
  observeRelease(observation: ReleaseObservation): void;
}

/** Name under which transactions beyond the per-project limit are counted (Sentry's marker). */
export const OVERFLOW_TRANSACTION = '<< unparameterized >>';

export interface CountingRecorderOptions {
  counts: TrafficCounts;
  /** Handles a release observation (boost + invalidation); errors are logged. */
  onRelease?: (observation: Required<Omit<ReleaseObservation, 'environment'>> & { environment: string | null; at: number }) => Promise<void>;
  clock?: Clock;
  logger?: Logger;
  /** How often buffered counts are written, ms (default 1000; 0: only on `flush`). */
  flushIntervalMs?: number;
  /** Distinct transaction names per project and minute; more are counted as `OVERFLOW_TRANSACTION` (default 5000). */
  maxTransactionsPerProjectMinute?: number;
  /**
   * A release (project, version, environment) handed to `onRelease` is not handed again for this
   * long, ms (default 60000): the store's observed marker lasts 24 h, so repeats would be no-ops.
   */
  releaseRepeatMs?: number;
  /**
   * Bound of the counts held in memory while the store cannot be written (Redis outage), in
   * aggregated records (one per minute, project, decision and transaction; default 100000).
   * Roots beyond it are dropped and counted (`droppedRoots`).
   */
  maxBufferedRecords?: number;
}

/** Whether a key field holds the recorder's separator (U+0000) or null marker (U+0001). */
function holdsMarker(text: string | null): boolean {
  return text !== null && (text.includes('\u0000') || text.includes('\u0001'));
}

/** Bound of the recently observed releases remembered in memory. */
const MAX_RECENT_RELEASES = 10_000;

/** Bound of the projects whose last bucket is remembered. */
const MAX_RECENT_BUCKETS = 10_000;

/** The key of one minute of one project's counts. */
function bucketKey(minute: number, orgId: number, projectId: number): string {
  return `${minute}:${orgId}:${projectId}`;
}

/** The bucket a project's roots went to last: its key and names, found again by project id. */
interface RecentBucket {
  minute: number;
  orgId: number;
  key: string;
  names: Set<string>;
}

/**
 * Aggregates counts in memory and writes them to the store (memory or Redis) every second and on
 * `flush()`. With a Redis store, every process's recorder adds to the same buckets.
 */
export class CountingTrafficRecorder implements TrafficRecorder {
  private buffer = new Map<string, RootCount>();
  /**
   * The records of `buffer` by bucket and transaction name: a root adding to a buffered record
   * finds it without building and hashing its whole key (that cost more than the rest of the call).
   */
  private index = new Map<string, Map<string, RootCount[]>>();
  private readonly namesPerBucket = new Map<string, Set<string>>();
  private readonly recentBuckets = new Map<number, RecentBucket>();
  private readonly clock: Clock;
  private readonly timer: NodeJS.Timeout | null;
  private pending: Promise<void>[] = [];
  private readonly maxNames: number;
  private readonly recentReleases = new Map<string, number>();
  private readonly maxBuffered: number;
  private flushing: Promise<void> | null = null;
  /** Whether the last write failed (one log line per outage). */
  private failing = false;
  private dropped = 0;
  private closed = false;

  constructor(private readonly options: CountingRecorderOptions) {
    this.clock = options.clock ?? systemClock;
    this.maxNames = options.maxTransactionsPerProjectMinute ?? 5000;
    this.maxBuffered = options.maxBufferedRecords ?? 100_000;
    const interval = options.flushIntervalMs ?? 1000;
    // A write still waiting (Redis down) is not doubled by the next tick.
    this.timer = interval > 0 ? setInterval(() => void (this.flushing ?? this.flush()), interval) : null;
    this.timer?.unref();
  }

  recordRoot(root: RootRecord): void {
    if (this.closed) return;
    const count = root.count ?? 1;
    if (!(count > 0) || !Number.isFinite(count)) return;
    if (root.decision !== 'keep' && root.decision !== 'drop') return;
    const at = toMillis(root.at, this.clock);
    const minute = Math.floor(at / MINUTE_MS);
    const bucket = this.bucketOf(minute, root.orgId, root.projectId);
    let transaction = root.transaction ?? '';
    const names = bucket.names;
    if (!names.has(transaction)) {
      if (names.size >= this.maxNames) transaction = OVERFLOW_TRANSACTION;
      else names.add(transaction);
    }
    const kind = root.kind === 'segment' ? 'segment' : 'transaction';
    const release = root.release || null;
    const environment = root.environment || null;
    // Most roots add to a record of this minute: found by name, no key built, no record object.
    const sameName = this.index.get(bucket.key)?.get(transaction);
    if (sameName !== undefined) {
      for (const entry of sameName) {
        if (entry.decision === root.decision && entry.kind === kind && entry.release === release && entry.environment === environment) {
          entry.count += count;
          return;
        }
      }
    }
    // A joined key (JSON.stringify of the fields cost more than the rest of the call); fields
    // holding the separator or the null marker take the JSON form.
    const id =
      holdsMarker(transaction) || holdsMarker(release) || holdsMarker(environment)
        ? JSON.stringify([bucket.key, root.decision, transaction, kind, release, environment])
        : `${bucket.key}\u0000${root.decision}\u0000${transaction}\u0000${kind}\u0000${release ?? '\u0001'}\u0000${environment ?? '\u0001'}`;
    this.add(id, { orgId: root.orgId, projectId: root.projectId, transaction, decision: root.decision, count, at: minute * MINUTE_MS, kind, release, environment });
  }

  /** The bucket of a project's minute: the one its last root went to when it is the same. */
  private bucketOf(minute: number, orgId: number, projectId: number): RecentBucket {
    const recent = this.recentBuckets.get(projectId);
    if (recent !== undefined && recent.minute === minute && recent.orgId === orgId) return recent;
    const key = bucketKey(minute, orgId, projectId);
    let names = this.namesPerBucket.get(key);
    if (!names) this.namesPerBucket.set(key, (names = new Set()));
    const bucket = { minute, orgId, key, names };
    if (this.recentBuckets.size >= MAX_RECENT_BUCKETS) this.recentBuckets.clear();
    this.recentBuckets.set(projectId, bucket);
    return bucket;
  }

  /** Adds to the buffer (and its index); a new record beyond the bound is dropped and counted. */
  private add(id: string, record: RootCount): void {
    const entry = this.buffer.get(id);
    if (entry) {
      entry.count += record.count;
    } else if (this.buffer.size < this.maxBuffered) {
      const buffered = { ...record };
      this.buffer.set(id, buffered);
      const key = bucketKey(Math.floor(buffered.at / MINUTE_MS), buffered.orgId, buffered.projectId);
      let byName = this.index.get(key);
      if (!byName) this.index.set(key, (byName = new Map()));
      const sameName = byName.get(buffered.transaction);
      if (sameName) sameName.push(buffered);
      else byName.set(buffered.transaction, [buffered]);
    } else {
      this.dropped += record.count;
    }
  }

  /** Roots dropped because the buffer was full while the store could not be written. */
  get droppedRoots(): number {
    return this.dropped;
  }

  /** Aggregated records waiting to be written. */
  get bufferedRecords(): number {
    return this.buffer.size;
  }

  observeRelease(observation: ReleaseObservation): void {
    if (this.closed || !this.options.onRelease || !observation.release) return;
    const at = toMillis(observation.at, this.clock);
    const environment = observation.environment || null;
    const id = `${observation.projectId}\u0000${observation.release}\u0000${environment ?? ''}`;
    const until = this.recentReleases.get(id);
    if (until !== undefined && at < until) return;
    if (this.recentReleases.size >= MAX_RECENT_RELEASES) this.recentReleases.clear();
    this.recentReleases.set(id, at + (this.options.releaseRepeatMs ?? 60_000));
    const task = this.options
      .onRelease({ projectId: observation.projectId, release: observation.release, environment, at })
      .catch((err: unknown) => this.options.logger?.error({ err, projectId: observation.projectId }, 'release observation failed'));
    this.pending.push(task);
    void task.finally(() => {
      this.pending = this.pending.filter((p) => p !== task);
    });
  }

  /**
   * Writes buffered counts and waits for release observations in flight. Counts that cannot be
   * written stay buffered (bounded) and go with the next flush, e.g. once Redis is back.
   */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    const run = this.write();
    this.flushing = run;
    try {
      await run;
    } finally {
      this.flushing = null;
    }
    await Promise.all(this.pending);
  }

  private async write(): Promise<void> {
    const written = this.buffer;
    const batch = [...written.values()];
    this.buffer = new Map();
    this.index = new Map();
    const now = Math.floor(this.clock() / MINUTE_MS);
    for (const key of this.namesPerBucket.keys()) if (Number(key.slice(0, key.indexOf(':'))) < now - 1) this.namesPerBucket.delete(key);
    for (const [projectId, bucket] of this.recentBuckets) if (bucket.minute < now - 1) this.recentBuckets.delete(projectId);
    if (batch.length === 0) return;
    try {
      await this.options.counts.add(batch);
      if (this.failing) {
        this.failing = false;
        this.options.logger?.info({ records: batch.length, droppedRoots: this.dropped }, 'traffic counts written again; what was buffered meanwhile is flushed');
      }
    } catch (err) {
      // Kept for the next flush, merged with what was counted meanwhile.
      const meanwhile = this.buffer;
      this.buffer = new Map();
      this.index = new Map();
      for (const [id, record] of written) this.add(id, record);
      for (const [id, record] of meanwhile) this.add(id, record);
      if (!this.failing) {
        this.failing = true;
        this.options.logger?.warn({ err, records: batch.length, bound: this.maxBuffered }, 'writing traffic counts failed; buffering them in memory until the store is back');
      }
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.closed = true;
  }
}
