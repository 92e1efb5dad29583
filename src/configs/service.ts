// ProjectConfigService: answers "what is the config of this key" from cache at once, and keeps the caches and the installer up to date.

import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { UpstreamSource } from './batcher';
import { ConfigOptionsError, describeError, isSamplingConfigError } from './errors';
import { FileSource } from './file-source';
import { MemoryCache } from './memory-cache';
import { createMetrics, type ConfigMetrics } from './metrics';
import { isPlausiblePublicKey } from './project-state';
import type { InvalidateTarget } from './redis-cache';
import { DEFAULT_TIMINGS, type LookupResult, type ProjectConfigServiceOptions, type SourceOptions, type StateListener } from './service-options';
import type { RegistrationStatus, RelayRegistration } from './registration';
import { ConfigSharing } from './sharing';
import type { ConfigInstaller, ProjectInfo } from './installer';
import type { ConfigSource, SourceResult } from './source';
import { freshnessOf, newSlot, refreshPoint, stateOf, type CacheEntry, type CacheTimings, type KeyState, type Slot } from './states';

export type { CacheOptions, LookupResult, ProjectConfigServiceOptions, SourceOptions, StateListener } from './service-options';

export class ProjectConfigService {
  readonly metrics: ConfigMetrics;
  readonly timings: CacheTimings;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly installer: ConfigInstaller;
  private readonly source: ConfigSource;
  private readonly cache: MemoryCache;
  private readonly sharing: ConfigSharing | null;
  private readonly failureRetry: number;
  private readonly refreshAhead: number;
  private readonly listeners = new Set<StateListener>();
  /** Internal waiters (prefetch), told about every result and at close. */
  private readonly activityHooks = new Set<(publicKey: string | null) => void>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(options: ProjectConfigServiceOptions) {
    if (!options || typeof options !== 'object') throw new ConfigOptionsError('options are required');
    if (!options.installer || typeof options.installer.put !== 'function' || typeof options.installer.remove !== 'function') {
      throw new ConfigOptionsError('an installer with put() and remove() is required');
    }
    this.installer = options.installer;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? pino({ name: 'dynamic-sampling:configs' });
    this.metrics = createMetrics(options.registry);
    const cache = options.cache ?? {};
    this.timings = {
      expiry: cache.expiry ?? DEFAULT_TIMINGS.expiry,
      missExpiry: cache.missExpiry ?? DEFAULT_TIMINGS.missExpiry,
      grace: cache.grace ?? DEFAULT_TIMINGS.grace,
    };
    for (const [name, value] of Object.entries(this.timings)) {
      if (!(typeof value === 'number' && value >= 0 && Number.isFinite(value))) {
        throw new ConfigOptionsError(`cache.${name} must be a non-negative number of ms`);
      }
    }
    this.failureRetry = options.failureRetry ?? 0;
    this.refreshAhead = options.redis ? (cache.refreshAhead ?? 0.1) : 0;
    if (!(this.refreshAhead >= 0 && this.refreshAhead < 1)) throw new ConfigOptionsError('cache.refreshAhead must be a fraction in [0, 1)');
    const fetchClaimMs = cache.fetchClaim ?? 10_000;
    if (!(fetchClaimMs > 0 && Number.isFinite(fetchClaimMs))) throw new ConfigOptionsError('cache.fetchClaim must be a positive number of ms');
    this.cache = new MemoryCache(cache.maxEntries ?? 50_000, (slot) => this.onEvicted(slot));
    this.source = this.createSource(options.source);
    this.source.setListener((result) => this.onSourceResult(result));
    this.sharing = options.redis
      ? new ConfigSharing(
          { connection: options.redis, prefix: options.redisPrefix, fetchClaimMs },
          {
            now: this.now,
            timings: this.timings,
            slotOf: (publicKey) => this.cache.peek(publicKey),
            slots: () => this.cache.slots(),
            accepts: (slot, entry) => this.accepts(slot, entry),
            adopt: (slot, entry) => {
              this.applyEntry(slot, entry);
              if (freshnessOf(slot, entry, this.now(), this.timings) === 'fresh') slot.lastError = undefined;
              this.report(slot);
            },
            invalidated: (target) => {
              const now = this.now();
              const matched = this.markInvalid(target, now);
              this.metrics.invalidations.inc({ scope: this.scopeOf(target) });
              // Refetched at once, once for the fleet: the first process to claim a key fetches it.
              for (const slot of matched) {
                if (slot.entry) this.load(slot, now, { force: true });
                this.report(slot);
              }
            },
            settled: (slot) => this.settled(slot, this.now()),
            finish: (slot) => {
              slot.loading = false;
              slot.lastError = undefined;
              this.report(slot);
            },
            retry: (slot) => this.load(slot, this.now(), { force: true }),
            revalidate: () => {
              const now = this.now();
              for (const slot of this.cache.slots()) {
                if (!slot.entry) continue;
                // Possibly missed an invalidation: not settled until refetched (or told by the fetcher).
                slot.outdated = true;
                this.load(slot, now, { skipShared: true, force: true });
              }
            },
          },
          { metrics: this.metrics, logger: this.logger },
        )
      : null;
    this.sweeper = setInterval(() => this.sweep(), options.sweepInterval ?? 1000);
    this.sweeper.unref();
  }

