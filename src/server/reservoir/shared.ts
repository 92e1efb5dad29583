// Reservoir counters shared by a fleet through Redis: `INCR reservoir:<org>:<rule>` for each item a reservoir rule keeps.

import Redis, { type RedisOptions } from 'ioredis';
import { watchOutages } from '../../redis/outages';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

import type { ReservoirHit } from '../../engine/engine';

/** A reservoir rule as the engine reports it when it keeps an item (`Decision.reservoirRule`). */
export type ReservoirRule = ReservoirHit;

/** How long the first item waits for the first connection to Redis, ms. */
const STARTUP_WAIT_MS = 2000;

/** What the shared counter says about one item a reservoir rule kept locally. */
export type ReservoirVerdict = 'within' | 'exhausted' | 'unavailable';

/** Expiry of a counter: the rule's end + 60 s, or 24 h for open-ended rules (as Relay did). */
export function counterExpiry(rule: ReservoirRule, nowMs: number): number {
  const endMs = rule.endMs ?? nowMs + 86_400_000;
  return Math.max(Math.ceil(endMs / 1000) + 60, Math.ceil(nowMs / 1000) + 60);
}

export class SharedReservoir {
  private readonly client: Redis;
  private readonly counted: Counter<'verdict'>;
  private lastWarning = 0;
  /**
   * Resolves when the first connection is ready or failed: the first items wait for it (bounded)
   * instead of failing while the connection is being made. Once it failed (or the wait ran out),
   * items no longer wait: they answer "unavailable" at once while ioredis reconnects in the background.
   */
  private readonly firstAttempt: Promise<void>;
  private startupSettled = false;

  constructor(
    connection: string | RedisOptions,
    private readonly deps: { logger: Logger; registry: Registry; prefix?: string },
  ) {
    const defaults: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 500,
      connectTimeout: 2000,
      retryStrategy: (times: number) => Math.min(100 * times, 2000),
      connectionName: 'dynamic-sampling-reservoir',
    };
    this.client = typeof connection === 'string' ? new Redis(connection, defaults) : new Redis({ ...defaults, ...connection });
    this.firstAttempt = new Promise((resolve) => {
      this.client.once('ready', () => resolve());
      this.client.once('error', () => resolve());
    });
    void this.firstAttempt.then(() => (this.startupSettled = true));
    // Counted per command (verdict "unavailable"); logged once per outage. ioredis reconnects by itself.
    watchOutages(this.client, deps.logger, 'reservoir counters');
    const name = 'dynamic_sampling_server_reservoir_checks_total';
    this.counted =
      (deps.registry.getSingleMetric(name) as Counter<'verdict'> | undefined) ??
      new Counter({ name, help: 'Items kept by a reservoir rule, checked against the shared Redis counter, by verdict.', labelNames: ['verdict'], registers: [deps.registry] });
  }

  /** Whether the next item would still wait for the first connection (false once it was made or failed). */
  get waitsForFirstConnection(): boolean {
    return !this.startupSettled;
  }

  private key(organizationId: number, ruleId: number): string {
    return `${this.deps.prefix ?? ''}reservoir:${organizationId}:${ruleId}`;
  }

  /** Counts one kept item of the rule fleet-wide; `exhausted` when the shared count went past the limit. */
  async take(organizationId: number, rule: ReservoirRule, nowMs = Date.now()): Promise<ReservoirVerdict> {
    let verdict: ReservoirVerdict;
    try {
      if (!this.startupSettled) {
        await Promise.race([this.firstAttempt, new Promise((r) => setTimeout(r, STARTUP_WAIT_MS).unref())]);
        this.startupSettled = true;
      }
      const key = this.key(organizationId, rule.id);
      const results = await this.client.multi().incr(key).expireat(key, counterExpiry(rule, nowMs)).exec();
      const [error, count] = results?.[0] ?? [new Error('transaction aborted'), null];
      if (error) throw error;
      verdict = Number(count) <= rule.limit ? 'within' : 'exhausted';
    } catch (err) {
      if (nowMs - this.lastWarning > 10_000) {
        this.lastWarning = nowMs;
        this.deps.logger.warn({ err: (err as Error).message, rule: rule.id }, 'shared reservoir counter unavailable: using the local counter');
      }
      verdict = 'unavailable';
    }
    this.counted.inc({ verdict });
    return verdict;
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
