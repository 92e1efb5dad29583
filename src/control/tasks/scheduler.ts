// The embedded scheduler: runs each task on its own interval in this process (no overlap of one task with itself).

import type { Logger } from 'pino';
import type { TaskRunner } from './runner';

/** Something that runs the tasks on a schedule. */
export interface TaskScheduler {
  readonly kind: 'in-process' | 'bullmq';
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Claims one period of a task for this process (true: it runs it). With a shared Redis, the first
 * process of the fleet to tick in a period claims it, so each task runs once per period.
 */
export type PeriodClaim = (taskId: string, period: number, intervalMs: number) => Promise<boolean>;

export class InProcessScheduler implements TaskScheduler {
  readonly kind = 'in-process' as const;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<string>();

  /** `claim`: with a fleet, asked before each tick's run (none: every tick runs); `now` gives the period (default Date.now). */
  constructor(
    private readonly runner: TaskRunner,
    private readonly logger: Logger,
    private readonly claim?: PeriodClaim,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether this tick runs here: always alone, else when this process claims the period. */
  private async mine(taskId: string, intervalMs: number): Promise<boolean> {
    if (!this.claim) return true;
    try {
      return await this.claim(taskId, Math.floor(this.now() / intervalMs), intervalMs);
    } catch (err) {
      // Without the shared store the tasks cannot run anyway; the next tick tries again.
      this.logger.warn({ task: taskId, err }, 'claiming a scheduled run failed: tick skipped');
      return false;
    }
  }

  async start(): Promise<void> {
    for (const task of this.runner.tasks) {
      const timer = setInterval(() => {
        if (this.running.has(task.id)) {
          this.logger.warn({ task: task.id }, 'previous run still going: tick skipped');
          return;
        }
        this.running.add(task.id);
        this.mine(task.id, task.intervalMs)
          .then((mine) => (mine ? this.runner.run(task.id) : undefined))
          .catch(() => {}) // logged and counted by the runner
          .finally(() => this.running.delete(task.id));
      }, task.intervalMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }
}
