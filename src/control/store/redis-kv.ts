// KeyValueStore over Redis (ioredis): the state shared by several control-plane processes.

import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { watchOutages, type OutageWatch } from '../../redis/outages';
import type { HashIncrement, KeyValueStore } from './kv';

/** A redis:// URL or ioredis options. */
export type RedisConnection = string | RedisOptions;

const DEFAULTS: RedisOptions = {
  maxRetriesPerRequest: 3,
  connectTimeout: 2000,
  retryStrategy: (times: number) => Math.min(100 * times, 2000),
};

/** Opens an ioredis client with the control plane's defaults. */
export function connectRedis(connection: RedisConnection, name: string, overrides: RedisOptions = {}): Redis {
  if (typeof connection === 'string') return new Redis(connection, { ...DEFAULTS, connectionName: name, ...overrides });
  return new Redis({ ...DEFAULTS, connectionName: name, ...connection, ...overrides });
}

export class RedisKeyValueStore implements KeyValueStore {
  readonly kind = 'redis' as const;
  readonly client: Redis;
  private subscriber: Redis | null = null;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  private readonly connection: RedisConnection;
  private readonly outage: OutageWatch;
  private readonly recoveryListeners = new Set<() => void>();

  /** `logger` gets one line per outage and one on recovery, naming `purpose` (none without it, and never ioredis's unhandled-error lines). */
  constructor(connection: RedisConnection, private readonly logger?: Logger, purpose = 'control state') {
    this.connection = connection;
    this.client = connectRedis(connection, 'dynamic-sampling-control');
    this.outage = watchOutages(this.client, logger, purpose, () => {
      for (const listener of this.recoveryListeners) listener();
    });
  }

  /** Whether Redis failed and has not been reachable since. */
  get down(): boolean {
    return this.outage.down;
  }

  /** Calls `listener` each time Redis is reachable again after an outage; returns a function that stops it. */
  onRecovered(listener: () => void): () => void {
    this.recoveryListeners.add(listener);
    return () => this.recoveryListeners.delete(listener);
  }

  async get(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  async mget(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return this.client.mget(...keys);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs === undefined) await this.client.set(key, value);
    else await this.client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async getset(key: string, value: string, ttlMs?: number): Promise<string | null> {
    if (ttlMs === undefined) return this.client.set(key, value, 'GET');
    return this.client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)), 'GET');
  }

  async setnx(key: string, value: string, ttlMs?: number): Promise<boolean> {
    const answer = ttlMs === undefined ? await this.client.set(key, value, 'NX') : await this.client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)), 'NX');
    return answer === 'OK';
  }

  async del(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    return this.client.del(...keys);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.client.exists(key)) === 1;
  }

  async incr(key: string): Promise<number> {
    return this.client.incr(key);
  }

  async pexpire(key: string, ttlMs: number): Promise<boolean> {
    return (await this.client.pexpire(key, Math.max(1, Math.round(ttlMs)))) === 1;
  }

  async pttl(key: string): Promise<number> {
    return this.client.pttl(key);
  }

  async hget(key: string, field: string): Promise<string | null> {
    return this.client.hget(key, field);
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return this.client.hgetall(key);
  }

  async hgetallMany(keys: readonly string[]): Promise<Record<string, string>[]> {
    if (keys.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const key of keys) pipeline.hgetall(key);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, value]) => {
      if (err) throw err;
      return value as Record<string, string>;
    });
  }

  async hset(key: string, values: Readonly<Record<string, string>>): Promise<void> {
    if (Object.keys(values).length === 0) return;
    await this.client.hset(key, values as Record<string, string>);
  }

  async hsetnx(key: string, field: string, value: string): Promise<boolean> {
    return (await this.client.hsetnx(key, field, value)) === 1;
  }

  async hdel(key: string, fields: readonly string[]): Promise<number> {
    if (fields.length === 0) return 0;
    return this.client.hdel(key, ...fields);
  }

  async hincrbyMany(increments: readonly HashIncrement[], ttlMs: number): Promise<void> {
    if (increments.length === 0) return;
    const pipeline = this.client.pipeline();
    const touched = new Set<string>();
    for (const { key, field, by } of increments) {
      pipeline.hincrby(key, field, by);
      touched.add(key);
    }
    for (const key of touched) pipeline.pexpire(key, Math.max(1, Math.round(ttlMs)));
    const results = (await pipeline.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
  }

  async sadd(key: string, members: readonly string[], ttlMs?: number): Promise<void> {
    if (members.length === 0) return;
    const pipeline = this.client.pipeline().sadd(key, ...members);
    if (ttlMs !== undefined) pipeline.pexpire(key, Math.max(1, Math.round(ttlMs)));
    const results = (await pipeline.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
  }

  async smembers(key: string): Promise<string[]> {
    return this.client.smembers(key);
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.client.publish(channel, message);
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    if (!this.subscriber) {
      this.subscriber = connectRedis(this.connection, 'dynamic-sampling-control-sub', { maxRetriesPerRequest: null, autoResubscribe: true });
      watchOutages(this.subscriber, this.logger, 'control notices');
      this.subscriber.on('message', (ch: string, message: string) => {
        for (const l of this.listeners.get(ch) ?? []) l(message);
      });
    }
    let set = this.listeners.get(channel);
    if (!set) {
      this.listeners.set(channel, (set = new Set()));
      await this.subscriber.subscribe(channel);
    }
    set.add(listener);
    return async () => {
      set.delete(listener);
    };
  }

  async close(): Promise<void> {
    await Promise.all([
      this.client.quit().catch(() => this.client.disconnect()),
      this.subscriber?.quit().catch(() => this.subscriber?.disconnect()),
    ]);
  }
}
