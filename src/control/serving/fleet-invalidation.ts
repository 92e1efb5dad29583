// Tells every ingestion process sharing the configs Redis that keys changed: deletes their shared entries and publishes
// the invalidation itself, whether or not anything was cached (a Redis restart empties the caches, not the processes).

import type { Logger } from 'pino';
import { DEFAULT_SHARED_PREFIX, sharedChannel, sharedEntryKey, type SharedMessage } from '../../configs/redis-cache';
import type { RedisKeyValueStore } from '../store/redis-kv';

/** Keys published in one message at most (the configs service applies them one by one). */
const KEYS_PER_BATCH = 500;

export class FleetInvalidationPublisher {
  /** Keys whose invalidation could not be published (Redis down): published once Redis is back. */
  private readonly unsent = new Set<string>();
  private readonly stopRecovery: () => void;

  constructor(
    private readonly kv: RedisKeyValueStore,
    private readonly prefix: string = DEFAULT_SHARED_PREFIX,
    private readonly logger?: Logger,
  ) {
    this.stopRecovery = kv.onRecovered(() => void this.publish([]));
  }

  /** Invalidates `keys` in every process; never throws. */
  async publish(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.unsent.add(key);
    const all = [...this.unsent];
    if (all.length === 0) return;
    try {
      for (let i = 0; i < all.length; i += KEYS_PER_BATCH) {
        const batch = all.slice(i, i + KEYS_PER_BATCH);
        await this.kv.del(batch.map((key) => sharedEntryKey(this.prefix, key)));
        for (const publicKey of batch) {
          const message: SharedMessage & { origin: string } = { origin: 'control-plane', type: 'invalidate', target: { publicKey } };
          await this.kv.publish(sharedChannel(this.prefix), JSON.stringify(message));
          this.unsent.delete(publicKey);
        }
      }
    } catch (err) {
      this.logger?.warn({ err, keys: this.unsent.size }, 'publishing config invalidations failed; they go once redis is back');
    }
  }

  close(): void {
    this.stopRecovery();
  }
}
