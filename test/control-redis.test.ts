// Several processes on one Redis: shared definition changes and config cache, and the tasks as BullMQ jobs (one run per tick, retries).

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { UpstreamClient } from '../src/configs/upstream';
import type { ParsedProjectState } from '../src/configs/project-state';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../src/control/control-plane';
import type { BullmqScheduler } from '../src/control/tasks/bullmq';
import type { TaskDefinition } from '../src/control/tasks/registry';
import { keyFor, sampleDefinitions, silentLogger } from './helpers/control';
import { waitFor } from './helpers/upstream';
import { startRedis, type RedisServer } from './helpers/redis';

const TOKEN = 'fleet-token';
let redis: RedisServer;
let raw: Redis;
const planes: ControlPlane[] = [];

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});
beforeEach(async () => {
  await raw.flushdb();
  return async () => {
    for (const p of planes.splice(0)) await p.close();
  };
});

async function start(options: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
  const plane = await startControlPlane({ definitions: sampleDefinitions(), redis: redis.url, tokens: [TOKEN], schedule: 'none', logger: silentLogger, recorderFlushIntervalMs: 0, ...options });
  planes.push(plane);
  return plane;
}

type Enabled = Extract<ParsedProjectState, { disabled: false }>;
const uniform = (state: Enabled): number => JSON.parse(state.samplingJson!).rules.at(-1).samplingValue.value;

describe('shared state', () => {
  it('persists API changes in the file (durable) and in Redis (shared), and every process serves them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dsctl-'));
    const file = path.join(dir, 'defs.json');
    writeFileSync(file, JSON.stringify(sampleDefinitions()));
    const a = await start({ definitions: file, invalidationCountdownMs: 10 });
    const b = await start({ definitions: file });
    const clientA = new UpstreamClient({ url: a.url, token: TOKEN });
    const clientB = new UpstreamClient({ url: b.url, token: TOKEN });
    try {
      // A builds the config; B answers from the shared cache without computing (no `pending`).
      const built = (await clientA.fetchConfigs([keyFor(101)], [null], true)).configs.get(keyFor(101)) as Enabled;
      const fromB = await clientB.fetchConfigs([keyFor(101)], [null]);
      expect((fromB.configs.get(keyFor(101)) as Enabled).rev).toBe(built.rev);
      expect(await raw.pttl(`relayconfig:${keyFor(101)}`)).toBeGreaterThan(3600_000 - 5000);

      const response = await fetch(`${a.url}/api/control/organizations/1`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ targetSampleRate: 0.3 }),
      });
      expect(response.status).toBe(200);
      expect(JSON.parse((await raw.hget('dsctl:definitions', 'o:1'))!)).toEqual({ targetSampleRate: 0.3 });
      expect(JSON.parse(readFileSync(file, 'utf8')).organizations[0].targetSampleRate).toBe(0.3);
      await waitFor(() => b.definitions.organization(1)!.targetSampleRate === 0.3, 'B reloads the definitions');
      // A's invalidation rebuilt the shared entry: B serves the new rate.
      await waitFor(() => a.invalidator.history.length > 0, 'the invalidation ran');
      const after = (await clientB.fetchConfigs([keyFor(101)], [built.rev])).configs.get(keyFor(101)) as Enabled;
      expect(uniform(after)).toBe(0.3);

      // A third process starting later loads the stored changes over the file.
      const c = await start({ definitions: file });
      expect(c.definitions.organization(1)!.targetSampleRate).toBe(0.3);

      // Redis restarted without persistence: the change survives in the file, also for processes
      // that loaded the file before it was made (their reload, as before every task run, reads it again).
      await raw.flushdb();
      await b.definitions.reload();
      expect(b.definitions.organization(1)!.targetSampleRate).toBe(0.3);
      const d = await start({ definitions: file });
      expect(d.definitions.organization(1)!.targetSampleRate).toBe(0.3);
    } finally {
      clientA.close();
      clientB.close();
    }
  });

  it.each([
    ['per-org', 'ds::per_org:o:1:project_sample_rates', 'ds::per_org:o:1:recalibration_factor'],
    ['classic', 'ds::o:1:prioritise_projects', 'ds::o:1:rate_rebalance_factor2'],
  ] as const)('adds up the counts of several recorders, which one process rebalances (%s pipeline)', async (pipeline, ratesKey, factorKey) => {
    // Sentry's numbers: the feedback budget (its recalibration factor).
    const a = await start({ pipeline, options: { rateBudget: 'feedback' } });
    const b = await start({ pipeline, options: { rateBudget: 'feedback' } });
    // A minute ago: the per-org pass reads whole minutes only.
    const at = Date.now() - 60_000;
    a.recorder.recordRoot({ orgId: 1, projectId: 101, transaction: '/a', decision: 'drop', count: 900, at });
    b.recorder.recordRoot({ orgId: 1, projectId: 101, transaction: '/a', decision: 'keep', count: 100, at });
    b.recorder.recordRoot({ orgId: 1, projectId: 104, transaction: '/b', decision: 'keep', count: 10, at });
    await Promise.all([a.recorder.flush(), b.recorder.flush()]);
    await a.runTasks();
    const rates = await raw.hgetall(ratesKey);
    expect(Number(rates['104'])).toBe(1);
    expect(Number(rates['101']) * 1000 + 10).toBeCloseTo(0.1 * 1010, 6);
    expect(await raw.pttl(ratesKey)).toBeGreaterThan(24 * 3600_000 - 5000);
    expect(Number(await raw.get(factorKey))).toBeCloseTo((0.1 * 1010) / 110, 12);
  });
});

