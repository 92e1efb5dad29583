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
  /** Makes a shared entry the slot's state (and tells the sink and listeners). */
  adopt(slot: Slot, entry: CacheEntry): void;
  /** Applies an invalidation another process published. */
  invalidated(target: InvalidateTarget): void;
}

export interface ConfigSharingOptions {
  connection: string | RedisOptions;
  prefix?: string;
}

export class ConfigSharing {
  private readonly redis: RedisCache;
  private closed = false;

  constructor(
    options: ConfigSharingOptions,
    private readonly host: SharedConfigHost,
    deps: { metrics: ConfigMetrics; logger: Logger },
  ) {
    this.redis = new RedisCache(
      { connection: options.connection, prefix: options.prefix },
      { metrics: deps.metrics, logger: deps.logger, onMessage: (message) => this.onMessage(message), onReconnect: () => this.reshare() },
    );
  }

  /** Whether Redis is reachable now. */
  get available(): boolean {
    return this.redis.available;
  }

  /** The shared entry of a key (undefined: missing, unreadable, or Redis unavailable). */
  load(publicKey: string): Promise<CacheEntry | undefined> {
    return this.redis.load(publicKey);
  }

  /** Writes an entry this process fetched and tells the others. */
  share(entry: CacheEntry): void {
    const ttlMs = remainingLife(entry, this.host.now(), this.host.timings);
    void this.redis.store([{ entry, ttlMs }], { announce: true });
  }

  /** Deletes the shared entries of `target` and tells the other processes; whether Redis took it. */
  invalidate(target: InvalidateTarget, knownKeys: string[]): Promise<boolean> {
    return this.redis.invalidate(target, knownKeys);
  }

  /** After a Redis outage: writes what this process holds, keeping entries others wrote meanwhile. */
  private reshare(): void {
    if (this.closed) return;
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
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.redis.close();
  }
}
