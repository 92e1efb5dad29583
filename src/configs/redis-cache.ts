// The shared cache: project states in Redis for a fleet of processes, with invalidations and updates over publish/subscribe.

import { randomUUID } from 'node:crypto';
import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { describeError } from './errors';
import type { ConfigMetrics } from './metrics';
import { parseProjectState } from './project-state';
import type { CacheEntry } from './states';

/** What to invalidate: one key, every key of a project, or everything. */
export type InvalidateTarget = { publicKey: string } | { projectId: number } | 'all';

/** Messages exchanged by the processes sharing one Redis. */
export type SharedMessage =
  | { type: 'updated'; publicKey: string }
  | { type: 'invalidate'; target: InvalidateTarget };

/** Default prefix of the shared cache's keys and channel. */
export const DEFAULT_SHARED_PREFIX = 'dynamic-sampling:configs:';

/** Where the shared cache keeps a key's entry, and the channel of its messages (for publishers outside the service). */
export const sharedEntryKey = (prefix: string, publicKey: string): string => `${prefix}cfg:${publicKey}`;
export const sharedChannel = (prefix: string): string => `${prefix}events`;

export interface RedisCacheOptions {
  /** A redis:// URL or ioredis options. */
  connection: string | RedisOptions;
  /** Prefix of every key and of the channel (default `dynamic-sampling:configs:`). */
  prefix?: string;
}

interface StoredEntry {
  v: 1;
  fetchedAt: number;
  /** The project state as received (null: disabled or unknown). */
  state: unknown;
}

// Commands fail at once while Redis is unreachable: lookups go on from memory instead of waiting.
const COMMAND_DEFAULTS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 1000,
  connectTimeout: 2000,
  retryStrategy: (times: number) => Math.min(100 * times, 2000),
};

// The subscriber keeps its SUBSCRIBE queued until Redis answers, and resubscribes after reconnecting.
const SUBSCRIBER_DEFAULTS: RedisOptions = {
  enableOfflineQueue: true,
  maxRetriesPerRequest: null,
  autoResubscribe: true,
  connectTimeout: 2000,
  retryStrategy: (times: number) => Math.min(100 * times, 2000),
};

// Deletes the claim only while it still holds this process's id.
const RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

function connect(connection: string | RedisOptions, defaults: RedisOptions, name: string): Redis {
  if (typeof connection === 'string') return new Redis(connection, { ...defaults, connectionName: name });
  return new Redis({ ...defaults, connectionName: name, ...connection });
}

export class RedisCache {
  /** Identifies this process's messages so that it ignores its own. */
  readonly instanceId = randomUUID();
  readonly prefix: string;
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private downLogged = false;
  private wasReady = false;
  private closed = false;

  constructor(
    options: RedisCacheOptions,
    private readonly deps: {
      metrics: ConfigMetrics;
      logger: Logger;
      onMessage: (message: SharedMessage) => void;
      /** Called when Redis becomes reachable again after an outage (`connectedBefore`: not the first connection). */
      onReconnect: (connectedBefore: boolean) => void;
    },
  ) {
    this.prefix = options.prefix ?? DEFAULT_SHARED_PREFIX;
    this.channel = sharedChannel(this.prefix);
    this.client = connect(options.connection, COMMAND_DEFAULTS, 'dynamic-sampling-configs');
    this.subscriber = connect(options.connection, SUBSCRIBER_DEFAULTS, 'dynamic-sampling-configs-sub');
    for (const conn of [this.client, this.subscriber]) conn.on('error', (err) => this.onConnectionError(err));
    this.client.on('ready', () => {
      if (this.downLogged || this.wasReady) this.deps.logger.info('redis reachable again; sharing configs resumes');
      const reconnect = this.wasReady || this.downLogged;
      const connectedBefore = this.wasReady;
      this.downLogged = false;
      this.wasReady = true;
      if (reconnect) this.deps.onReconnect(connectedBefore);
    });
    this.subscriber.on('message', (channel: string, text: string) => this.onRawMessage(channel, text));
    this.subscriber.subscribe(this.channel).catch((err: unknown) => {
      if (!this.closed) this.deps.logger.warn({ err: describeError(err) }, 'redis subscribe failed');
    });
  }

  /** Whether commands can be sent now. */
  get available(): boolean {
    return !this.closed && this.client.status === 'ready';
  }

  private onConnectionError(err: Error): void {
    if (this.closed) return;
    // Logged once per outage: ioredis retries by itself and reports every attempt.
    if (!this.downLogged) {
      this.downLogged = true;
      this.deps.logger.warn({ err: describeError(err) }, 'redis unreachable; going on from memory');
    }
  }

