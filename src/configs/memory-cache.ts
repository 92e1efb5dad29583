// The in-process cache of per-key slots: bounded, least recently used (lru-cache).

import { LRUCache } from 'lru-cache';
import type { Slot } from './states';

export class MemoryCache {
  private readonly lru: LRUCache<string, Slot>;

  /** `onEvict` is called for slots pushed out by the bound (not for explicit deletes). */
  constructor(readonly maxEntries: number, onEvict: (slot: Slot) => void) {
    this.lru = new LRUCache<string, Slot>({
      max: Math.max(1, maxEntries),
      dispose: (slot, _key, reason) => {
        if (reason === 'evict') onEvict(slot);
      },
    });
  }

  /** Looks a key up and marks it recently used. */
  get(publicKey: string): Slot | undefined {
    return this.lru.get(publicKey);
  }

  /** Looks a key up without touching its recency. */
  peek(publicKey: string): Slot | undefined {
    return this.lru.peek(publicKey);
  }

  set(slot: Slot): void {
    this.lru.set(slot.publicKey, slot);
  }

  delete(publicKey: string): void {
    this.lru.delete(publicKey);
  }

  /** A snapshot of all slots (safe to mutate the cache while iterating it). */
  slots(): Slot[] {
    return [...this.lru.values()];
  }

  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}
