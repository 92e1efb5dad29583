// startControlPlane: definitions, state, recorder, tasks, scheduler and the config server wired together on 127.0.0.1.

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { systemClock, systemMonotonic, type Clock, type MonotonicClock } from './clock';
import { ControlPlaneOptionsError } from './errors';
import { FileAndRedisPersistence, FilePersistence, NoPersistence, RedisPersistence, type DefinitionsPersistence } from './definitions/persistence';
import { Definitions } from './definitions/repository';
import type { DefinitionsDocument, RelayDefinition } from './definitions/types';
import { TrustedClients } from '../access/clients';
import { AdminAccess, checkProtectedMode } from './http/access';
import { RequestAuthenticator } from './http/auth';
import { addAdminRoutes } from './http/admin-routes';
import { addDashboard, type DashboardFeed } from './dashboard';
import { addProjectConfigsRoute } from './http/project-configs-route';
import { ChallengeTokens } from './relays/challenge-token';
import { RelayRegistry } from './relays/registry';
import { addRelayRoutes } from './relays/routes';
import { Router, type RouteInfo } from './http/router';
import { answerClientErrors } from '../http/client-errors';
import { createControlMetrics, type ControlMetrics } from './metrics';
import { ProjectConfigCache } from './serving/config-cache';
import { ProjectConfigServer } from './serving/config-service';
import { hasDynamicSampling } from './serving/describe-project';
import { ConfigInvalidator } from './serving/invalidation';
import { FleetInvalidationPublisher } from './serving/fleet-invalidation';
import { ProjectStateBuilder } from './serving/project-state';
import { DynamicSamplingState } from './state/ds-state';
import { ReleaseBoosts } from './state/releases';
import type { KeyValueStore } from './store/kv';
import { MemoryKeyValueStore } from './store/memory-kv';
import { RedisKeyValueStore, type RedisConnection } from './store/redis-kv';
import { BullmqScheduler, type BullmqSchedulerOptions } from './tasks/bullmq';
import type { TaskDeps } from './tasks/common';
import { DEFAULT_CONTROL_OPTIONS, type ControlOptions } from './tasks/options';
import { plannedTasks, TEN_MINUTES_MS, type Pipeline, type TaskDefinition, type TaskId } from './tasks/registry';
import { DEFAULT_PASS_STEPS, type PassSteps } from './per-org/pass';
import { PerOrgPipeline } from './per-org/pipeline';
import { PerOrgState } from './per-org/store';
import type { CustomRuleNotification } from './tasks/custom-rule-notifications';
import { CustomRuleSamples } from './traffic/custom-rule-samples';
import { TaskRunner, type TaskRunResult } from './tasks/runner';
import { InProcessScheduler, type PeriodClaim, type TaskScheduler } from './tasks/scheduler';
import { TrafficCounts } from './traffic/counts';
import { CountingTrafficRecorder, type TrafficRecorder } from './traffic/recorder';
import { checkObject } from '../engine/args';
import type { PublishedRelease } from './traffic/shared-recorder';
import { RELEASES_OBSERVED_CHANNEL, scheduleClaimKey } from './state/keys';

