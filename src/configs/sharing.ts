// The fleet side of the config service: what one process fetched is shared through Redis, and shared updates and invalidations are applied here.

import type { Logger } from 'pino';
import type { RedisOptions } from 'ioredis';
import type { ConfigMetrics } from './metrics';
import { RedisCache, type InvalidateTarget, type SharedMessage } from './redis-cache';
import { freshnessOf, remainingLife, type CacheEntry, type CacheTimings, type Slot } from './states';

/** What the sharing needs of the per-key state machine (`ProjectConfigService`). */
export interface SharedConfigHost {
  now(): number;
  readonly timings: CacheTimings;
  /** The slot of a key if this process holds it (no recency change). */
  slotOf(publicKey: string): Slot | undefined;
  /** Every slot this process holds. */
  slots(): Slot[];
  /** Whether a shared entry may replace what the slot holds (newer, not older than its invalidation). */
  accepts(slot: Slot, entry: CacheEntry): boolean;
  /** Makes a shared entry the slot's state (and tells the installer and listeners). */
  adopt(slot: Slot, entry: CacheEntry): void;
  /** Applies an invalidation another process (or the control plane) published. */
  invalidated(target: InvalidateTarget): void;
  /** Whether the slot holds a fresh entry that is not due for refresh: nothing to fetch. */
  settled(slot: Slot): boolean;
  /** Ends a load that the shared cache answered (or that another process's fetch answered). */
  finish(slot: Slot): void;
  /** Starts the slot's load again (after waiting for another process's fetch in vain). */
  retry(slot: Slot): void;
  /** After a Redis outage: refetches every key held (invalidations published meanwhile were missed). */
  revalidate(): void;
}

export interface ConfigSharingOptions {
  connection: string | RedisOptions;
  prefix?: string;
  /**
   * How long one process's claim on fetching a key lasts, ms: the others wait that long for its
   * result (its `updated` notice) before trying themselves.
   */
  fetchClaimMs: number;
}

