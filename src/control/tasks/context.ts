// Task context (Sentry's task_context.py): a time budget, named timers, per-function log state and timed iterators/functions.

import { systemMonotonic, type MonotonicClock } from '../clock';
import { TaskTimeoutError } from '../errors';

/** Per-function log state (`DynamicSamplingLogState`). */
export interface LogState {
  numRowsTotal: number;
  numDbCalls: number;
  numIterations: number;
  numProjects: number;
  numOrgs: number;
  /** Seconds. */
  executionTime: number;
}

export const newLogState = (): LogState => ({ numRowsTotal: 0, numDbCalls: 0, numIterations: 0, numProjects: 0, numOrgs: 0, executionTime: 0 });

/** Accumulating named timers (`Timers`): start/stop pairs add up; `current` includes a running period. */
export class Timers {
  private readonly totals = new Map<string, number>();
  private readonly started = new Map<string, number>();

  constructor(private readonly clock: MonotonicClock = systemMonotonic) {}

  start(name: string): void {
    if (!this.totals.has(name)) this.totals.set(name, 0);
    if (!this.started.has(name)) this.started.set(name, this.clock());
  }

  /** Stops a timer and returns its total, in seconds. */
  stop(name: string): number {
    const since = this.started.get(name);
    if (since !== undefined) {
      this.totals.set(name, (this.totals.get(name) ?? 0) + (this.clock() - since));
      this.started.delete(name);
    }
    return this.current(name);
  }

  /** Total seconds of a timer so far (0 for an unknown timer). */
  current(name: string): number {
    const since = this.started.get(name);
    const running = since === undefined ? 0 : this.clock() - since;
    return ((this.totals.get(name) ?? 0) + running) / 1000;
  }

  names(): string[] {
    return [...this.totals.keys()];
  }

  /** Times `fn` under `name` (`NamedTimer` as a context manager). */
  async time<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
    this.start(name);
    try {
      return await fn();
    } finally {
      this.stop(name);
    }
  }
}

/** The summary written to logs (`TaskContext.to_dict`). */
export interface TaskContextSummary {
  taskName: string;
  maxSeconds: number;
  seconds: number;
  taskData: Record<string, LogState>;
}

export class TaskContext {
  readonly expirationTime: number;
  readonly timers: Timers;
  private readonly started: number;
  private readonly data = new Map<string, LogState>();

  constructor(readonly name: string, readonly numSeconds: number, readonly clock: MonotonicClock = systemMonotonic) {
    this.started = clock();
    this.expirationTime = this.started + numSeconds * 1000;
    this.timers = new Timers(clock);
  }

  /** Whether the time budget is spent. */
  expired(): boolean {
    return this.clock() > this.expirationTime;
  }

  /** Throws `TaskTimeoutError` once past the budget. */
  checkTimeout(): void {
    if (this.expired()) throw new TaskTimeoutError(this.name, this.numSeconds, this.toDict());
  }

  getFunctionState(name: string): LogState {
    return this.data.get(name) ?? newLogState();
  }

  setFunctionState(name: string, state: LogState): void {
    this.data.set(name, state);
  }

  toDict(): TaskContextSummary {
    const taskData: Record<string, LogState> = {};
    for (const [name, state] of this.data) taskData[name] = { ...state, executionTime: this.timers.current(name) };
    for (const name of this.timers.names()) if (!(name in taskData)) taskData[name] = { ...newLogState(), executionTime: this.timers.current(name) };
    return { taskName: this.name, maxSeconds: this.numSeconds, seconds: (this.clock() - this.started) / 1000, taskData };
  }
}

/** An async iterator that keeps a log state (rows read, database calls, ...). */
export interface StatefulIterator<T> extends AsyncIterator<T> {
  state: LogState;
}

/**
 * `TimedIterator`: checks the budget before each step, times the step under `name`, and stores
 * the inner iterator's log state in the context (resuming from a state already stored there).
 */
export class TimedIterator<T> implements AsyncIterableIterator<T> {
  constructor(private readonly context: TaskContext, private readonly inner: StatefulIterator<T>, readonly name: string) {
    const stored = context.getFunctionState(name);
    inner.state = { ...stored };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    this.context.checkTimeout();
    const result = await this.context.timers.time(this.name, () => this.inner.next());
    this.context.setFunctionState(this.name, { ...this.inner.state });
    return result;
  }
}

/**
 * `timed_function(name)`: checks the budget, runs `fn` with the function's log state (stored
 * back afterwards) and times it under `name`.
 */
export function timedFunction<A extends unknown[], R>(
  name: string,
  fn: (state: LogState, ...args: A) => Promise<R> | R,
): (context: TaskContext, ...args: A) => Promise<R> {
  return async (context: TaskContext, ...args: A): Promise<R> => {
    context.checkTimeout();
    const state = context.getFunctionState(name);
    try {
      return await context.timers.time(name, () => fn(state, ...args));
    } finally {
      context.setFunctionState(name, state);
    }
  };
}
