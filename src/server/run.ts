// Runs the server as a process (`serve`, `npm start`): one process or a cluster, banner with DSNs, clean shutdown on signals.

import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';

import pino from 'pino';

import { loadOrCreateCredentials, type RelayCredentials } from '../configs/credentials';
import { parseConfigFile } from '../configs/file-source';
import type { TrafficRecorder } from '../control/traffic/recorder';
import type { ServeArgs } from './args';
import { runPrimary } from './cluster';
import { ServerOptionsError } from './errors';
import type { ServerOptions } from './options';
import { startServer, type RunningServer } from './server';
import type { StatsSnapshot } from './stats';

export interface ProjectListing {
  publicKey: string;
  projectId: number;
  slug: string | null;
}

/** The enabled projects of a configs file (for printing their DSNs). */
export function projectsOfFile(path: string): ProjectListing[] {
  const entries = parseConfigFile(path, readFileSync(path, 'utf8'));
  const out: ProjectListing[] = [];
  for (const [publicKey, entry] of entries) {
    const parsed = entry.parsed;
    if (parsed instanceof Error || parsed.disabled) continue;
    const slug = typeof parsed.raw.slug === 'string' ? parsed.raw.slug : null;
    out.push({ publicKey, projectId: parsed.projectId, slug });
  }
  return out.sort((a, b) => a.projectId - b.projectId);
}

/** What `npm start` adds when it runs the control plane next to the server. */
export interface RunExtras {
  /** Counts trace roots (one process), or receives the workers' counts (cluster primary). */
  recorder?: TrafficRecorder;
  /** Projects whose DSNs the banner lists (when the configs do not come from a file). */
  projects?: ProjectListing[];
  /** Lines printed after the banner's first lines (where the control plane listens, ...). */
  banner?: string[];
  /** Environment of the cluster workers. */
  workerEnv?: Record<string, string>;
  /** Called with the running server (one process) or with a function that reaches every worker (cluster), and the /stats snapshot of all. */
  onStarted?: (started: { server: RunningServer | null; invalidate: (publicKeys: string[]) => void; stats: () => Promise<StatsSnapshot> }) => void;
  /** The server's `onEnvelope` (one process only: cluster workers do not report envelopes). */
  onEnvelope?: ServerOptions['onEnvelope'];
  /** Runs once the server (or every worker) stopped, before the process exits. */
  onStopped?: () => Promise<void>;
}

function dsnLines(projects: readonly ProjectListing[], host: string, port: string): string[] {
  const lines = projects.length > 0 ? ['DSNs to use in your SDK:'] : [];
  for (const p of projects) lines.push(`  ${(p.slug ?? `project ${p.projectId}`).padEnd(16)} http://${p.publicKey}@${host}:${port}/${p.projectId}`);
  return lines;
}

/** The lines printed once the server listens: where it is, where kept envelopes go, and the DSNs to use. */
export function bannerLines(url: string, args: ServeArgs, sinkDescription: string, extras: Pick<RunExtras, 'projects' | 'banner'> = {}): string[] {
  const { hostname: host, port } = new URL(url);
  const lines = [`dynamic-sampling ingestion server listening on ${url}${args.workers > 1 ? ` (${args.workers} workers)` : ''}`, `kept envelopes go to ${sinkDescription}`];
  lines.push(...(extras.banner ?? []));
  if (extras.projects) {
    lines.push(...dsnLines(extras.projects, host, port));
  } else if (args.configs && 'file' in args.configs) {
    const path = typeof args.configs.file === 'string' ? args.configs.file : args.configs.file.path;
    lines.push(`project configs: ${path}`);
    try {
      lines.push(...dsnLines(projectsOfFile(path), host, port));
    } catch (error) {
      lines.push(`  (cannot list projects: ${(error as Error).message})`);
    }
  } else if (args.configs && 'upstream' in args.configs) {
    lines.push(`project configs from ${args.configs.upstream.url}`, `DSN: http://<publicKey>@${host}:${port}/<projectId>`);
  }
  lines.push(`metrics: ${url}/metrics   stats: ${url}/stats`);
  return lines;
}

function describeSink(args: ServeArgs): string {
  const sink = args.sink;
  return sink.type === 'file' ? `file:${sink.path}` : sink.type === 'stdout' ? 'stdout' : `upstream:${sink.url}`;
}

