// The cache of generated project configs (`relayconfig:{public_key}`, 1 h), in the KeyValueStore.

import { PROJECT_CONFIG_TTL_MS, projectConfigKey, projectConfigRevKey } from '../state/keys';
import type { KeyValueStore } from '../store/kv';
import type { FullProjectState } from '../../engine/types';

export class ProjectConfigCache {
  constructor(private readonly kv: KeyValueStore, readonly ttlMs = PROJECT_CONFIG_TTL_MS) {}

  /** Cached states of `keys` (undefined: not cached; null: cached as disabled). */
  async getMany(keys: readonly string[]): Promise<Array<FullProjectState | null | undefined>> {
    const raw = await this.kv.mget(keys.map(projectConfigKey));
    return raw.map((text) => (text === null ? undefined : (JSON.parse(text) as FullProjectState | null)));
  }

  async get(key: string): Promise<FullProjectState | null | undefined> {
    return (await this.getMany([key]))[0];
  }

  /** Which of `keys` are cached now. */
  async cachedAmong(keys: readonly string[]): Promise<string[]> {
    const raw = await this.kv.mget(keys.map(projectConfigKey));
    return keys.filter((_, i) => raw[i] !== null);
  }

  /** Writes a state (null caches "disabled": `{"disabled": true}` for Relay) with the cache TTL. */
  async set(key: string, state: FullProjectState | null): Promise<void> {
    await this.kv.set(projectConfigKey(key), JSON.stringify(state), this.ttlMs);
    await this.kv.set(projectConfigRevKey(key), state ? state.rev : '', this.ttlMs);
  }

  async delete(keys: readonly string[]): Promise<void> {
    await this.kv.del(keys.flatMap((k) => [projectConfigKey(k), projectConfigRevKey(k)]));
  }
}
