// Prometheus metrics of config fetching and caching, registered on a Registry passed in or created.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const PREFIX = 'dynamic_sampling_configs_';

export type RequestOutcome = 'ok' | 'http_error' | 'timeout' | 'network' | 'invalid_response' | 'registration';
export type CacheLayer = 'memory' | 'redis';
export type ParseFailureKind = 'project_state' | 'sampling' | 'file' | 'shared_entry';

export interface ConfigMetrics {
  readonly registry: Registry;
  fetchDuration: Histogram<'outcome'>;
  requests: Counter<'outcome'>;
  keysPerRequest: Histogram<string>;
  cacheHits: Counter<'cache'>;
  cacheMisses: Counter<'cache'>;
  backoffSeconds: Gauge<string>;
  consecutiveFailures: Gauge<string>;
  parseFailures: Counter<'kind'>;
  keysFailed: Counter<string>;
  redisErrors: Counter<'operation'>;
  invalidations: Counter<'scope'>;
  fetchesAwaited: Counter<string>;
  cacheEntries: Gauge<string>;
}

/**
 * Creates (or, when another service already registered them on the same registry, reuses) the
 * metrics. Never touches prom-client's global default registry unless it is passed in.
 */
export function createMetrics(registry: Registry = new Registry()): ConfigMetrics {
  function metric<T>(name: string, create: () => T): T {
    return (registry.getSingleMetric(PREFIX + name) as T | undefined) ?? create();
  }
  const registers = [registry];
  return {
    registry,
    fetchDuration: metric('fetch_duration_seconds', () => new Histogram({
      name: PREFIX + 'fetch_duration_seconds',
      help: 'Duration of project-config requests to the upstream, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    })),
    requests: metric('requests_total', () => new Counter({
      name: PREFIX + 'requests_total',
      help: 'Project-config requests sent to the upstream, by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    })),
    keysPerRequest: metric('keys_per_request', () => new Histogram({
      name: PREFIX + 'keys_per_request',
      help: 'Public keys per project-config request.',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500],
      registers,
    })),
    cacheHits: metric('cache_hits_total', () => new Counter({
      name: PREFIX + 'cache_hits_total',
      help: 'Lookups answered by a cache layer with a usable (fresh or stale) state.',
      labelNames: ['cache'] as const,
      registers,
    })),
    cacheMisses: metric('cache_misses_total', () => new Counter({
      name: PREFIX + 'cache_misses_total',
      help: 'Lookups a cache layer could not answer with a usable state.',
      labelNames: ['cache'] as const,
      registers,
    })),
    backoffSeconds: metric('backoff_seconds', () => new Gauge({
      name: PREFIX + 'backoff_seconds',
      help: 'Current delay added before the next upstream round after failures (0 when healthy).',
      registers,
    })),
    consecutiveFailures: metric('upstream_consecutive_failures', () => new Gauge({
      name: PREFIX + 'upstream_consecutive_failures',
      help: 'Upstream requests that failed in a row (0 when healthy).',
      registers,
    })),
    parseFailures: metric('parse_failures_total', () => new Counter({
      name: PREFIX + 'parse_failures_total',
      help: 'Project states, sampling configs, config files or shared entries that failed to parse.',
      labelNames: ['kind'] as const,
      registers,
    })),
    keysFailed: metric('keys_failed_total', () => new Counter({
      name: PREFIX + 'keys_failed_total',
      help: 'Keys dropped from the fetch queue because their deadline passed.',
      registers,
    })),
    redisErrors: metric('redis_errors_total', () => new Counter({
      name: PREFIX + 'redis_errors_total',
      help: 'Failed Redis operations (the service goes on from memory).',
      labelNames: ['operation'] as const,
      registers,
    })),
    invalidations: metric('invalidations_total', () => new Counter({
      name: PREFIX + 'invalidations_total',
      help: 'Invalidations applied, local or received from other processes.',
      labelNames: ['scope'] as const,
      registers,
    })),
    fetchesAwaited: metric('fetches_awaited_total', () => new Counter({
      name: PREFIX + 'fetches_awaited_total',
      help: 'Loads that waited for another process of the fleet to fetch the key (instead of asking the upstream).',
      registers,
    })),
    cacheEntries: metric('cache_entries', () => new Gauge({
      name: PREFIX + 'cache_entries',
      help: 'Keys held in the in-memory cache.',
      registers,
    })),
  };
}
