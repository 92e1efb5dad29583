// Per-key bookkeeping and the rules that turn it into the state a caller reads (fresh, stale, pending, disabled, failed).

import type { ParsedProjectState } from './project-state';

/** What a caller can observe about one key. */
export type KeyState =
  /** A config within its expiry. */
  | 'fresh'
  /** A config past its expiry but within the grace period: still served while a refresh runs. */
  | 'stale'
  /** No usable config yet; a fetch is under way (or the upstream is still computing it). */
  | 'pending'
  /** The upstream says the key is disabled or unknown (cached for the miss expiry). */
  | 'disabled'
  /** No usable config and the last attempt failed: the engine keeps every event of the project. */
  | 'failed';

export const KEY_STATES: readonly KeyState[] = ['fresh', 'stale', 'pending', 'disabled', 'failed'];

export interface CacheTimings {
  /** How long a config is fresh, ms (Relay `cache.project_expiry`, default 300000). */
  expiry: number;
  /** How long a disabled or unknown key is fresh, ms (Relay `cache.miss_expiry`, default 60000). */
  missExpiry: number;
  /** How long an expired state is still served while it is refreshed, ms (Relay `cache.project_grace_period`, default 120000). */
  grace: number;
}

/** A fetched project state with the time it was fetched; this is what the caches hold and share. */
export interface CacheEntry {
  publicKey: string;
  state: ParsedProjectState;
  /** now() when the state was received from the source. */
  fetchedAt: number;
}

/** How a sampling config was last handed to the installer. */
export interface InstallRejection {
  message: string;
  path: string | null;
  ruleId: number | null;
}

/** Everything the service tracks about one key (held in the in-memory cache). */
export interface Slot {
  publicKey: string;
  entry?: CacheEntry;
  /** A load (shared cache, then source) is under way. */
  loading: boolean;
  /** Why the last attempt failed; cleared by the next success. */
  lastError?: Error;
  /** No new load is started before this time. */
  nextAttemptAt: number;
  /** When the source was last asked for the key (-Infinity: never). */
  requestedAt: number;
  /** When the key was last invalidated (-Infinity: never). */
  invalidatedAt: number;
  /** The entry held was invalidated: it is stale from `invalidatedAt` on, until a new one arrives. */
  outdated: boolean;
  /** now() of the last `get`. */
  lastAccess: number;
  /** Installer bookkeeping: signature of the config the installer holds, and of the last one offered. */
  applied?: string;
  attempted?: string;
  installed: boolean;
  /** The last sampling config the installer rejected (while the previous stays in force). */
  installRejection?: InstallRejection;
  /** From this time on a lookup refreshes the (still fresh) entry: a random point before expiry, so a fleet's expiries do not align. */
  refreshAt: number;
  /** The state last reported to change listeners. */
  reported?: KeyState | undefined;
}

export function newSlot(publicKey: string, now: number): Slot {
  return { publicKey, loading: false, nextAttemptAt: 0, requestedAt: -Infinity, invalidatedAt: -Infinity, outdated: false, lastAccess: now, installed: false, refreshAt: Infinity };
}

export type Freshness = 'fresh' | 'stale' | 'expired';

/** Where a slot's entry stands: fresh until its expiry (or invalidation), then stale for the grace period, then expired. */
export function freshnessOf(slot: Pick<Slot, 'invalidatedAt' | 'outdated'>, entry: CacheEntry, now: number, timings: CacheTimings): Freshness {
  const ttl = entry.state.disabled ? timings.missExpiry : timings.expiry;
  let staleFrom = entry.fetchedAt + ttl;
  if (slot.outdated) staleFrom = Math.min(staleFrom, slot.invalidatedAt);
  if (now < staleFrom) return 'fresh';
  if (now < staleFrom + timings.grace) return 'stale';
  return 'expired';
}

/**
 * When a lookup starts refreshing `entry`: its expiry, brought forward by a random part of
 * `ahead` (a fraction of the expiry, 0 for none).
 */
export function refreshPoint(entry: CacheEntry, timings: CacheTimings, ahead: number): number {
  const ttl = entry.state.disabled ? timings.missExpiry : timings.expiry;
  return entry.fetchedAt + ttl - Math.random() * ahead * ttl;
}

/** Milliseconds until the entry expires past its grace period (for shared-cache TTLs). */
export function remainingLife(entry: CacheEntry, now: number, timings: CacheTimings): number {
  const ttl = entry.state.disabled ? timings.missExpiry : timings.expiry;
  return entry.fetchedAt + ttl + timings.grace - now;
}

/**
 * The state a caller sees; undefined when nothing is known and nothing is under way (the key is
 * then forgotten). Expired entries count as absent.
 */
export function stateOf(slot: Slot, now: number, timings: CacheTimings): KeyState | undefined {
  if (slot.entry) {
    const freshness = freshnessOf(slot, slot.entry, now, timings);
    if (freshness !== 'expired') {
      if (slot.entry.state.disabled) return 'disabled';
      return freshness;
    }
  }
  if (slot.lastError) return 'failed';
  return slot.loading ? 'pending' : undefined;
}
