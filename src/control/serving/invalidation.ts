// Scheduling and running project config invalidations (§10): scopes, debounce, countdown, rebuild of cached keys only.

import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { Definitions } from '../definitions/repository';
import type { ControlMetrics } from '../metrics';
import { debounceKey, type InvalidationScope } from '../state/keys';
import type { KeyValueStore } from '../store/kv';
import type { ProjectConfigCache } from './config-cache';
import type { ProjectStateBuilder } from './project-state';

export interface InvalidatorOptions {
  kv: KeyValueStore;
  definitions: Definitions;
  cache: ProjectConfigCache;
  builder: ProjectStateBuilder;
  metrics: ControlMetrics;
  clock: Clock;
  logger?: Logger;
  /** Delay before an invalidation runs, ms (default 5000, Sentry's countdown). */
  countdownMs?: number;
  /**
   * TTL of the debounce markers, ms. Sentry keeps them 1 h (its invalidation is a durable task
   * that clears them); here the countdown is a timer of this process, so a process that dies
   * before running it must not block invalidations for long: default max(60 s, 2 × countdown).
   */
  debounceTtlMs?: number;
}

const SCOPE_FIELDS = ['organizationId', 'projectId', 'publicKey'] as const;

/** Sentry raises when an invalidation names no scope or more than one (`TypeError`). */
function requireOneScope(scope: InvalidationScope): void {
  const given = scope !== null && typeof scope === 'object' ? SCOPE_FIELDS.filter((f) => (scope as Record<string, unknown>)[f] !== undefined) : [];
  if (given.length !== 1) {
    throw new TypeError(`an invalidation needs exactly one of organizationId, projectId, publicKey; got ${given.length === 0 ? 'none' : given.join(', ')}`);
  }
}

interface Scheduled {
  scope: InvalidationScope;
  trigger: string;
  timer: NodeJS.Timeout;
}

/** One executed invalidation (for tests and logs). */
export interface InvalidationRecord {
  trigger: string;
  scope: InvalidationScope;
  /** Keys rebuilt (those that were cached). */
  rebuilt: string[];
}

/** Told of every executed invalidation with every key of its scope, cached or not: consumers holding any of them must refetch it. */
export type InvalidationListener = (record: InvalidationRecord, keys: string[]) => void;

export class ConfigInvalidator {
  private readonly scheduled = new Set<Scheduled>();
  private readonly countdownMs: number;
  private readonly debounceTtlMs: number;
  private closed = false;
  private readonly listeners = new Set<InvalidationListener>();
  /** Every executed invalidation, most recent last (bounded). */
  readonly history: InvalidationRecord[] = [];

  constructor(private readonly options: InvalidatorOptions) {
    this.countdownMs = options.countdownMs ?? 5000;
    this.debounceTtlMs = options.debounceTtlMs ?? Math.max(60_000, 2 * this.countdownMs);
  }

  /** The scope and every enclosing scope (key → project → organisation). */
  private enclosing(scope: InvalidationScope): InvalidationScope[] {
    const { definitions } = this.options;
    if ('publicKey' in scope) {
      const resolved = definitions.resolveKey(scope.publicKey);
      return resolved ? [scope, { projectId: resolved.project.id }, { organizationId: resolved.organization.id }] : [scope];
    }
    if ('projectId' in scope) {
      const found = definitions.project(scope.projectId);
      return found ? [scope, { organizationId: found.organization.id }] : [scope];
    }
    return [scope];
  }

  /**
   * `schedule_invalidate_project_config`: skipped when the scope or an enclosing one is already
   * scheduled (debounced); else runs after the countdown and marks the scope as scheduled.
   */
  async schedule(trigger: string, scope: InvalidationScope): Promise<boolean> {
    requireOneScope(scope);
    if (this.closed) return false;
    const { kv, metrics, logger } = this.options;
    const markers = await kv.mget(this.enclosing(scope).map(debounceKey));
    if (markers.some((m) => m !== null)) {
      metrics.invalidations.inc({ trigger, outcome: 'skipped' });
      logger?.debug({ trigger, scope }, 'invalidation debounced');
      return false;
    }
    const entry: Scheduled = {
      scope,
      trigger,
      timer: setTimeout(() => {
        this.scheduled.delete(entry);
        void this.run(trigger, scope);
      }, this.countdownMs),
    };
    this.scheduled.add(entry);
    metrics.invalidations.inc({ trigger, outcome: 'scheduled' });
    await kv.set(debounceKey(scope), trigger, this.debounceTtlMs);
    return true;
  }

  /** Public keys a scope covers. */
  private keysOf(scope: InvalidationScope): string[] {
    const { definitions } = this.options;
    if ('publicKey' in scope) return [scope.publicKey];
    if ('projectId' in scope) {
      const found = definitions.project(scope.projectId);
      return found ? definitions.publicKeysOf(found.project).map((k) => k.publicKey) : [];
    }
    const org = definitions.organization(scope.organizationId);
    return org ? org.projects.flatMap((p) => definitions.publicKeysOf(p).map((k) => k.publicKey)) : [];
  }

  /** `invalidate_project_config`: clears the debounce marker, then rebuilds the cached keys of the scope. */
  async run(trigger: string, scope: InvalidationScope): Promise<InvalidationRecord> {
    const { kv, cache, builder, metrics, clock, logger } = this.options;
    const record: InvalidationRecord = { trigger, scope, rebuilt: [] };
    const keys = this.keysOf(scope);
    try {
      await kv.del([debounceKey(scope)]);
      const cached = await cache.cachedAmong(keys);
      const previous = await cache.getMany(cached);
      const now = clock();
      for (let i = 0; i < cached.length; i++) {
        const state = await builder.build(cached[i], now, previous[i]);
        await cache.set(cached[i], state);
        metrics.configsBuilt.inc({ reason: 'invalidation' });
        record.rebuilt.push(cached[i]);
      }
      metrics.invalidations.inc({ trigger, outcome: 'executed' });
    } catch (err) {
      logger?.error({ err, trigger, scope }, 'invalidation failed');
    }
    this.history.push(record);
    if (this.history.length > 1000) this.history.splice(0, this.history.length - 1000);
    for (const listener of this.listeners) {
      try {
        listener(record, keys);
      } catch (err) {
        logger?.error({ err, trigger }, 'invalidation listener failed');
      }
    }
    return record;
  }

  /**
   * Calls `listener` after every executed invalidation, with the keys of its scope (`npm start`
   * uses it to make its in-process ingestion server refetch them at once). Returns a function that stops it.
   */
  onRun(listener: InvalidationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Number of invalidations waiting for their countdown. */
  get pendingCount(): number {
    return this.scheduled.size;
  }

  /** Runs every scheduled invalidation now (tests, `runTasks`). */
  async flush(): Promise<void> {
    const due = [...this.scheduled];
    this.scheduled.clear();
    for (const entry of due) clearTimeout(entry.timer);
    for (const entry of due) await this.run(entry.trigger, entry.scope);
  }

  close(): void {
    this.closed = true;
    for (const entry of this.scheduled) clearTimeout(entry.timer);
    this.scheduled.clear();
  }
}
