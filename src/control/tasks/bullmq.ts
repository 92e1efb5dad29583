// Several processes: the tasks as BullMQ job schedulers on Redis, so one worker runs each tick and failed or crashed runs are retried.

import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { RedisConnection } from '../store/redis-kv';
import { watchOutages, type OutageWatch } from '../../redis/outages';
import type { TaskId } from './registry';
import type { TaskRunner } from './runner';
import type { TaskScheduler } from './scheduler';

export interface BullmqSchedulerOptions {
  connection: RedisConnection;
  /** Queue name (default `dynamic-sampling-tasks`). */
  queueName?: string;
  /** BullMQ key prefix (default `bull`). */
  prefix?: string;
  /** Attempts per run (default 5, Sentry's retries) and the delay between them (default 5000 ms). */
  attempts?: number;
  retryDelayMs?: number;
  /** How long a worker's lock on a job lasts without renewal (default 30000): after that a crashed worker's job is retried. */
  lockDurationMs?: number;
  /** How often workers look for jobs of crashed workers (default 30000). */
  stalledIntervalMs?: number;
  /** Run a worker in this process (default true); false only schedules. */
  worker?: boolean;
  /**
   * When the fleet's job scheduler of a task has another interval than this process's: replace it
   * (true) or keep the fleet's and warn (default false: the first process to start sets it).
   */
  replaceSchedules?: boolean;
}

function connectionOf(connection: RedisConnection): ConnectionOptions {
  const base = typeof connection === 'string' ? { url: connection } : { ...connection };
  // Workers block on Redis: BullMQ needs commands to wait rather than fail.
  return { ...base, maxRetriesPerRequest: null } as ConnectionOptions;
}

export class BullmqScheduler implements TaskScheduler {
  readonly kind = 'bullmq' as const;
  readonly queue: Queue;
  worker: Worker | null = null;
  private readonly queueName: string;
  private readonly outage: OutageWatch;

  constructor(private readonly runner: TaskRunner, private readonly options: BullmqSchedulerOptions, private readonly logger: Logger) {
    this.queueName = options.queueName ?? 'dynamic-sampling-tasks';
    this.queue = new Queue(this.queueName, { connection: connectionOf(options.connection), prefix: options.prefix });
    this.outage = watchOutages(this.queue, logger, 'task queue');
  }

  /**
   * Creates one job scheduler per task unless the fleet already has it with the same interval
   * (upserting again would add an extra run at every process start), then starts the worker.
   */
  async start(): Promise<void> {
    for (const task of this.runner.tasks) {
      const existing = await this.queue.getJobScheduler(task.id);
      if (existing && Number(existing.every) === task.intervalMs) continue;
      if (existing && !this.options.replaceSchedules) {
        this.logger.warn(
          { task: task.id, fleetIntervalMs: Number(existing.every), ownIntervalMs: task.intervalMs },
          'the fleet schedules this task at another interval: keeping the fleet\'s (bullmq.replaceSchedules to replace it)',
        );
        continue;
      }
      if (existing) this.logger.warn({ task: task.id, fleetIntervalMs: Number(existing.every), ownIntervalMs: task.intervalMs }, 'replacing the fleet\'s interval of this task');
      await this.queue.upsertJobScheduler(
        task.id,
        { every: task.intervalMs },
        {
          name: task.id,
          data: {},
          opts: {
            attempts: this.options.attempts ?? 5,
            backoff: { type: 'fixed', delay: this.options.retryDelayMs ?? 5000 },
            removeOnComplete: 100,
            removeOnFail: 500,
          },
        },
      );
    }
    if (this.options.worker !== false) this.startWorker();
  }

  private startWorker(): void {
    this.worker = new Worker(
      this.queueName,
      async (job: Job) => {
        const result = await this.runner.run(job.name as TaskId);
        return { outcome: result.outcome, seconds: result.summary.seconds };
      },
      {
        connection: connectionOf(this.options.connection),
        prefix: this.options.prefix,
        concurrency: 1,
        lockDuration: this.options.lockDurationMs ?? 30_000,
        stalledInterval: this.options.stalledIntervalMs ?? 30_000,
        maxStalledCount: 5,
      },
    );
    this.worker.on('failed', (job, err) => this.logger.warn({ task: job?.name, attempt: job?.attemptsMade, err }, 'task job failed'));
    // A queue does not say when it is connected again; a job taken does.
    this.worker.on('active', () => this.outage.ready());
    // Connection errors are the queue's outage (logged once); others are logged.
    this.worker.on('error', (err) => {
      if (!this.outage.down && !/ECONNREFUSED|ECONNRESET|Connection is closed/.test(String(err?.message))) this.logger.error({ err }, 'task worker error');
    });
  }

  /** Removes the job schedulers (e.g. when retiring the fleet); `close` keeps them. */
  async removeSchedules(): Promise<void> {
    for (const task of this.runner.tasks) await this.queue.removeJobScheduler(task.id);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