export interface ControlPlaneOptions {
  /** A JSON/YAML file path, or the document itself. */
  definitions: string | DefinitionsDocument;
  /** Shared state for several processes (rates, counts, configs, definition changes, BullMQ). */
  redis?: RedisConnection;
  /**
   * The operator declares `redis` persistent (AOF/RDB): admin changes are then kept there only,
   * not written into the definitions file. Default false: with a file they go into both.
   */
  durableRedis?: boolean;
  /**
   * Listen address; only loopback by default (127.0.0.1). Beyond loopback it needs `adminTokens` (or
   * `adminReadTokens`) and `tokens` or `relays`, unless `insecureOpen` (protected mode).
   */
  host?: string;
  /** Port (default 0: any free port; see `url`). */
  port?: number;
  /** Relays allowed to fetch with signed requests, in addition to the definitions' `relays`. */
  relays?: RelayDefinition[];
  /**
   * Public keys of relays allowed to register (challenge and response) under any relay id, like an
   * organization's trusted relays in Sentry; the keys of `relays` are trusted too.
   */
  trustedRelays?: string[];
  /** Secret that signs registration challenges; processes sharing `redis` give the same one (default: random per process). */
  registrationSecret?: string;
  /** Bearer tokens accepted on the Relay endpoint (config fetching only; they give no admin access). */
  tokens?: string[];
  /**
   * Tokens of the admin API (`/api/control/...`, `/metrics`) that may read and change. With no admin
   * token at all the admin API serves trusted (loopback) clients only.
   */
  adminTokens?: string[];
  /** Read-only tokens of the admin API: GET routes and `/metrics`; changes answer 403. */
  adminReadTokens?: string[];
  /** @deprecated One admin (write) token: same as `adminTokens: [adminToken]`. */
  adminToken?: string;
  /**
   * No protected mode: without credentials, any client is served (not only loopback ones), and
   * listening beyond loopback without credentials is allowed. A warning is logged.
   */
  insecureOpen?: boolean;
  /** Networks (addresses or CIDR) served without credentials when none are configured (default 127.0.0.0/8 and ::1). */
  trustedClients?: string[];
  /** How tasks run: in this process on a timer (default), as BullMQ jobs (needs `redis`), or only through `runTasks()`. */
  schedule?: 'in-process' | 'bullmq' | 'none';
  bullmq?: Omit<BullmqSchedulerOptions, 'connection'>;
  /** Interval of the rebalancing tasks, ms (default 10 minutes); custom rule cleanup runs every 7 minutes. */
  taskIntervalMs?: number;
  cleanupIntervalMs?: number;
  /** Countdown of invalidations, ms (default 5000). */
  invalidationCountdownMs?: number;
  /**
   * With `redis`: prefix of the ingestion processes' shared config cache in that Redis (their
   * `redisPrefix`, default `dynamic-sampling:configs:`); invalidations are published there.
   */
  configsRedisPrefix?: string;
  /** TTL of cached project configs, ms (default 1 h). */
  configCacheTtlMs?: number;
  /** How often the recorder writes its counts, ms (default 1000). */
  recorderFlushIntervalMs?: number;
  /**
   * Which rebalancing runs: `per-org` (default), Sentry's 2026 per-organization pipeline, served
   * from its results; or `classic`, the fleet-wide tasks of 2024–2025 and their keys.
   */
  pipeline?: Pipeline;
  /** Replaceable steps of the per-org pass (base-rate solver, recalibration measure). */
  perOrgSteps?: Partial<PassSteps>;
  /** The tasks to run (default: the pipeline's, and the custom-rule tasks when `reservoirRules` is on). */
  tasks?: TaskDefinition[];
  /** Task options (Sentry's `dynamic-sampling.*` options). */
  options?: Partial<ControlOptions>;
  /** Clock for rule generation, TTLs, buckets (default Date.now). */
  clock?: Clock;
  /** Clock for task time budgets (default performance.now). */
  monotonic?: MonotonicClock;
  registry?: Registry;
  logger?: Logger;
  /**
   * Serve reservoir rules (custom rules). Off by default: current Relay rejects configs holding
   * them; turn it on only when every consumer runs an engine with its reservoir option on.
   */
  reservoirRules?: boolean;
}