/** With `--upstream`: the credentials (read, or created on first start) filled into configs, sink and outcomes. */
export function relayOptions(args: ServeArgs, credentials: RelayCredentials): Pick<ServerOptions, 'configs' | 'sink' | 'outcomes'> & { sink: ServeArgs['sink'] } {
  const upstream = args.upstream!;
  const relay = { relayId: credentials.id, secretKey: credentials.secretKey };
  return {
    configs: { upstream: { url: upstream.url, ...relay, publicKey: credentials.publicKey } },
    sink: args.sink.type === 'upstream' ? { ...args.sink, relay } : args.sink,
    outcomes: { url: upstream.url, ...relay, emit: upstream.emitOutcomes },
  };
}

/** Banner lines about the relay identity (what a Sentry admin must trust). */
function relayLines(args: ServeArgs, credentials: RelayCredentials, created: boolean): string[] {
  const upstream = args.upstream!;
  return [
    `relay in front of ${upstream.url}: relay id ${credentials.id}`,
    `  public key ${credentials.publicKey} (${created ? 'new credentials written to' : 'credentials from'} ${upstream.credentialsFile})`,
    `  add this public key to the organization's trusted relays in Sentry; outcomes ${upstream.emitOutcomes ? 'are reported' : 'are off'}`,
  ];
}

/** Starts the server (or the cluster) from parsed arguments and stops it on SIGINT/SIGTERM. */
export async function runServer(args: ServeArgs, extras: RunExtras = {}): Promise<void> {
  const toStderr = args.sink.type === 'stdout';
  const console = (line: string): void => void (toStderr ? process.stderr : process.stdout).write(`${line}\n`);
  const logger = pino({ name: 'dynamic-sampling', level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(toStderr ? 2 : 1));

  if (args.configs === null) throw new ServerOptionsError('no project configs: give --upstream URL, --configs-file FILE or --configs-upstream URL');
  let relay: ReturnType<typeof relayOptions> | null = null;
  if (args.upstream) {
    // Created by the first process to start (the cluster primary); workers read the same file.
    let loaded: ReturnType<typeof loadOrCreateCredentials>;
    try {
      loaded = loadOrCreateCredentials(args.upstream.credentialsFile);
    } catch (error) {
      throw new ServerOptionsError((error as Error).message);
    }
    relay = relayOptions(args, loaded.credentials);
    if (!cluster.isWorker) extras = { ...extras, banner: [...relayLines(args, loaded.credentials, loaded.created), ...(extras.banner ?? [])] };
  }
  if (args.workers > 1 && cluster.isPrimary) {
    const primary = runPrimary({
      workers: args.workers,
      logger,
      summaryInterval: args.summaryInterval,
      summaryWriter: console,
      onListening: (url) => bannerLines(url, args, describeSink(args), extras).forEach(console),
      env: extras.workerEnv,
      recorder: extras.recorder,
    });
    extras.onStarted?.({ server: null, invalidate: (keys) => primary.invalidate(keys), stats: () => primary.collectStats() });
    stopOnSignals(() => primary.close(), extras.onStopped, logger);
    return;
  }

  const server: RunningServer = await startServer({
    host: args.host,
    port: args.port,
    configs: relay?.configs ?? args.configs,
    redis: args.redis,
    sink: relay?.sink ?? args.sink,
    outcomes: relay?.outcomes,
    maxBodySize: args.maxBodySize,
    summaryInterval: args.summaryInterval,
    summaryWriter: console,
    metricsAccess: args.metricsAccess,
    metricsTokens: args.metricsTokens,
    headersTimeout: args.headersTimeout,
    requestTimeout: args.requestTimeout,
    shutdownTimeout: args.shutdownTimeout,
    rejectUnknownKeys: args.rejectUnknownKeys,
    reservoirRules: args.reservoirRules,
    countRoots: args.countRoots,
    cache: args.configsExpiry !== undefined ? { expiry: args.configsExpiry } : undefined,
    logger,
    clusterWorker: cluster.isWorker,
    recorder: extras.recorder,
    onEnvelope: extras.onEnvelope,
  });
  if (!cluster.isWorker) bannerLines(server.url, args, server.sink.description, extras).forEach(console);
  extras.onStarted?.({
    server,
    invalidate: (keys) => keys.forEach((publicKey) => void server.sampler.configs.invalidate({ publicKey })),
    stats: async () => server.stats.snapshot(),
  });
  stopOnSignals(() => server.close(), extras.onStopped, logger);
}

/** Closes once on the first SIGINT or SIGTERM, then exits (1 if shutting down failed). */
function stopOnSignals(close: () => Promise<void>, onStopped: (() => unknown) | undefined, logger: { error: (obj: object, msg: string) => void }): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void close()
      .then(() => onStopped?.())
      .then(
        () => process.exit(0),
        (error: Error) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