  private createSource(source: SourceOptions): ConfigSource {
    const deps = { metrics: this.metrics, logger: this.logger, now: this.now };
    if (source && 'upstream' in source) return new UpstreamSource(source.upstream, deps);
    if (source && 'file' in source) {
      return new FileSource(typeof source.file === 'string' ? { path: source.file } : source.file, deps);
    }
    if (source && 'custom' in source) return source.custom;
    throw new ConfigOptionsError('source must be {upstream: {...}}, {file: path} or {custom: source}');
  }

  /** The registry holding this service's metrics. */
  get registry(): Registry {
    return this.metrics.registry;
  }

  /** Number of keys in the in-memory cache. */
  get size(): number {
    return this.cache.size;
  }

  /** Whether the shared cache (Redis) is configured and reachable now. */
  get sharedCacheAvailable(): boolean {
    return this.sharing?.available ?? false;
  }

  /**
   * The state of `publicKey` from cache, at once; schedules a fetch when the key is missing, stale
   * or failed. Never throws. Keys that cannot be project keys answer `disabled` without a fetch.
   */
  get(publicKey: string): LookupResult {
    try {
      if (!isPlausiblePublicKey(publicKey)) return { state: 'disabled' };
      const now = this.now();
      const slot = this.touch(publicKey, now);
      this.dropIfExpired(slot, now);
      const freshness = slot.entry ? freshnessOf(slot, slot.entry, now, this.timings) : 'expired';
      if (freshness === 'expired') this.metrics.cacheMisses.inc({ cache: 'memory' });
      else this.metrics.cacheHits.inc({ cache: 'memory' });
      if (freshness !== 'fresh' || now >= slot.refreshAt) this.load(slot, now);
      return this.describe(slot, now);
    } catch (err) {
      this.logger.error({ publicKey, err: describeError(err) }, 'project config lookup failed');
      return { state: 'failed', error: describeError(err) };
    }
  }

