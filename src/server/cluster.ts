// Several worker processes on one port (node:cluster): the primary restarts workers and answers /metrics and /stats for all of them.

import cluster, { type Worker } from 'node:cluster';

import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';

import type { ReleaseObservation, RootRecord, TrafficRecorder } from '../control/traffic/recorder';
import { mergeSnapshots, type StatsSnapshot } from './stats';
import { SummaryPrinter } from './summary';

type Collect = 'metrics' | 'stats';

type WorkerMessage =
  | { type: 'ds:collect'; id: number; what: Collect }
  | { type: 'ds:stats-res'; id: number; snapshot: StatsSnapshot }
  | { type: 'ds:listening'; url: string }
  | { type: 'ds:traffic'; roots: RootRecord[]; releases: ReleaseObservation[] };

type PrimaryMessage =
  | { type: 'ds:collected'; id: number; ok: boolean; payload: unknown }
  | { type: 'ds:stats-req'; id: number }
  | { type: 'ds:invalidate'; publicKeys: string[] };

const COLLECT_TIMEOUT_MS = 5000;

function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/** Worker side: answers the primary's stats requests and asks it for cluster-wide metrics and stats. */
export class WorkerBridge {
  private nextId = 0;
  private readonly waiting = new Map<number, (message: PrimaryMessage & { type: 'ds:collected' }) => void>();
  private readonly onMessage = (message: unknown): void => {
    if (isMessage<PrimaryMessage & { type: 'ds:stats-req' }>(message, 'ds:stats-req')) {
      process.send?.({ type: 'ds:stats-res', id: message.id, snapshot: this.stats() } satisfies WorkerMessage);
    } else if (isMessage<PrimaryMessage & { type: 'ds:collected' }>(message, 'ds:collected')) {
      this.waiting.get(message.id)?.(message);
      this.waiting.delete(message.id);
    } else if (isMessage<PrimaryMessage & { type: 'ds:invalidate' }>(message, 'ds:invalidate') && Array.isArray(message.publicKeys)) {
      this.onInvalidate?.(message.publicKeys);
    }
  };

  constructor(
    private readonly stats: () => StatsSnapshot,
    registries: Registry[],
    /** Configs the primary's control plane rebuilt: refetch them. */
    private readonly onInvalidate?: (publicKeys: string[]) => void,
  ) {
    // Lets prom-client's aggregator in the primary read this worker's registries.
    AggregatorRegistry.setRegistries(registries);
    new AggregatorRegistry();
    process.on('message', this.onMessage);
  }