export interface ControlPlane {
  /** `http://127.0.0.1:<port>`: give it to `createSampler({ upstream: { url } })` (127.0.0.1 when listening on a wildcard). */
  readonly url: string;
  readonly port: number;
  /** The HTTP routes served and who may call each (`RouteAccess`). */
  readonly routes: readonly RouteInfo[];
  /** What the ingestion server calls for every trace root and release. */
  readonly recorder: TrafficRecorder & { flush(): Promise<void> };
  /** Flushes counts, runs every task once, then runs the scheduled invalidations at once. */
  runTasks(): Promise<TaskRunResult[]>;
  /** Runs one task (with its context, metrics and logs). */
  runTask(id: TaskId): Promise<TaskRunResult>;
  readonly definitions: Definitions;
  readonly state: DynamicSamplingState;
  readonly releases: ReleaseBoosts;
  readonly kv: KeyValueStore;
  readonly invalidator: ConfigInvalidator;
  readonly configServer: ProjectConfigServer;
  readonly metrics: ControlMetrics;
  readonly scheduler: TaskScheduler | null;
  /** The rebalancing that runs (`per-org` or `classic`). */
  readonly pipeline: Pipeline;
  /** The per-org pipeline: its last pass of every organisation (with the comparison to the classic computation). Null in classic mode. */
  readonly perOrg: PerOrgPipeline | null;
  /** Samples of custom rules (null unless `reservoirRules`): the server reports kept items matching a rule. */
  readonly customRuleSamples: CustomRuleSamples | null;
  /** Calls `listener` for every custom-rule notification (a rule collected its samples); returns a function that stops it. */
  onCustomRuleNotification(listener: (notification: CustomRuleNotification) => void): () => void;
  /** The dashboard (`url` + `/dashboard/`): connect the ingestion server's /stats and envelopes to it. */
  readonly dashboard: DashboardFeed;
  close(): Promise<void>;
}

function persistenceFor(definitions: string | DefinitionsDocument, kv: KeyValueStore, durableRedis: boolean): DefinitionsPersistence {
  if (kv.kind === 'redis') return typeof definitions === 'string' && !durableRedis ? new FileAndRedisPersistence(definitions, kv) : new RedisPersistence(kv, durableRedis);
  return typeof definitions === 'string' ? new FilePersistence(definitions) : new NoPersistence();
}