describe('in-process scheduling with a shared Redis', () => {
  it('runs each period of a task once in the fleet: the process that claims it', async () => {
    const runs: string[] = [];
    const task = (name: string): TaskDefinition[] => [{ id: 'recalibrate_orgs', intervalMs: 200, run: async () => void runs.push(name) }];
    const a = await start({ schedule: 'in-process', tasks: task('a') });
    const b = await start({ schedule: 'in-process', tasks: task('b') });
    await waitFor(() => runs.length >= 6, 'six runs', 15_000);
    await a.close();
    await b.close();
    const claims = await raw.keys('dsctl:schedule:recalibrate_orgs:*');
    // One run per claimed period; two processes each ticking every period would run twice as often.
    expect(runs.length).toBe(claims.length);
    const owners = await Promise.all(claims.map((key) => raw.get(key)));
    expect(owners.every((owner) => typeof owner === 'string' && owner.length > 0)).toBe(true);
  }, 20_000);
});

describe('tasks as BullMQ jobs', () => {
  function countingTask(runs: string[], name: string, run?: () => Promise<void>, intervalMs = 1000): TaskDefinition[] {
    return [
      {
        id: 'recalibrate_orgs',
        intervalMs,
        run: async () => {
          runs.push(name);
          await run?.();
        },
      },
    ];
  }

  it('runs each tick on exactly one of the workers', async () => {
    const runs: string[] = [];
    const queueName = 'dsctl-exactly-once';
    const a = await start({ schedule: 'bullmq', bullmq: { queueName }, tasks: countingTask(runs, 'a') });
    const b = await start({ schedule: 'bullmq', bullmq: { queueName }, tasks: countingTask(runs, 'b') });
    await waitFor(() => runs.length >= 3, 'three ticks', 10_000);
    const scheduler = a.scheduler as BullmqScheduler;
    await scheduler.queue.removeJobScheduler('recalibrate_orgs');
    await new Promise((r) => setTimeout(r, 300));
    const completed = await scheduler.queue.getJobCountByTypes('completed');
    expect(runs.length).toBe(completed);
    // Every run was its own job: no tick ran twice.
    const jobs = await scheduler.queue.getJobs(['completed']);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(jobs.length);
    const starts = async (p: ControlPlane) => (await p.metrics.taskStarts.get()).values.reduce((s, v) => s + v.value, 0);
    expect((await starts(a)) + (await starts(b))).toBe(runs.length);
  }, 20_000);

  it('keeps the fleet\'s interval when a process starts with another one (replacing it only when asked)', async () => {
    const runs: string[] = [];
    const queueName = 'dsctl-interval-conflict';
    const a = await start({ schedule: 'bullmq', bullmq: { queueName, worker: false }, tasks: countingTask(runs, 'a', undefined, 60_000) });
    const queue = (a.scheduler as BullmqScheduler).queue;
    await start({ schedule: 'bullmq', bullmq: { queueName, worker: false }, tasks: countingTask(runs, 'b', undefined, 120_000) });
    expect(Number((await queue.getJobScheduler('recalibrate_orgs'))!.every)).toBe(60_000);
    await start({ schedule: 'bullmq', bullmq: { queueName, worker: false, replaceSchedules: true }, tasks: countingTask(runs, 'c', undefined, 120_000) });
    expect(Number((await queue.getJobScheduler('recalibrate_orgs'))!.every)).toBe(120_000);
    await queue.removeJobScheduler('recalibrate_orgs');
  }, 20_000);

  it('retries a failed run', async () => {
    const runs: string[] = [];
    let failures = 1;
    const plane = await start({
      schedule: 'bullmq',
      bullmq: { queueName: 'dsctl-retry', retryDelayMs: 50 },
      tasks: countingTask(
        runs,
        'x',
        async () => {
          if (failures-- > 0) throw new Error('transient failure');
        },
        60_000,
      ),
    });
    await waitFor(() => runs.length >= 2, 'the retry', 10_000);
    const scheduler = plane.scheduler as BullmqScheduler;
    await new Promise((r) => setTimeout(r, 200));
    const [job] = await scheduler.queue.getJobs(['completed']);
    expect(job.attemptsMade).toBe(2);
    const metric = await plane.metrics.taskDuration.get();
    expect(metric.values.find((v) => v.metricName?.endsWith('_count') && v.labels.outcome === 'error')?.value).toBe(1);
  }, 20_000);

  it('hands the job of a crashed worker to another worker', async () => {
    const runs: string[] = [];
    let release!: () => void;
    const hanging = new Promise<void>((resolve) => (release = resolve));
    const options = { queueName: 'dsctl-crash', lockDurationMs: 1000, stalledIntervalMs: 300 };
    const a = await start({ schedule: 'bullmq', bullmq: options, tasks: countingTask(runs, 'a', () => hanging, 60_000) });
    await waitFor(() => runs.includes('a'), 'worker a takes the job', 10_000);
    const [taken] = await (a.scheduler as BullmqScheduler).queue.getJobs(['active']);
    expect(taken).toBeDefined();
    // Worker a "crashes": it stops without finishing the job or renewing its lock.
    await (a.scheduler as BullmqScheduler).worker!.close(true);
    const b = await start({ schedule: 'bullmq', bullmq: options, tasks: countingTask(runs, 'b', undefined, 60_000) });
    await waitFor(() => runs.includes('b'), 'worker b runs the stalled job', 15_000);
    release();
    await new Promise((r) => setTimeout(r, 200));
    const completed = await (b.scheduler as BullmqScheduler).queue.getJobs(['completed']);
    expect(completed.map((j) => j.id)).toContain(taken.id);
    expect(runs).toEqual(['a', 'b']);
  }, 30_000);
});