  /** Cluster-wide metrics text or merged stats, from the primary. */
  collect(what: 'metrics'): Promise<string>;
  collect(what: 'stats'): Promise<StatsSnapshot>;
  collect(what: Collect): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the cluster primary did not answer for ${what} within ${COLLECT_TIMEOUT_MS} ms`));
      }, COLLECT_TIMEOUT_MS);
      this.waiting.set(id, (message) => {
        clearTimeout(timer);
        if (message.ok) resolve(message.payload);
        else reject(new Error(String(message.payload)));
      });
      process.send?.({ type: 'ds:collect', id, what } satisfies WorkerMessage);
    });
  }

  announce(url: string): void {
    process.send?.({ type: 'ds:listening', url } satisfies WorkerMessage);
  }

  close(): void {
    process.off('message', this.onMessage);
  }
}

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  summaryInterval: number;
  summaryWriter: (line: string) => void;
  /** Called once, when the first worker listens. */
  onListening: (url: string) => void;
  /** Environment added for the workers. */
  env?: Record<string, string>;
  /** The control plane's recorder: what the workers' `IpcTrafficRecorder`s count is handed to it. */
  recorder?: TrafficRecorder;
}

export interface ClusterPrimary {
  /** Stops the workers (each closes its server and flushes its sink) and resolves when all exited. */
  close(timeoutMs?: number): Promise<void>;
  collectStats(): Promise<StatsSnapshot>;
  /** Tells every worker to refetch these keys' configs. */
  invalidate(publicKeys: string[]): void;
}

/** How often a worker hands its counts to the primary, ms. */
const TRAFFIC_FLUSH_MS = 500;
/** Distinct (minute, project, decision, name) entries buffered before an early hand-over. */
const TRAFFIC_MAX_ENTRIES = 5000;

/**
 * The recorder of a cluster worker (`npm start --workers N`): aggregates trace roots per minute,
 * project, decision and name, and sends them with the release observations to the primary,
 * whose control plane counts them, every 500 ms and on `close()`. Never throws.
 */
export class IpcTrafficRecorder implements TrafficRecorder {
  private roots = new Map<string, RootRecord & { count: number; at: number }>();
  private releases: ReleaseObservation[] = [];
  private readonly recentReleases = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly send: (message: WorkerMessage) => void = (m) => void process.send?.(m)) {
    this.timer = setInterval(() => this.flush(), TRAFFIC_FLUSH_MS);
    this.timer.unref();
  }

  recordRoot(root: RootRecord): void {
    const at = root.at === undefined ? Date.now() : Number(root.at);
    const minute = Math.floor(at / 60_000);
    const id = JSON.stringify([minute, root.orgId, root.projectId, root.decision, root.transaction ?? '', root.kind ?? 'transaction', root.release ?? null, root.environment ?? null]);
    const entry = this.roots.get(id);
    if (entry) entry.count += root.count ?? 1;
    else this.roots.set(id, { ...root, count: root.count ?? 1, at: minute * 60_000 });
    if (this.roots.size >= TRAFFIC_MAX_ENTRIES) this.flush();
  }

  observeRelease(observation: ReleaseObservation): void {
    const now = Date.now();
    const id = `${observation.projectId}\u0000${observation.release}\u0000${observation.environment ?? ''}`;
    const until = this.recentReleases.get(id);
    if (until !== undefined && now < until) return;
    if (this.recentReleases.size >= 10_000) this.recentReleases.clear();
    this.recentReleases.set(id, now + 60_000);
    this.releases.push({ ...observation, at: observation.at === undefined ? now : Number(observation.at) });
  }

  flush(): void {
    if (this.roots.size === 0 && this.releases.length === 0) return;
    const message: WorkerMessage = { type: 'ds:traffic', roots: [...this.roots.values()], releases: this.releases };
    this.roots = new Map();
    this.releases = [];
    try {
      this.send(message);
    } catch {
      // The primary is gone (shutdown): nothing left to count into.
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** Primary side: forks the workers (they run the same entry point), restarts crashed ones, aggregates. */
export function runPrimary(options: PrimaryOptions): ClusterPrimary {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let announced = false;
  let nextId = 0;
  const statsRequests = new Map<number, { snapshots: StatsSnapshot[]; pending: number; done: () => void }>();

  const collectStats = (): Promise<StatsSnapshot> => {
    const id = nextId++;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    return new Promise((resolve) => {
      const snapshots: StatsSnapshot[] = [];
      const finish = (): void => {
        statsRequests.delete(id);
        clearTimeout(timer);
        resolve(mergeSnapshots(snapshots));
      };
      const timer = setTimeout(finish, COLLECT_TIMEOUT_MS);
      statsRequests.set(id, { snapshots, pending: workers.length, done: finish });
      if (workers.length === 0) finish();
      for (const worker of workers) worker.send({ type: 'ds:stats-req', id } satisfies PrimaryMessage);
    });
  };

  const answer = async (worker: Worker, message: WorkerMessage & { type: 'ds:collect' }): Promise<void> => {
    try {
      const payload = message.what === 'metrics' ? await aggregator.clusterMetrics() : await collectStats();
      if (worker.isConnected()) worker.send({ type: 'ds:collected', id: message.id, ok: true, payload } satisfies PrimaryMessage);
    } catch (error) {
      if (worker.isConnected()) worker.send({ type: 'ds:collected', id: message.id, ok: false, payload: (error as Error).message } satisfies PrimaryMessage);
    }
  };

  cluster.on('message', (worker, message: unknown) => {
    if (isMessage<WorkerMessage & { type: 'ds:collect' }>(message, 'ds:collect')) void answer(worker, message);
    else if (isMessage<WorkerMessage & { type: 'ds:stats-res' }>(message, 'ds:stats-res')) {
      const request = statsRequests.get(message.id);
      if (request) {
        request.snapshots.push(message.snapshot);
        if (--request.pending === 0) request.done();
      }
    } else if (isMessage<WorkerMessage & { type: 'ds:listening' }>(message, 'ds:listening') && !announced) {
      announced = true;
      options.onListening(message.url);
    } else if (isMessage<WorkerMessage & { type: 'ds:traffic' }>(message, 'ds:traffic') && options.recorder) {
      for (const root of message.roots) options.recorder.recordRoot(root);
      for (const release of message.releases) options.recorder.observeRelease(release);
    }
  });

  const fork = (): void => {
    cluster.fork({ ...options.env, DS_CLUSTER_WORKER: '1' });
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    options.logger.error({ pid: worker.process.pid, code, signal }, 'worker exited: starting a new one');
    setTimeout(fork, 500).unref();
  });
  for (let i = 0; i < options.workers; i++) fork();

  const summary = options.summaryInterval > 0 ? new SummaryPrinter(collectStats, options.summaryWriter, options.summaryInterval) : null;

  return {
    collectStats,
    invalidate(publicKeys) {
      if (publicKeys.length === 0) return;
      for (const worker of Object.values(cluster.workers ?? {})) {
        if (worker?.isConnected()) worker.send({ type: 'ds:invalidate', publicKeys } satisfies PrimaryMessage);
      }
    },
    close(timeoutMs = 15_000) {
      stopping = true;
      summary?.stop();
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      return new Promise<void>((resolve) => {
        let left = workers.length;
        if (left === 0) resolve();
        const timer = setTimeout(() => {
          for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
          resolve();
        }, timeoutMs);
        for (const w of workers) {
          w.once('exit', () => {
            if (--left === 0) {
              clearTimeout(timer);
              resolve();
            }
          });
          w.process.kill('SIGTERM');
        }
      });
    },
  };
}
