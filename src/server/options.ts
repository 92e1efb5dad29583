// Options of `startServer`, their defaults, and validation.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

import type { UpstreamSourceOptions } from '../configs/batcher';
import type { FileSourceOptions } from '../configs/file-source';
import type { CacheOptions } from '../configs/service';
import type { TrafficRecorder } from '../control/traffic/recorder';
import type { Sampler } from '../sampler';
import type { Decision } from './decision';
import { ServerOptionsError } from './errors';
import type { MetricsAccessOptions } from './http/access';
import { DEFAULT_SINK_FILE, type SinkSpec } from './sinks/create';
import type { EnvelopeSink } from './sinks/types';
import type { OutcomeReporterOptions } from './outcomes/reporter';

/** Where project configs come from: a file shaped like an upstream answer, or Sentry/Relay. */
export type ConfigSourceOption = { file: string | FileSourceOptions } | { upstream: UpstreamSourceOptions };

/** What the server saw and decided for one envelope (for tests and tooling). */
export interface EnvelopeObservation {
  projectId: number;
  publicKey: string;
  /** The body as received, after decompression. */
  body: Buffer;
  decision: Decision;
  /** What was handed to the sink (null: nothing, the whole envelope was dropped). */
  forwarded: Buffer | null;
}

/** `metricsAccess`, `metricsTokens`, `trustedClients`: who may read /metrics and /stats (default loopback clients). */
export interface ServerOptions extends MetricsAccessOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 3000; 0 picks a free one). */
  port?: number;
  /** Project configs; ignored when `sampler` is given. */
  configs?: ConfigSourceOption;
  /** A ready sampler (its owner closes it). */
  sampler?: Sampler;
  /** Redis shared by several processes: configs cache and reservoir counters. */
  redis?: string;
  /** Prefix of the config keys in Redis (default `dynamic-sampling:configs:`). */
  redisPrefix?: string;
  cache?: CacheOptions;
  /** Where kept envelopes go (default: JSON Lines in ./data/kept.jsonl). */
  sink?: SinkSpec | EnvelopeSink;
  /** Limit of the request body, compressed and decompressed, bytes (default 20 MiB). */
  maxBodySize?: number;
  /** Limit of the envelope header line, bytes (default 64 KiB). */
  maxEnvelopeHeaderSize?: number;
  /** How long a request waits for the first config load of its key, ms (default 3000). */
  authWait?: number;
  /**
   * While the configs source cannot answer for a key, refuse its envelopes (503, Retry-After)
   * instead of accepting them unchecked (default false: accept, nothing is lost for lack of a config).
   */
  rejectUnknownKeys?: boolean;
  /**
   * Accept historical reservoir rules in project configs (counted per process, or fleet-wide through
   * `redis`). Default false: a config holding one is rejected, as current Relay does.
   */
  reservoirRules?: boolean;
  /** Console summary interval, ms (default 5000; 0 turns it off). */
  summaryInterval?: number;
  /**
   * Distinct project ids with their own metric labels and `/stats` entry; later ones share `other`
   * (default 1000): clients choose the ids, so the sets must stay bounded.
   */
  maxTrackedProjects?: number;
  /** Time a client has to send a whole request (headers and body), ms; past it: 408 (default 30000). */
  requestTimeout?: number;
  /** Time a client has to send the request headers, ms; past it: 408 (default 10000). */
  headersTimeout?: number;
  /** How long an idle keep-alive connection stays open, ms (default 5000). */
  keepAliveTimeout?: number;
  /** How long `close()` lets requests in flight finish before resetting their connections, ms (default 10000). */
  shutdownTimeout?: number;
  /** Where summary lines go (default: stdout, or stderr when the sink is stdout). */
  summaryWriter?: (line: string) => void;
  logger?: Logger;
  /** Registry for the server's metrics (default: a new one). */
  registry?: Registry;
  /** Process metrics (memory, CPU, event loop) on the registry (default true). */
  processMetrics?: boolean;
  /**
   * The control plane's recorder (`startControlPlane(...).recorder`): every trace root accepted
   * (root transaction, root segment span) is counted with its decision, and the releases of kept
   * transactions and segments are observed. Default: none (nothing is parsed for it).
   */
  recorder?: TrafficRecorder;
  /**
   * Report what the server drops (sampling) or refuses (invalid items) to the upstream as Relay's
   * outcomes: aggregated, signed batches to `POST /api/0/relays/outcomes/`. `emit: false` turns them
   * off (Relay's `outcomes.emit_outcomes`). Default: none.
   */
  outcomes?: OutcomeReporterOptions & { emit?: boolean };
  /**
   * Count trace roots into `redis` for a control plane keeping its state there (its `redis`,
   * `--control-redis`), whichever process hosts it: batched every second, buffered in memory while
   * Redis is down. Ignored when `recorder` is given.
   */
  countRoots?: boolean;
  /** Called for every envelope accepted (after the sink took it). */
  onEnvelope?: (observation: EnvelopeObservation) => void;
  /** @internal Set in cluster workers: /metrics and /stats are answered for the whole cluster. */
  clusterWorker?: boolean;
}

export interface ResolvedLimits {
  maxBodySize: number;
  maxEnvelopeHeaderSize: number;
  authWait: number;
  summaryInterval: number;
  maxTrackedProjects: number;
  requestTimeout: number;
  headersTimeout: number;
  keepAliveTimeout: number;
  shutdownTimeout: number;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 3000,
  maxBodySize: 20 * 1024 * 1024,
  maxEnvelopeHeaderSize: 64 * 1024,
  authWait: 3000,
  summaryInterval: 5000,
  maxTrackedProjects: 1000,
  requestTimeout: 30_000,
  headersTimeout: 10_000,
  keepAliveTimeout: 5000,
  shutdownTimeout: 10_000,
  sink: { type: 'file', path: DEFAULT_SINK_FILE } as SinkSpec,
} as const;

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) throw new ServerOptionsError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${value}`);
  return value;
}

export function resolveLimits(options: ServerOptions): ResolvedLimits {
  return {
    maxBodySize: positive('maxBodySize', options.maxBodySize, DEFAULTS.maxBodySize),
    maxEnvelopeHeaderSize: positive('maxEnvelopeHeaderSize', options.maxEnvelopeHeaderSize, DEFAULTS.maxEnvelopeHeaderSize),
    authWait: positive('authWait', options.authWait, DEFAULTS.authWait, true),
    summaryInterval: positive('summaryInterval', options.summaryInterval, DEFAULTS.summaryInterval, true),
    maxTrackedProjects: positive('maxTrackedProjects', options.maxTrackedProjects, DEFAULTS.maxTrackedProjects),
    requestTimeout: positive('requestTimeout', options.requestTimeout, DEFAULTS.requestTimeout),
    headersTimeout: positive('headersTimeout', options.headersTimeout, DEFAULTS.headersTimeout),
    keepAliveTimeout: positive('keepAliveTimeout', options.keepAliveTimeout, DEFAULTS.keepAliveTimeout),
    shutdownTimeout: positive('shutdownTimeout', options.shutdownTimeout, DEFAULTS.shutdownTimeout, true),
  };
}

export function resolvePort(port: number | undefined): number {
  const value = port ?? DEFAULTS.port;
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new ServerOptionsError(`port must be an integer in 0..65535, got ${port}`);
  return value;
}
