// Runs tasks inside a task context, counting `<task>.start`, timing every run and logging the context summary.

import { TaskTimeoutError } from '../errors';
import type { TaskDeps } from './common';
import { TaskContext, type TaskContextSummary } from './context';
import { taskName, type TaskDefinition, type TaskId } from './registry';

/** The outcome of one task run. */
export interface TaskRunResult {
  task: string;
  outcome: 'ok' | 'timeout' | 'error';
  summary: TaskContextSummary;
  error?: Error;
}

export class TaskRunner {
  private readonly byId: Map<TaskId, TaskDefinition>;

  constructor(private readonly deps: TaskDeps, readonly tasks: readonly TaskDefinition[], private readonly beforeRun?: () => Promise<void>) {
    this.byId = new Map(tasks.map((t) => [t.id, t]));
  }

  /**
   * `dynamic_sampling_task_with_context`: counts `<task>.start`, runs the task with a fresh
   * context (the budget is `maxTaskSeconds`), times it, logs `dynamic_sampling.task_execution` or
   * `dynamic_sampling.task_timeout`, and rethrows failures (so a queue can retry the job).
   */
  async run(id: TaskId): Promise<TaskRunResult> {
    const task = this.byId.get(id);
    if (!task) throw new TypeError(`unknown task ${id}`);
    const { metrics, logger, monotonic, options } = this.deps;
    const name = taskName(id);
    metrics.taskStarts.inc({ task: name });
    const context = new TaskContext(name, options.maxTaskSeconds, monotonic);
    const started = performance.now();
    let outcome: TaskRunResult['outcome'] = 'ok';
    try {
      await this.beforeRun?.();
      await task.run(context, this.deps);
      logger.info({ context: context.toDict() }, 'dynamic_sampling.task_execution');
      return { task: name, outcome, summary: context.toDict() };
    } catch (err) {
      if (err instanceof TaskTimeoutError) {
        outcome = 'timeout';
        metrics.taskTimeouts.inc({ task: name });
        logger.error({ context: err.context, task: name }, 'dynamic_sampling.task_timeout');
      } else {
        outcome = 'error';
        logger.error({ err, task: name, context: context.toDict() }, 'dynamic_sampling.task_error');
      }
      throw err;
    } finally {
      metrics.taskDuration.observe({ task: name, outcome }, (performance.now() - started) / 1000);
    }
  }

  /** Runs every task once, in order; a failing task does not stop the others. */
  async runAll(): Promise<TaskRunResult[]> {
    const results: TaskRunResult[] = [];
    for (const task of this.tasks) {
      try {
        results.push(await this.run(task.id));
      } catch (err) {
        const error = err as Error;
        results.push({
          task: taskName(task.id),
          outcome: err instanceof TaskTimeoutError ? 'timeout' : 'error',
          summary: err instanceof TaskTimeoutError ? (err.context as TaskContextSummary) : { taskName: taskName(task.id), maxSeconds: 0, seconds: 0, taskData: {} },
          error,
        });
      }
    }
    return results;
  }
}
