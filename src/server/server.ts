// startServer: wires configs, engine, sink, metrics and routes into a listening HTTP server; close() drains and flushes.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

import pino, { type Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';

import { createSampler, type Sampler } from '../sampler';
import { SamplingEngine } from '../engine/engine';
import { WorkerBridge } from './cluster';
import { ServerOptionsError } from './errors';
import { ProjectAuthenticator } from './http/auth';
import { createMetricsGuard } from './http/access';
import { answerClientErrors } from '../http/client-errors';
import { ConnectionTracker } from './http/connections';
import { createRequestHandler } from './http/routes';
import { EnvelopeIngestor } from './ingest';
import { createServerMetrics, ProjectLabels } from './metrics';
import { DEFAULTS, resolveLimits, resolvePort, type ServerOptions } from './options';
import { RootCounter } from './roots';
import { SharedReservoir } from './reservoir/shared';
import { createSink, type SinkSpec } from './sinks/create';
import type { EnvelopeSink } from './sinks/types';
import { ServerStats } from './stats';
import { SummaryPrinter } from './summary';
import { checkObject } from '../engine/args';
import { OutcomeReporter } from './outcomes/reporter';

export interface RunningServer {
  /** `http://host:port` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly sampler: Sampler;
  readonly sink: EnvelopeSink;
  readonly stats: ServerStats;
  /** Reports drops to the upstream (null: outcomes are not sent). */
  readonly outcomes: OutcomeReporter | null;
  /** The server's own registry (the config service's is merged in at /metrics). */
  readonly registry: Registry;
  /** The DSN an SDK uses to send to this server for a project. */
  dsn(publicKey: string, projectId: number): string;
  /** Stops accepting, finishes requests in flight, flushes the sink and releases everything. */
  close(): Promise<void>;
}

function isSink(value: ServerOptions['sink']): value is EnvelopeSink {
  return typeof value === 'object' && value !== null && typeof (value as EnvelopeSink).accept === 'function';
}

function defaultLogger(sink: ServerOptions['sink']): Logger {
  const toStdout = !(typeof sink === 'object' && sink !== null && (sink as SinkSpec).type === 'stdout');
  return pino({ name: 'dynamic-sampling', level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(toStdout ? 1 : 2));
}

function buildSampler(options: ServerOptions, logger: Logger): { sampler: Sampler; owned: boolean } {
  if (options.sampler) return { sampler: options.sampler, owned: false };
  if (!options.configs) throw new ServerOptionsError('no project configs: pass configs {file} or {upstream}, or a sampler');
  const sampler = createSampler({
    ...options.configs,
    engine: new SamplingEngine({ reservoir: options.reservoirRules === true }),
    redis: options.redis,
    redisPrefix: options.redisPrefix,
    cache: options.cache,
    logger: logger.child({ module: 'configs' }),
    registry: new Registry(),
  });
  return { sampler, owned: true };
}

/** The outcome reporter, sharing the configs client's registration when both talk to the same upstream as the same relay. */
function createOutcomeReporter(options: NonNullable<ServerOptions['outcomes']>, sampler: Sampler, logger: Logger, registry: Registry): OutcomeReporter {
  const shared = sampler.configs.upstreamRegistration;
  let base: string | null = null;
  try {
    const url = new URL(options.url);
    base = url.origin + url.pathname.replace(/\/+$/, '');
  } catch {
    // The reporter refuses it with a clear error.
  }
  const sameRelay = shared !== null && shared.baseUrl === base && shared.status().relayId === options.relayId;
  return new OutcomeReporter(
    { ...options, ...(options.registration === undefined && sameRelay ? { registration: shared } : {}) },
    { logger: logger.child({ module: 'outcomes' }), registry },
  );
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  checkObject('options', options);
  const limits = resolveLimits(options);
  const metricsGuard = createMetricsGuard(options);
  const port = resolvePort(options.port);
  const host = options.host ?? DEFAULTS.host;
  const logger = options.logger ?? defaultLogger(options.sink);
  const registry = options.registry ?? new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  if (options.countRoots && !options.recorder && !options.redis) throw new ServerOptionsError('countRoots needs redis (the Redis the control plane keeps its counts in)');
  const { sampler, owned } = buildSampler(options, logger);
  // Loaded only for `countRoots`: a server without it loads nothing of the control plane.
  const sharedRecorder =
    options.countRoots && !options.recorder
      ? new (await import('../control/traffic/shared-recorder')).SharedTrafficRecorder({ redis: options.redis!, logger: logger.child({ module: 'roots' }) })
      : null;
  const recorder = options.recorder ?? sharedRecorder ?? undefined;
  // The engine finds trace roots and releases in the decision's pass, for the recorder.
  if (recorder) sampler.engine.setCounting(true);
  const sinkOption = options.sink ?? DEFAULTS.sink;
  const sink = isSink(sinkOption) ? sinkOption : createSink(sinkOption, { logger: logger.child({ module: 'sink' }), registry });
  const reservoir = options.redis ? new SharedReservoir(options.redis, { logger: logger.child({ module: 'reservoir' }), registry }) : null;
  const metrics = createServerMetrics(registry);
  const stats = new ServerStats();
  const outcomes = options.outcomes && options.outcomes.emit !== false ? createOutcomeReporter(options.outcomes, sampler, logger, registry) : null;
  const registries = (): Registry[] => (sampler.configs.registry === registry ? [registry] : [registry, sampler.configs.registry]);
  const bridge = options.clusterWorker
    ? new WorkerBridge(() => stats.snapshot(), registries(), (keys) => keys.forEach((publicKey) => void sampler.configs.invalidate({ publicKey })))
    : null;

  const server = http.createServer({
    keepAliveTimeout: limits.keepAliveTimeout,
    // Node requires headersTimeout <= requestTimeout; both are checked every connectionsCheckingInterval.
    requestTimeout: limits.requestTimeout,
    headersTimeout: Math.min(limits.headersTimeout, limits.requestTimeout),
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.min(limits.headersTimeout, limits.requestTimeout) / 4)),
  });
  const connections = new ConnectionTracker(server);
  // The tracker's request listener must run before the routes' (it marks late requests Connection: close).
  const handler = createRequestHandler({
    limits,
    auth: new ProjectAuthenticator(sampler.configs, limits.authWait, options.rejectUnknownKeys === true),
    ingestor: new EnvelopeIngestor(sampler, metrics, reservoir, limits),
    sink,
    metrics,
    projectLabels: new ProjectLabels(limits.maxTrackedProjects),
    stats,
    logger,
    roots: recorder ? new RootCounter(recorder, logger.child({ module: 'roots' }), metrics) : null,
    onEnvelope: options.onEnvelope,
    outcomes,
    metricsText: async () => {
      if (bridge) return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, text: await bridge.collect('metrics') };
      const merged = Registry.merge(registries());
      return { contentType: merged.contentType, text: await merged.metrics() };
    },
    statsSnapshot: async () => (bridge ? bridge.collect('stats') : stats.snapshot()),
    metricsGuard,
    onCommit: (res) => connections.commit(res),
    health: () => {
      const sinkHealth = sink.health?.() ?? { ok: true, ready: true };
      return { ok: sinkHealth.ok, sink: sinkHealth, draining: connections.isDraining };
    },
  });

  server.on('request', handler);
  answerClientErrors(server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${urlHost}:${address.port}`;
  bridge?.announce(url);

  const summaryToStderr = !isSink(sinkOption) && sinkOption.type === 'stdout';
  const writeSummary = options.summaryWriter ?? ((line: string) => (summaryToStderr ? process.stderr : process.stdout).write(`${line}\n`));
  const summary = !bridge && limits.summaryInterval > 0 ? new SummaryPrinter(async () => stats.snapshot(), writeSummary, limits.summaryInterval) : null;
  logger.info({ url, sink: sink.description, redis: options.redis ? 'configured' : 'none', recorder: sharedRecorder ? 'redis' : recorder ? 'configured' : 'none' }, 'ingestion server listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    host: address.address,
    port: address.port,
    sampler,
    sink,
    stats,
    outcomes,
    registry,
    dsn: (publicKey, projectId) => `http://${publicKey}@${urlHost}:${address.port}/${projectId}`,
    close() {
      closing ??= (async () => {
        summary?.stop();
        await connections.drain(limits.shutdownTimeout, ({ reset, awaited }) =>
          logger.warn({ reset, awaited, afterMs: limits.shutdownTimeout }, `shutdown deadline passed: ${reset} connections reset, ${awaited} still awaited (their envelope is in the sink)`),
        );
        await sink.close();
        await outcomes?.close();
        await reservoir?.close();
        await sharedRecorder?.close();
        bridge?.close();
        if (owned) await sampler.close();
      })();
      return closing;
    },
  };
}
