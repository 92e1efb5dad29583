// Task context: time budget, named timers, timed iterators and functions, and the task wrapper's metrics, with an injected clock.

import { describe, expect, it } from 'vitest';

import { TaskTimeoutError } from '../src/control/errors';
import { TaskContext, TimedIterator, Timers, newLogState, timedFunction, type StatefulIterator } from '../src/control/tasks/context';
import { ActiveOrgBatches } from '../src/control/tasks/common';
import { startControlPlane } from '../src/control/control-plane';
import { sampleDefinitions, silentLogger, TestClock } from './helpers/control';

/** Yields `n` numbers, advancing the clock by `stepMs` per step and counting rows. */
class SlowIterator implements StatefulIterator<number> {
  state = newLogState();
  private i = 0;
  constructor(private readonly clock: TestClock, private readonly n: number, private readonly stepMs: number) {}
  async next(): Promise<IteratorResult<number>> {
    if (this.i >= this.n) return { done: true, value: undefined };
    this.clock.advance(this.stepMs);
    this.state.numRowsTotal += 10;
    this.state.numIterations += 1;
    return { done: false, value: this.i++ };
  }
}

describe('timers', () => {
  it('accumulate start/stop periods and include a running one', () => {
    const clock = new TestClock(0);
    const timers = new Timers(clock.monotonic);
    timers.start('a');
    clock.advance(1500);
    expect(timers.current('a')).toBe(1.5);
    expect(timers.stop('a')).toBe(1.5);
    clock.advance(10_000);
    timers.start('a');
    clock.advance(500);
    expect(timers.stop('a')).toBe(2);
    expect(timers.current('unknown')).toBe(0);
    timers.start('b');
    timers.start('b'); // starting twice does not reset
    clock.advance(250);
    expect(timers.current('b')).toBe(0.25);
    expect(timers.names()).toEqual(['a', 'b']);
  });

  it('time a function even when it throws', async () => {
    const clock = new TestClock(0);
    const timers = new Timers(clock.monotonic);
    await expect(
      timers.time('x', () => {
        clock.advance(300);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(timers.current('x')).toBe(0.3);
  });
});

describe('task context', () => {
  it('raises TaskTimeoutError with its summary once the budget is spent', () => {
    const clock = new TestClock(0);
    const context = new TaskContext('sentry.tasks.dynamic_sampling.test', 60, clock.monotonic);
    clock.advance(60_000);
    expect(() => context.checkTimeout()).not.toThrow(); // exactly at the budget
    clock.advance(1);
    let error: unknown;
    try {
      context.checkTimeout();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TaskTimeoutError);
    expect((error as TaskTimeoutError).taskName).toBe('sentry.tasks.dynamic_sampling.test');
    expect((error as TaskTimeoutError).maxSeconds).toBe(60);
    expect((error as TaskTimeoutError).context).toMatchObject({ taskName: 'sentry.tasks.dynamic_sampling.test', maxSeconds: 60, seconds: 60.001 });
  });

  it('summarises function states with their timers (timers without state included)', async () => {
    const clock = new TestClock(0);
    const context = new TaskContext('t', 100, clock.monotonic);
    context.setFunctionState('f', { ...newLogState(), numOrgs: 2, numProjects: 5, numDbCalls: 3 });
    await context.timers.time('f', () => clock.advance(2000));
    await context.timers.time('query', () => clock.advance(500));
    expect(context.toDict()).toEqual({
      taskName: 't',
      maxSeconds: 100,
      seconds: 2.5,
      taskData: {
        f: { numRowsTotal: 0, numDbCalls: 3, numIterations: 0, numProjects: 5, numOrgs: 2, executionTime: 2 },
        query: { numRowsTotal: 0, numDbCalls: 0, numIterations: 0, numProjects: 0, numOrgs: 0, executionTime: 0.5 },
      },
    });
  });
});

describe('timed iterator', () => {
  it('times steps, stores the inner state and stops with a timeout before the step that would overrun', async () => {
    const clock = new TestClock(0);
    const context = new TaskContext('t', 10, clock.monotonic);
    const seen: number[] = [];
    const iterator = new TimedIterator(context, new SlowIterator(clock, 100, 3000), 'rows');
    await expect(
      (async () => {
        for await (const value of iterator) seen.push(value);
      })(),
    ).rejects.toBeInstanceOf(TaskTimeoutError);
    // Steps at 3, 6, 9 and 12 s: the check before the fifth step sees 12 s > 10 s.
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(context.getFunctionState('rows')).toMatchObject({ numRowsTotal: 40, numIterations: 4 });
    expect(context.timers.current('rows')).toBe(12);
  });

  it('resumes from the state already stored under its name', async () => {
    const clock = new TestClock(0);
    const context = new TaskContext('t', 1000, clock.monotonic);
    for await (const _ of new TimedIterator(context, new SlowIterator(clock, 2, 1), 'rows')) void _;
    for await (const _ of new TimedIterator(context, new SlowIterator(clock, 3, 1), 'rows')) void _;
    expect(context.getFunctionState('rows')).toMatchObject({ numRowsTotal: 50, numIterations: 5 });
  });

  it('batches active organisations by count and by cumulated projects (the crossing one included)', async () => {
    const orgs = [1, 2, 3, 4, 5].map((orgId) => ({ orgId, numProjects: orgId * 10 }));
    const byCount: number[][] = [];
    for await (const batch of new TimedIterator(new TaskContext('t', 60), new ActiveOrgBatches(orgs, 2, null), 'orgs')) byCount.push(batch.map((o) => o.orgId));
    expect(byCount).toEqual([[1, 2], [3, 4], [5]]);
    const byProjects: number[][] = [];
    for await (const batch of new TimedIterator(new TaskContext('t', 60), new ActiveOrgBatches(orgs, 80, 30), 'orgs')) byProjects.push(batch.map((o) => o.orgId));
    expect(byProjects).toEqual([[1, 2], [3], [4], [5]]);
  });
});

describe('timed function', () => {
  it('passes and stores the function log state and times it', async () => {
    const clock = new TestClock(0);
    const context = new TaskContext('t', 100, clock.monotonic);
    const perOrg = timedFunction('per_org', async (state, orgId: number) => {
      state.numOrgs += 1;
      state.numDbCalls += orgId;
      clock.advance(1000);
      return orgId * 2;
    });
    expect(await perOrg(context, 1)).toBe(2);
    expect(await perOrg(context, 2)).toBe(4);
    expect(context.getFunctionState('per_org')).toMatchObject({ numOrgs: 2, numDbCalls: 3 });
    expect(context.toDict().taskData.per_org.executionTime).toBe(2);
  });

  it('refuses to start once the budget is spent', async () => {
    const clock = new TestClock(0);
    const context = new TaskContext('t', 1, clock.monotonic);
    let ran = false;
    const fn = timedFunction('f', () => {
      ran = true;
    });
    clock.advance(1001);
    await expect(fn(context)).rejects.toBeInstanceOf(TaskTimeoutError);
    expect(ran).toBe(false);
  });
});

describe('task wrapper', () => {
  it('counts <task>.start, times every run and reports timeouts', async () => {
    const clock = new TestClock();
    const plane = await startControlPlane({
      definitions: sampleDefinitions(),
      schedule: 'none',
      clock: clock.now,
      monotonic: clock.monotonic,
      logger: silentLogger,
      options: { maxTaskSeconds: 5 },
      tasks: [
        { id: 'sliding_window_org', intervalMs: 1000, run: async () => {} },
        {
          id: 'recalibrate_orgs',
          intervalMs: 1000,
          run: async (context) => {
            clock.advance(6000);
            context.checkTimeout();
          },
        },
      ],
    });
    try {
      const results = await plane.runTasks();
      expect(results.map((r) => [r.task, r.outcome])).toEqual([
        ['sentry.tasks.dynamic_sampling.sliding_window_org', 'ok'],
        ['sentry.tasks.dynamic_sampling.recalibrate_orgs', 'timeout'],
      ]);
      await expect(plane.runTask('recalibrate_orgs')).rejects.toBeInstanceOf(TaskTimeoutError);
      const text = await plane.metrics.registry.metrics();
      expect(text).toContain('dynamic_sampling_control_task_start_total{task="sentry.tasks.dynamic_sampling.sliding_window_org"} 1');
      expect(text).toContain('dynamic_sampling_control_task_start_total{task="sentry.tasks.dynamic_sampling.recalibrate_orgs"} 2');
      expect(text).toContain('dynamic_sampling_control_task_timeout_total{task="sentry.tasks.dynamic_sampling.recalibrate_orgs"} 2');
      expect(text).toMatch(/dynamic_sampling_control_task_duration_seconds_count\{task="sentry.tasks.dynamic_sampling.sliding_window_org",outcome="ok"\} 1/);
      expect(text).toMatch(/dynamic_sampling_control_task_duration_seconds_count\{task="sentry.tasks.dynamic_sampling.recalibrate_orgs",outcome="timeout"\} 2/);
    } finally {
      await plane.close();
    }
  });
});