  /**
   * Starts fetching `keys` (like `get`) and resolves when none of them is pending any more, or
   * after `timeout` ms (default 60000). With `noCache`, keys are refetched from the source and the
   * upstream is asked to compute them afresh. Never rejects.
   */
  prefetch(keys: Iterable<string>, options: { noCache?: boolean; timeout?: number } = {}): Promise<Record<string, KeyState>> {
    const list = [...new Set(keys)];
    for (const key of list) {
      if (options.noCache && isPlausiblePublicKey(key)) {
        const now = this.now();
        const slot = this.touch(key, now);
        this.load(slot, now, { noCache: true, skipShared: true, force: true });
      } else {
        this.get(key);
      }
    }
    return new Promise((resolve) => {
      const snapshot = (): Record<string, KeyState> => {
        const out: Record<string, KeyState> = {};
        for (const key of list) out[key] = isPlausiblePublicKey(key) ? (this.stateOf(key) ?? 'pending') : 'disabled';
        return out;
      };
      const settled = (key: string): boolean => {
        const slot = this.cache.peek(key);
        return slot === undefined || !slot.loading || (options.noCache !== true && this.stateOf(key) !== 'pending');
      };
      const remaining = new Set(list.filter((key) => !settled(key)));
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        off();
        if (timer) clearTimeout(timer);
        resolve(snapshot());
      };
      const check = (publicKey: string | null): void => {
        if (publicKey !== null && remaining.has(publicKey) && settled(publicKey)) remaining.delete(publicKey);
        if (this.closed || remaining.size === 0) finish();
      };
      const off = (): void => {
        this.activityHooks.delete(check);
      };
      this.activityHooks.add(check);
      timer = setTimeout(finish, options.timeout ?? 60_000);
      timer.unref();
      if (remaining.size === 0) finish();
    });
  }

  /** The state of a key without scheduling anything; undefined for a key not in the cache. */
  stateOf(publicKey: string): KeyState | undefined {
    const slot = this.cache.peek(publicKey);
    if (!slot) return undefined;
    const now = this.now();
    this.dropIfExpired(slot, now);
    return stateOf(slot, now, this.timings);
  }

  /**
   * Marks configs as outdated: they stay in force (stale) until refetched, which starts at once for
   * the keys of this process. With Redis, shared entries are deleted and every process is told.
   */
  async invalidate(target: InvalidateTarget): Promise<void> {
    try {
      const now = this.now();
      const matched = this.markInvalid(target, now);
      this.metrics.invalidations.inc({ scope: this.scopeOf(target) });
      if (this.sharing) {
        const ok = await this.sharing.invalidate(target, matched.map((slot) => slot.publicKey));
        if (!ok) this.logger.warn({ target }, 'invalidation applied locally only: redis unavailable');
      }
      for (const slot of matched) {
        if (slot.entry) this.load(slot, this.now(), { skipShared: true, force: true });
        this.report(slot);
      }
    } catch (err) {
      this.logger.error({ target, err: describeError(err) }, 'invalidation failed');
    }
  }

  /** Listens to changes of any key's state; returns a function that stops listening. */
  onChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The relay's registration with the upstream (null: not an upstream source, or requests are not signed). */
  get registration(): RegistrationStatus | null {
    return this.upstreamRegistration?.status() ?? null;
  }

  /** The registration itself, for other clients of the same upstream (outcomes) to share. */
  get upstreamRegistration(): RelayRegistration | null {
    return this.source instanceof UpstreamSource ? this.source.client.registration : null;
  }

  /** Stops timers, the source, and the Redis connections. The installer keeps what it has. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.all([
      this.source.close().catch((err: unknown) => this.logger.warn({ err: describeError(err) }, 'closing source failed')),
      this.sharing?.close(),
    ]);
    for (const hook of [...this.activityHooks]) hook(null);
    this.listeners.clear();
  }

  // --- internals -------------------------------------------------------------------------------

  private touch(publicKey: string, now: number): Slot {
    let slot = this.cache.get(publicKey);
    if (!slot) {
      slot = newSlot(publicKey, now);
      this.cache.set(slot);
      this.metrics.cacheEntries.set(this.cache.size);
    }
    slot.lastAccess = now;
    return slot;
  }

  /** The slot of a key a result arrived for (recreated if it was evicted meanwhile). */
  private slotFor(publicKey: string): Slot {
    let slot = this.cache.peek(publicKey);
    if (!slot) {
      slot = newSlot(publicKey, this.now());
      this.cache.set(slot);
      this.metrics.cacheEntries.set(this.cache.size);
    }
    return slot;
  }

  private describe(slot: Slot, now: number): LookupResult {
    const state = stateOf(slot, now, this.timings) ?? 'pending';
    const result: LookupResult = { state };
    const entryState = slot.entry?.state;
    if ((state === 'fresh' || state === 'stale') && entryState && !entryState.disabled) {
      result.info = { publicKey: slot.publicKey, projectId: entryState.projectId, organizationId: entryState.organizationId };
      result.keyId = entryState.keyId;
      result.rev = entryState.rev;
    }
    if (slot.lastError) result.error = describeError(slot.lastError);
    if (slot.installRejection) result.rejected = slot.installRejection;
    return result;
  }

  /**
   * Starts loading a key: shared cache first, then the source (with Redis, one process of the
   * fleet fetches a key at a time). At most one load per key at a time.
   */
  private load(slot: Slot, now: number, options: { noCache?: boolean; skipShared?: boolean; force?: boolean } = {}): void {
    if (this.closed || slot.loading) return;
    if (!options.force && now < slot.nextAttemptAt) return;
    slot.loading = true;
    const request = (): void => {
      const entry = slot.entry;
      // An invalidated config is asked for in full (no revision, so never `unchanged`).
      const revision = entry && !entry.state.disabled && !slot.outdated ? entry.state.rev : null;
      slot.requestedAt = this.now();
      this.source.request(slot.publicKey, revision, { noCache: options.noCache });
    };
    // A refetch asked for explicitly (noCache) is this process's own.
    if (!this.sharing || options.noCache) {
      request();
      return;
    }
    void this.sharing.fetchOnce(slot, request, { readShared: !options.skipShared });
  }

  /** A fresh entry that is not yet due for its early refresh. */
  private settled(slot: Slot, now: number): boolean {
    return slot.entry !== undefined && !slot.outdated && freshnessOf(slot, slot.entry, now, this.timings) === 'fresh' && now < slot.refreshAt;
  }

  /** Whether a shared entry is newer than what the slot holds and not older than its last invalidation. */
  private accepts(slot: Slot, entry: CacheEntry): boolean {
    if (entry.fetchedAt < slot.invalidatedAt) return false;
    // Anything fetched since the invalidation replaces an invalidated entry.
    return !slot.entry || slot.outdated || entry.fetchedAt > slot.entry.fetchedAt;
  }

  private onSourceResult(result: SourceResult): void {
    if (this.closed) return;
    const now = this.now();
    switch (result.kind) {
      case 'state': {
        const slot = this.slotFor(result.publicKey);
        const entry: CacheEntry = { publicKey: result.publicKey, state: result.state, fetchedAt: now };
        slot.loading = false;
        slot.lastError = undefined;
        slot.nextAttemptAt = 0;
        this.applyEntry(slot, entry);
        this.share(entry);
        this.report(slot);
        this.refetchIfInvalidatedMeanwhile(slot, now);
        return;
      }
      case 'unchanged': {
        const slot = this.slotFor(result.publicKey);
        slot.loading = false;
        if (slot.entry && !slot.entry.state.disabled) {
          slot.entry = { ...slot.entry, fetchedAt: now };
          slot.outdated = false;
          slot.refreshAt = refreshPoint(slot.entry, this.timings, this.refreshAhead);
          slot.lastError = undefined;
          slot.nextAttemptAt = 0;
          this.share(slot.entry);
          this.refetchIfInvalidatedMeanwhile(slot, now);
        } else {
          // Nothing cached to keep (evicted or expired meanwhile): ask again without a revision.
          slot.loading = true;
          this.source.request(result.publicKey, null);
        }
        this.report(slot);
        return;
      }
      case 'pending': {
        this.report(this.slotFor(result.publicKey));
        return;
      }
      case 'invalid': {
        // Unparsable project state: the previous one (if any) stays; asked again after the miss expiry.
        const slot = this.slotFor(result.publicKey);
        slot.loading = false;
        slot.lastError = result.error;
        slot.nextAttemptAt = now + this.timings.missExpiry;
        this.sharing?.release(result.publicKey);
        this.report(slot);
        return;
      }
      case 'error': {
        const slot = this.slotFor(result.publicKey);
        slot.lastError = result.error;
        this.report(slot);
        return;
      }
      case 'failed': {
        const slot = this.slotFor(result.publicKey);
        slot.loading = false;
        slot.lastError = result.error;
        slot.nextAttemptAt = now + this.failureRetry;
        this.sharing?.release(result.publicKey);
        this.report(slot);
        return;
      }
    }
  }

  /** An answer to a request sent before the key's last invalidation may predate the change: asked again. */
  private refetchIfInvalidatedMeanwhile(slot: Slot, now: number): void {
    if (slot.invalidatedAt > slot.requestedAt) this.load(slot, now, { skipShared: true, force: true });
  }

  /** Makes `entry` the slot's state and hands any change of config to the installer. */
  private applyEntry(slot: Slot, entry: CacheEntry): void {
    slot.entry = entry;
    slot.outdated = false;
    slot.refreshAt = refreshPoint(entry, this.timings, this.refreshAhead);
    const state = entry.state;
    if (state.disabled) {
      this.uninstall(slot);
      return;
    }
    const info: ProjectInfo = { publicKey: slot.publicKey, projectId: state.projectId, organizationId: state.organizationId };
    const signature = JSON.stringify([info.projectId, info.organizationId, state.samplingJson, state.txNameRulesJson ?? null]);
    if (slot.installed && signature === slot.applied) return;
    if (signature === slot.attempted) return; // already rejected: the previous config stays in force
    try {
      this.installer.put(info, state.samplingJson, state.txNameRulesJson ?? null);
      slot.applied = signature;
      slot.attempted = undefined;
      slot.installed = true;
      slot.installRejection = undefined;
    } catch (err) {
      if (isSamplingConfigError(err)) {
        slot.attempted = signature;
        const path = typeof err.path === 'string' ? err.path : null;
        const ruleId = typeof err.ruleId === 'number' ? err.ruleId : null;
        slot.installRejection = { message: err.message, path, ruleId };
        this.metrics.parseFailures.inc({ kind: 'sampling' });
        this.logger.warn(
          { publicKey: slot.publicKey, projectId: info.projectId, ruleId, path, err: err.message, previousInForce: slot.installed },
          'sampling config rejected; the previous config stays in force',
        );
      } else {
        this.logger.error({ publicKey: slot.publicKey, err: describeError(err) }, 'installer failed to take a config');
      }
    }
  }

  private uninstall(slot: Slot): void {
    const had = slot.installed;
    slot.installed = false;
    slot.applied = undefined;
    slot.attempted = undefined;
    slot.installRejection = undefined;
    if (!had) return;
    try {
      this.installer.remove(slot.publicKey);
    } catch (err) {
      this.logger.error({ publicKey: slot.publicKey, err: describeError(err) }, 'installer failed to remove a config');
    }
  }

  /** Drops an entry that is past its grace period: it is no longer served (nor held by the installer). */
  private dropIfExpired(slot: Slot, now: number): void {
    if (slot.entry && freshnessOf(slot, slot.entry, now, this.timings) === 'expired') {
      slot.entry = undefined;
      this.uninstall(slot);
    }
  }

  private onEvicted(slot: Slot): void {
    this.uninstall(slot);
  }

  private share(entry: CacheEntry): void {
    this.sharing?.share(entry);
  }

  private scopeOf(target: InvalidateTarget): string {
    if (target === 'all') return 'all';
    return 'publicKey' in target ? 'key' : 'project';
  }

  /** Marks the slots of `target` as outdated from `now` on and returns them. */
  private markInvalid(target: InvalidateTarget, now: number): Slot[] {
    let matched: Slot[];
    if (target === 'all') {
      matched = this.cache.slots();
    } else if (typeof target === 'object' && target !== null && 'publicKey' in target) {
      const slot = this.cache.peek(target.publicKey);
      matched = slot ? [slot] : [];
    } else if (typeof target === 'object' && target !== null && 'projectId' in target) {
      matched = this.cache.slots().filter((slot) => slot.entry && !slot.entry.state.disabled && slot.entry.state.projectId === target.projectId);
    } else {
      throw new ConfigOptionsError(`invalid invalidation target: ${JSON.stringify(target)}`);
    }
    for (const slot of matched) {
      slot.invalidatedAt = now;
      slot.outdated = slot.entry !== undefined;
      slot.nextAttemptAt = 0;
    }
    return matched;
  }

  /** Periodic pass: expiry past grace, forgetting unused keys, retrying failed keys in use. */
  sweep(): void {
    if (this.closed) return;
    try {
      const now = this.now();
      for (const slot of this.cache.slots()) {
        this.dropIfExpired(slot, now);
        if (!slot.entry && !slot.loading) {
          const recentlyUsed = now - slot.lastAccess < this.timings.expiry;
          if (!slot.lastError || !recentlyUsed) {
            this.cache.delete(slot.publicKey);
            continue;
          }
          // Automatic recovery: a failed key that is still asked for is tried again.
          if (now >= slot.nextAttemptAt) this.load(slot, now);
        }
        this.report(slot);
      }
      this.metrics.cacheEntries.set(this.cache.size);
    } catch (err) {
      this.logger.error({ err: describeError(err) }, 'project config sweep failed');
    }
  }

  /** Tells listeners when a key's state changed since it was last reported. */
  private report(slot: Slot): void {
    const state = stateOf(slot, this.now(), this.timings);
    for (const hook of [...this.activityHooks]) hook(slot.publicKey);
    if (state === slot.reported) return;
    slot.reported = state;
    if (state === undefined) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(slot.publicKey, state);
      } catch (err) {
        this.logger.error({ err: describeError(err) }, 'state listener threw');
      }
    }
  }
}
