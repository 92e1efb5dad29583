// The embedded scheduler: runs each task on its own interval in this process (no overlap of one task with itself).

import type { Logger } from 'pino';
import type { TaskRunner } from './runner';

/** Something that runs the tasks on a schedule. */
export interface TaskScheduler {
  readonly kind: 'in-process' | 'bullmq';
  start(): Promise<void>;
  close(): Promise<void>;
}

export class InProcessScheduler implements TaskScheduler {
  readonly kind = 'in-process' as const;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<string>();

  constructor(private readonly runner: TaskRunner, private readonly logger: Logger) {}

  async start(): Promise<void> {
    for (const task of this.runner.tasks) {
      const timer = setInterval(() => {
        if (this.running.has(task.id)) {
          this.logger.warn({ task: task.id }, 'previous run still going: tick skipped');
          return;
        }
        this.running.add(task.id);
        this.runner
          .run(task.id)
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
