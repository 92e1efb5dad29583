// The small key-value interface (a subset of Redis commands) that all control-plane state is written through.

/** One `HINCRBY` of a batch. */
export interface HashIncrement {
  key: string;
  field: string;
  by: number;
}

/**
 * The Redis commands the control plane uses, with Redis semantics (TTLs in ms, hash fields in
 * insertion order, missing keys read as null/empty). Implemented in memory (one process) and
 * over Redis (a fleet); the §6 state, the traffic counts, the config cache and the definitions
 * overrides are all written through it, so both behave the same.
 */
export interface KeyValueStore {
  /** `memory` or `redis`. */
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | null>;
  mget(keys: readonly string[]): Promise<(string | null)[]>;
  /** `SET key value [PX ttlMs]`. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** `SET key value [PX ttlMs] GET`: the previous value. */
  getset(key: string, value: string, ttlMs?: number): Promise<string | null>;
  /** `SET key value NX [PX ttlMs]`: whether it was set. */
  setnx(key: string, value: string, ttlMs?: number): Promise<boolean>;
  del(keys: readonly string[]): Promise<number>;
  exists(key: string): Promise<boolean>;
  incr(key: string): Promise<number>;
  /** `PEXPIRE`: whether the key exists. */
  pexpire(key: string, ttlMs: number): Promise<boolean>;
  /** `PTTL`: -2 when missing, -1 without expiry. */
  pttl(key: string): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  /** `HGETALL` of many keys in one round trip. */
  hgetallMany(keys: readonly string[]): Promise<Record<string, string>[]>;
  hset(key: string, values: Readonly<Record<string, string>>): Promise<void>;
  hsetnx(key: string, field: string, value: string): Promise<boolean>;
  hdel(key: string, fields: readonly string[]): Promise<number>;
  /** Many `HINCRBY`s, each touched key then expiring in `ttlMs` (one round trip). */
  hincrbyMany(increments: readonly HashIncrement[], ttlMs: number): Promise<void>;
  /** `SADD` of members, then `PEXPIRE` when `ttlMs` is given. */
  sadd(key: string, members: readonly string[], ttlMs?: number): Promise<void>;
  smembers(key: string): Promise<string[]>;
  /** Publishes a message on a channel (pub/sub; a no-op in memory without subscribers). */
  publish(channel: string, message: string): Promise<void>;
  /** Subscribes to a channel; returns a function that unsubscribes. */
  subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