export class ConfigSharing {
  private readonly redis: RedisCache;
  /** Keys whose fetch this process claimed. */
  private readonly claimed = new Set<string>();
  /** Keys waiting for another process's fetch, with the timer that gives up waiting. */
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly options: ConfigSharingOptions,
    private readonly host: SharedConfigHost,
    private readonly deps: { metrics: ConfigMetrics; logger: Logger },
  ) {
    this.redis = new RedisCache(
      { connection: options.connection, prefix: options.prefix },
      { metrics: deps.metrics, logger: deps.logger, onMessage: (message) => this.onMessage(message), onReconnect: (connectedBefore) => this.recover(connectedBefore) },
    );
  }

  /** Whether Redis is reachable now. */
  get available(): boolean {
    return this.redis.available;
  }

  /**
   * Loads a slot once for the fleet: from Redis when another process already fetched it; else
   * the first process to claim the key fetches (`request`) and the others wait for its result.
   */
  async fetchOnce(slot: Slot, request: () => void, options: { readShared: boolean }): Promise<void> {
    const { publicKey } = slot;
    if (options.readShared && (await this.adoptShared(slot))) return;
    if (this.closed || this.host.slotOf(publicKey) !== slot) return;
    // The claim of this process's last fetch of the key may not be given back yet (it goes once
    // the entry is written): asking Redis again would fail against it, and the process would
    // wait for a notice only it could send until the claim expires.
    const mine = this.claimed.has(publicKey) || (await this.redis.claim(publicKey, this.options.fetchClaimMs));
    if (this.closed) return;
    if (mine) {
      this.claimed.add(publicKey);
      // Another process may have written the key between the read above and the claim.
      if (options.readShared && (await this.adoptShared(slot, false))) {
        this.release(publicKey);
        return;
      }
      request();
      return;
    }
    this.deps.metrics.fetchesAwaited.inc();
    // Its `updated` notice may have come while the claim was asked for.
    if (this.host.settled(slot)) {
      this.host.finish(slot);
      return;
    }
    this.await(slot);
  }

  /**
   * Takes the shared entry of the slot's key if it is newer; true when that ends the load (the
   * entry is fresh, or the slot was evicted meanwhile).
   */
  private async adoptShared(slot: Slot, counted = true): Promise<boolean> {
    const shared = await this.redis.load(slot.publicKey);
    if (this.closed) return true;
    if (this.host.slotOf(slot.publicKey) !== slot) {
      // Evicted while Redis answered: start over from a fresh slot if anyone still asks.
      slot.loading = false;
      return true;
    }
    const hit = shared !== undefined && this.host.accepts(slot, shared);
    if (hit) this.host.adopt(slot, shared);
    // The second look after a won claim is not another lookup.
    if (counted) (hit ? this.deps.metrics.cacheHits : this.deps.metrics.cacheMisses).inc({ cache: 'redis' });
    if (!this.host.settled(slot)) return false;
    this.host.finish(slot);
    return true;
  }

  /** Waits for the `updated` notice of the process that claimed the key; past the claim, tries again. */
  private await(slot: Slot): void {
    clearTimeout(this.waiting.get(slot.publicKey));
    const timer = setTimeout(() => {
      this.waiting.delete(slot.publicKey);
      if (this.closed || this.host.slotOf(slot.publicKey) !== slot || !slot.loading) return;
      slot.loading = false;
      this.host.retry(slot);
    }, this.options.fetchClaimMs);
    timer.unref();
    this.waiting.set(slot.publicKey, timer);
  }

  /** Writes an entry this process fetched, tells the others, and gives its claim back. */
  share(entry: CacheEntry): void {
    const ttlMs = remainingLife(entry, this.host.now(), this.host.timings);
    const { publicKey } = entry;
    void this.redis.store([{ entry, ttlMs }], { announce: true }).then(() => this.release(publicKey));
  }

  /** Gives back the claim on a key whose fetch ended (failed, invalid) so that others need not wait it out. */
  release(publicKey: string): void {
    if (!this.claimed.delete(publicKey)) return;
    void this.redis.release(publicKey);
  }

  /** Deletes the shared entries of `target` and tells the other processes; whether Redis took it. */
  invalidate(target: InvalidateTarget, knownKeys: string[]): Promise<boolean> {
    return this.redis.invalidate(target, knownKeys);
  }

  /**
   * After a Redis outage: writes back what this process holds (keeping entries others wrote
   * meanwhile), then refetches it, since invalidations published while it was away were lost;
   * the claims make that about one fetch per key for the fleet.
   */
  private recover(connectedBefore: boolean): void {
    if (this.closed) return;
    this.reshare();
    // A process that was never connected had nothing to miss.
    if (connectedBefore) this.host.revalidate();
  }

  private reshare(): void {
    const now = this.host.now();
    const items = this.host
      .slots()
      .filter((slot) => slot.entry && freshnessOf(slot, slot.entry, now, this.host.timings) === 'fresh')
      .map((slot) => ({ entry: slot.entry!, ttlMs: remainingLife(slot.entry!, now, this.host.timings) }));
    void this.redis.store(items, { onlyIfAbsent: true });
  }

  private onMessage(message: SharedMessage): void {
    if (this.closed) return;
    if (message.type === 'invalidate') {
      this.host.invalidated(message.target);
      return;
    }
    if (message.type === 'updated' && typeof message.publicKey === 'string') {
      const slot = this.host.slotOf(message.publicKey);
      if (!slot) return; // keys this process never asked for are loaded lazily
      void this.redis.load(message.publicKey).then((entry) => {
        if (this.closed || !entry || this.host.slotOf(message.publicKey) !== slot || !this.host.accepts(slot, entry)) return;
        this.host.adopt(slot, entry);
        const timer = this.waiting.get(slot.publicKey);
        if (timer !== undefined && this.host.settled(slot)) {
          // The fetch this process waited for.
          clearTimeout(timer);
          this.waiting.delete(slot.publicKey);
          this.host.finish(slot);
        }
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    await this.redis.close();
  }
}