  private onRawMessage(channel: string, text: string): void {
    if (channel !== this.channel || this.closed) return;
    let message: { origin?: unknown } & SharedMessage;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.origin === this.instanceId) return;
    try {
      this.deps.onMessage(message);
    } catch (err) {
      this.deps.logger.error({ err: describeError(err) }, 'shared config message handler threw');
    }
  }

  private entryKey(publicKey: string): string {
    return sharedEntryKey(this.prefix, publicKey);
  }

  private projectKey(projectId: number): string {
    return `${this.prefix}project:${projectId}`;
  }

  /** Runs one Redis operation; any failure is counted and logged, never thrown. */
  private async attempt<T>(operation: string, run: () => Promise<T>): Promise<T | undefined> {
    if (!this.available) {
      this.deps.metrics.redisErrors.inc({ operation });
      return undefined;
    }
    try {
      return await run();
    } catch (err) {
      this.deps.metrics.redisErrors.inc({ operation });
      this.deps.logger.debug({ operation, err: describeError(err) }, 'redis operation failed');
      return undefined;
    }
  }

  /** The shared entry of a key, or undefined (missing, unreadable, or Redis unavailable). */
  async load(publicKey: string): Promise<CacheEntry | undefined> {
    const text = await this.attempt('get', () => this.client.get(this.entryKey(publicKey)));
    if (text === undefined || text === null) return undefined;
    try {
      const stored = JSON.parse(text) as StoredEntry;
      if (stored.v !== 1 || typeof stored.fetchedAt !== 'number') throw new Error('unknown entry format');
      return { publicKey, fetchedAt: stored.fetchedAt, state: parseProjectState(publicKey, stored.state) };
    } catch (err) {
      this.deps.metrics.parseFailures.inc({ kind: 'shared_entry' });
      this.deps.logger.warn({ publicKey, err: describeError(err) }, 'unreadable shared config entry ignored');
      return undefined;
    }
  }

  private lockKey(publicKey: string): string {
    return `${this.prefix}lock:${publicKey}`;
  }

  /**
   * Claims the fetch of a key for `ttlMs` (one fetcher per key in the fleet). True when this
   * process may fetch: it holds the claim, or Redis is unavailable (then every process fetches).
   */
  async claim(publicKey: string, ttlMs: number): Promise<boolean> {
    const answer = await this.attempt('claim', () => this.client.set(this.lockKey(publicKey), this.instanceId, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'));
    return answer === undefined || answer === 'OK';
  }

  /** Gives a claim back (only this process's own: a claim that ran out may be another's by now). */
  async release(publicKey: string): Promise<void> {
    await this.attempt('release', () => this.client.eval(RELEASE_SCRIPT, 1, this.lockKey(publicKey), this.instanceId));
  }

  /**
   * Writes entries that live `ttlMs` more milliseconds. With `announce` the other processes are
   * told to reload them; with `onlyIfAbsent` newer entries written by others are kept.
   */
  async store(items: { entry: CacheEntry; ttlMs: number }[], options: { announce?: boolean; onlyIfAbsent?: boolean } = {}): Promise<void> {
    const live = items.filter((item) => item.ttlMs > 0);
    if (live.length === 0) return;
    await this.attempt('set', async () => {
      const pipeline = this.client.pipeline();
      for (const { entry, ttlMs } of live) {
        const stored: StoredEntry = { v: 1, fetchedAt: entry.fetchedAt, state: entry.state.raw };
        const ttl = Math.max(1, Math.ceil(ttlMs));
        if (options.onlyIfAbsent) pipeline.set(this.entryKey(entry.publicKey), JSON.stringify(stored), 'PX', ttl, 'NX');
        else pipeline.set(this.entryKey(entry.publicKey), JSON.stringify(stored), 'PX', ttl);
        if (!entry.state.disabled) {
          // Index of the project's keys, for invalidation by project id.
          pipeline.sadd(this.projectKey(entry.state.projectId), entry.publicKey);
          pipeline.pexpire(this.projectKey(entry.state.projectId), ttl);
        }
        if (options.announce) pipeline.publish(this.channel, JSON.stringify({ origin: this.instanceId, type: 'updated', publicKey: entry.publicKey }));
      }
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    });
  }

  /** Deletes the shared entries of `target`, then tells the other processes. Returns whether Redis took it. */
  async invalidate(target: InvalidateTarget, knownKeys: string[] = []): Promise<boolean> {
    const done = await this.attempt('invalidate', async () => {
      if (target === 'all') {
        let cursor = '0';
        do {
          const [next, keys] = await this.client.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 500);
          cursor = next;
          const ours = keys.filter((key) => key !== this.channel);
          if (ours.length > 0) await this.client.del(...ours);
        } while (cursor !== '0');
      } else if ('publicKey' in target) {
        await this.client.del(this.entryKey(target.publicKey));
      } else {
        const members = await this.client.smembers(this.projectKey(target.projectId));
        const keys = [...new Set([...members, ...knownKeys])].map((key) => this.entryKey(key));
        await this.client.del(this.projectKey(target.projectId), ...keys);
      }
      await this.client.publish(this.channel, JSON.stringify({ origin: this.instanceId, type: 'invalidate', target }));
      return true;
    });
    return done === true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [this.client, this.subscriber].map(async (conn) => {
        try {
          if (conn.status === 'ready') await conn.quit();
          else conn.disconnect();
        } catch {
          conn.disconnect();
        }
      }),
    );
  }
}
