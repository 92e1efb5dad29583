// What `ProjectConfigService` takes and answers: its options (source, Redis, cache timings) and a lookup's result.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RedisOptions } from 'ioredis';
import type { UpstreamSourceOptions } from './batcher';
import type { FileSourceOptions } from './file-source';
import type { ConfigInstaller, ProjectInfo } from './installer';
import type { ConfigSource } from './source';
import type { CacheTimings, KeyState, InstallRejection } from './states';

export interface CacheOptions extends Partial<CacheTimings> {
  /** Bound of the in-memory cache, in keys (default 50000). Evicted keys are removed from the installer. */
  maxEntries?: number;
  /**
   * With Redis: a lookup refreshes a config up to this fraction of the expiry early, at a random
   * point per process and fetch, so a fleet's expiries do not align (default 0.1; 0 without Redis).
   */
  refreshAhead?: number;
  /** With Redis: how long one process's claim on fetching a key lasts, ms; the others wait for its result meanwhile (default 10000). */
  fetchClaim?: number;
}

export type SourceOptions =
  | { upstream: UpstreamSourceOptions }
  | { file: string | FileSourceOptions }
  /** Any other implementation of the source interface. */
  | { custom: ConfigSource };

export interface ProjectConfigServiceOptions {
  source: SourceOptions;
  /** Shared cache: a redis:// URL or ioredis options. Without it the cache is in memory only. */
  redis?: string | RedisOptions;
  /** Prefix of Redis keys and channel (default `dynamic-sampling:configs:`); processes sharing configs use the same. */
  redisPrefix?: string;
  cache?: CacheOptions;
  /** Receives every change of a key's config (the sampling engine). */
  installer: ConfigInstaller;
  /** Registry for the metrics; a new one is created when absent (see `service.registry`). */
  registry?: Registry;
  logger?: Logger;
  /** Clock, ms since the epoch (default Date.now). Expiry, grace and deadlines follow it. */
  now?: () => number;
  /** How often expiry is checked and failed keys in use are retried, ms (default 1000). */
  sweepInterval?: number;
  /** After a key was given up (deadline), no new attempt before this many ms (default 0: the upstream backoff spaces attempts). */
  failureRetry?: number;
}

/** What `get` answers. */
export interface LookupResult {
  state: KeyState;
  /** Present when the key has a usable config (fresh or stale). */
  info?: ProjectInfo;
  /** With `info`: the key's numeric id in the project state (`publicKeys[].numericId`), null when not listed. */
  keyId?: number | null;
  /** The `rev` of the project state in use, if the upstream sent one. */
  rev?: string | null;
  /** Why the last attempt failed, if it did and nothing succeeded since. */
  error?: string;
  /** The last sampling config the installer rejected (the previous one stays in force). */
  rejected?: InstallRejection;
}

export type StateListener = (publicKey: string, state: KeyState) => void;

export const DEFAULT_TIMINGS: CacheTimings = { expiry: 300_000, missExpiry: 60_000, grace: 120_000 };