/** The host of the plane's URL: a wildcard listen address is reached locally on loopback. */
function urlHost(host: string): string {
  // '::' listens on IPv4 too (dual stack).
  if (host === '' || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  checkObject('options', options);
  if (!options || options.definitions === undefined) throw new ControlPlaneOptionsError('definitions', 'a file path or a document is required');
  if (options.schedule === 'bullmq' && !options.redis) throw new ControlPlaneOptionsError('schedule', 'bullmq needs `redis`');
  const trusted = new TrustedClients(options.trustedClients, (message) => new ControlPlaneOptionsError('trustedClients', message));
  const clock = options.clock ?? systemClock;
  const monotonic = options.monotonic ?? systemMonotonic;
  const logger = options.logger ?? pino({ name: 'dynamic-sampling:control', level: process.env.LOG_LEVEL ?? 'info' });
  // The budget looks one task interval ahead unless told otherwise.
  const controlOptions: ControlOptions = { ...DEFAULT_CONTROL_OPTIONS, budgetHorizonMs: options.taskIntervalMs ?? TEN_MINUTES_MS, ...options.options };
  const metrics = createControlMetrics(options.registry);

  const kv: KeyValueStore = options.redis ? new RedisKeyValueStore(options.redis, logger) : new MemoryKeyValueStore(clock);
  const cleanup: Array<() => Promise<void> | void> = [() => kv.close()];
  try {
    const definitions = await Definitions.load(options.definitions, persistenceFor(options.definitions, kv, options.durableRedis === true));
    if (definitions.persistence.kind === 'redis' && !definitions.persistence.durable) {
      logger.warn(
        { store: definitions.persistence.kind },
        'changes made through the admin API live in redis only, not declared durable: a redis restart loses them (give a definitions file, or durableRedis if it persists)',
      );
    }
    cleanup.unshift(() => definitions.close());
    const state = new DynamicSamplingState(kv, { factorTtlMs: controlOptions.recalibrationFactorTtlMs, logger });
    const releases = new ReleaseBoosts(kv);
    const counts = new TrafficCounts(kv);
    const cache = new ProjectConfigCache(kv, options.configCacheTtlMs);
    const pipeline: Pipeline = options.pipeline ?? 'per-org';
    if (pipeline !== 'per-org' && pipeline !== 'classic') throw new ControlPlaneOptionsError('pipeline', `expected "per-org" or "classic", got ${String(pipeline)}`);
    const reservoir = options.reservoirRules === true;
    const perOrgState = pipeline === 'per-org' ? new PerOrgState(kv, controlOptions.recalibrationFactorTtlMs, logger) : null;
    const perOrg = perOrgState ? new PerOrgPipeline(perOrgState, { ...DEFAULT_PASS_STEPS, ...options.perOrgSteps }) : null;
    const builder = new ProjectStateBuilder({ definitions, state, releases, logger, killswitch: () => controlOptions.killswitch, reservoir, perOrg: perOrgState });
    const invalidator = new ConfigInvalidator({
      kv,
      definitions,
      cache,
      builder,
      metrics,
      clock,
      logger,
      countdownMs: options.invalidationCountdownMs,
    });
    cleanup.unshift(() => invalidator.close());
    if (kv instanceof RedisKeyValueStore) {
      // Every ingestion process sharing the configs Redis hears of every invalidation, cached or not.
      const fleet = new FleetInvalidationPublisher(kv, options.configsRedisPrefix, logger);
      const stop = invalidator.onRun((_record, keys) => void fleet.publish(keys));
      cleanup.unshift(() => {
        stop();
        fleet.close();
      });
    }
    definitions.onChange((event) => void invalidator.schedule(event.trigger, event.scope));
    await definitions.watch();

    const onRelease = async (observation: PublishedRelease): Promise<void> => {
      const found = definitions.project(observation.projectId);
      if (!found || !hasDynamicSampling(found.organization)) return;
      const outcome = await releases.observe({ ...observation, platform: found.project.platform });
      if (outcome === 'boosted') await invalidator.schedule('dynamic_sampling:boost_release', { projectId: observation.projectId });
    };
    const recorder = new CountingTrafficRecorder({ counts, clock, logger, flushIntervalMs: options.recorderFlushIntervalMs, onRelease });
    if (kv.kind === 'redis') {
      // Ingestion processes counting into the same Redis (`serve --count-roots`) publish the releases they see.
      const stop = await kv.subscribe(RELEASES_OBSERVED_CHANNEL, (message) => {
        let observation: PublishedRelease;
        try {
          observation = JSON.parse(message) as PublishedRelease;
        } catch {
          return;
        }
        if (typeof observation?.projectId !== 'number' || typeof observation.release !== 'string' || typeof observation.at !== 'number') return;
        onRelease({ ...observation, environment: observation.environment ?? null }).catch((err: unknown) => logger.error({ err, projectId: observation.projectId }, 'release observation failed'));
      });
      cleanup.unshift(stop);
    }
    cleanup.unshift(() => recorder.close());

    const customRuleSamples = reservoir ? new CustomRuleSamples(kv, definitions) : null;
    const notified = new Set<(notification: CustomRuleNotification) => void>();
    const deps: TaskDeps = { definitions, state, counts, invalidator, metrics, clock, monotonic, options: controlOptions, logger, customRuleSamples, customRuleNotified: notified };
    // Another process may have changed the definitions: tasks start from the stored ones.
    const tasks =
      options.tasks ??
      plannedTasks({ pipeline, perOrg, customRules: reservoir, intervalMs: options.taskIntervalMs ?? TEN_MINUTES_MS, cleanupIntervalMs: options.cleanupIntervalMs });
    const runner = new TaskRunner(deps, tasks, kv.kind === 'redis' ? () => definitions.reload() : undefined);
    const runTasks = async (): Promise<TaskRunResult[]> => {
      await recorder.flush();
      const results = await runner.runAll();
      await invalidator.flush();
      return results;
    };

    const configServer = new ProjectConfigServer({ definitions, cache, builder, metrics, clock, logger });
    const tokens = options.tokens ?? [];
    const insecureOpen = options.insecureOpen === true;
    const relays = new RelayRegistry(kv, [...definitions.relays, ...(options.relays ?? [])], options.trustedRelays ?? []);
    const auth = new RequestAuthenticator(relays, tokens, insecureOpen);
    const admin = new AdminAccess(
      { write: [...(options.adminTokens ?? []), ...(options.adminToken !== undefined ? [options.adminToken] : [])], read: options.adminReadTokens ?? [] },
      trusted,
      insecureOpen,
    );
    const host = options.host ?? '127.0.0.1';
    checkProtectedMode(host, { adminConfigured: admin.configured, configConfigured: auth.configured, insecureOpen });
    if (insecureOpen) {
      logger.warn({ host }, 'INSECURE: --insecure-open / insecureOpen: whatever has no credentials (admin API, config endpoint) is served to ANY client that reaches it');
    } else if (!auth.configured) {
      logger.info('no relays or tokens configured: the project config endpoint serves loopback clients only');
    }

    const router = new Router(logger, (access, req) => (access === 'read' || access === 'write' || access === 'page' ? admin.check(req, access) : null));
    addProjectConfigsRoute(router, { server: configServer, auth, trusted, metrics, logger });
    addRelayRoutes(router, { registry: relays, tokens: new ChallengeTokens(options.registrationSecret), auth, trusted, metrics, logger, now: Date.now });
    addAdminRoutes(router, { definitions, state, releases, clock, runTasks, reservoir, perOrg });
    const dashboard = addDashboard(router, {
      definitions,
      state,
      releases,
      counts,
      cache,
      builder,
      clock,
      reservoir,
      perOrg: perOrgState,
      kv,
      onInvalidationRun: (listener) => invalidator.onRun(() => listener()),
      logger,
    });
    router.add('GET', /^\/healthz\/?$/, 'public', async () => ({ status: 200, body: { ok: true } }));
    // Metrics name projects and tasks: read access, like the admin API.
    router.add('GET', /^\/metrics\/?$/, 'read', async () => ({ status: 200, text: await metrics.registry.metrics(), contentType: metrics.registry.contentType }));

    const server: Server = createServer(router.listener);
    answerClientErrors(server);
    const sockets = new Set<import('node:net').Socket>();
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    cleanup.unshift(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.destroy();
        }),
    );
    const port = (server.address() as AddressInfo).port;

    let scheduler: TaskScheduler | null = null;
    const schedule = options.schedule ?? 'in-process';
    if (schedule === 'in-process') {
      // With a shared Redis every control-plane process schedules, but each period of a task is
      // claimed by one of them: the fleet runs each task once per period.
      const instance = randomUUID();
      const claim: PeriodClaim | undefined =
        kv.kind === 'redis' ? (taskId, period, intervalMs) => kv.setnx(scheduleClaimKey(taskId, period), instance, Math.max(2 * intervalMs, 60_000)) : undefined;
      scheduler = new InProcessScheduler(runner, logger, claim);
      if (claim) logger.info('in-process scheduling with a shared redis: each task period is claimed by one process of the fleet');
    }
    else if (schedule === 'bullmq') scheduler = new BullmqScheduler(runner, { ...options.bullmq, connection: options.redis! }, logger);
    if (scheduler) {
      const s = scheduler;
      cleanup.unshift(() => s.close());
      await scheduler.start();
    }
    const url = `http://${urlHost(host)}:${port}`;
    logger.info({ url, host, store: kv.kind, schedule, adminCredentials: admin.configured, configCredentials: auth.configured }, 'control plane started');

    let closed = false;
    return {
      url,
      port,
      routes: router.registered,
      recorder,
      runTasks,
      runTask: (id) => runner.run(id),
      definitions,
      state,
      releases,
      kv,
      invalidator,
      configServer,
      metrics,
      scheduler,
      pipeline,
      perOrg,
      customRuleSamples,
      onCustomRuleNotification(listener) {
        notified.add(listener);
        return () => notified.delete(listener);
      },
      dashboard,
      async close() {
        if (closed) return;
        closed = true;
        for (const step of cleanup) await step();
      },
    };
  } catch (err) {
    for (const step of cleanup) await Promise.resolve(step()).catch(() => {});
    throw err;
  }
}
