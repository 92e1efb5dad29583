// The per-org pipeline (Sentry's per_org/): calculations against Sentry's test vectors, the stored results and their gates, passes through a control plane.

import { afterEach, describe, expect, it } from 'vitest';

import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../src/control/control-plane';
import type { DefinitionsDocument } from '../src/control/definitions/types';
import {
  applyRateOverrides,
  balanceProjects,
  balanceTransactions,
  boundFactor,
  parseRateOverrides,
  recalibrationFactor,
  type ProjectVolume,
} from '../src/control/per-org/calculations';
import { compare, isWithinRelativeTolerance, relativeDeviation } from '../src/control/per-org/comparisons';
import { isOrgInRollout } from '../src/control/per-org/pipeline';
import { MIN_RECALIBRATION_FACTOR_AGE_MS, PerOrgState } from '../src/control/per-org/store';
import { MemoryKeyValueStore } from '../src/control/store/memory-kv';
import { keyFor, manualControlOptions, orgDef, projectDef, TestClock } from './helpers/control';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const volume = (projectId: number, total: number, keep = total, numDistinctTransactions = 1): ProjectVolume => ({ projectId, total, keep, numDistinctTransactions });

describe('per-org calculations (Sentry vectors)', () => {
  it('balances projects: 9/7/3/1 roots at 0.25 → 0.1481, 0.1905, 0.4444, 1.0', async () => {
    const items = await balanceProjects(0.25, [1, 2, 3, 4], [volume(1, 9), volume(2, 7), volume(3, 3), volume(4, 1)]);
    const rates = new Map(items.map((i) => [i.id, i.newSampleRate]));
    expect(rates.get(1)).toBeCloseTo(4 / 27, 12);
    expect(rates.get(2)).toBeCloseTo(4 / 21, 12);
    expect(rates.get(3)).toBeCloseTo(4 / 9, 12);
    expect(rates.get(4)).toBe(1);
  });

  it('balances projects: every project at 1.0 when the rate is 1.0, nothing without volume, 0 for active projects without volume', async () => {
    expect(await balanceProjects(1.0, [1, 2], [volume(1, 5)])).toEqual([
      { id: 1, count: 5, newSampleRate: 1 },
      { id: 2, count: 0, newSampleRate: 1 },
    ]);
    expect(await balanceProjects(0.5, [1, 2], [volume(3, 100)])).toEqual([]);
    const items = await balanceProjects(0.5, [1, 2], [volume(1, 100), volume(9, 1000)]);
    expect(items.find((i) => i.id === 2)).toEqual({ id: 2, count: 0, newSampleRate: 1 });
    expect(items.find((i) => i.id === 1)!.newSampleRate).toBeCloseTo(0.5, 12);
    // A pluggable solver gets the problem as the pass sees it.
    const seen: number[] = [];
    await balanceProjects(0.5, [1, 2], [volume(1, 100)], (p) => (seen.push(p.sampleRate, ...p.projectIds, p.counts.get(1)!), []));
    expect(seen).toEqual([0.5, 1, 2, 100]);
  });

  it('replaces balanced rates by the per-project override option (invalid entries skipped)', () => {
    const overrides = parseRateOverrides({ '2': 0.7, x: 0.5, '3': 1.5, '4': '0.2', '5': 0 });
    expect([...overrides]).toEqual([
      [2, 0.7],
      [5, 0],
    ]);
    const out = applyRateOverrides([{ id: 1, count: 10, newSampleRate: 0.1 }, { id: 2, count: 5, newSampleRate: 0.2 }], overrides);
    expect(out.map((i) => i.newSampleRate)).toEqual([0.1, 0.7]);
  });

  it('balances transactions (parity scenarios)', () => {
    const run = (rate: number, total: number, classes: number, counts: Array<[string, number]>) =>
      balanceTransactions(new Map([[1, rate]]), [volume(1, total, total, classes)], [{ projectId: 1, transactionCounts: counts }], 0).get(1)!;
    const a = run(0.3, 300, 2, [['/checkout', 200], ['/cart', 100]]);
    expect(Object.fromEntries(a.named.map((i) => [i.id, i.newSampleRate]))).toEqual({ '/checkout': expect.closeTo(0.252, 12), '/cart': expect.closeTo(0.42, 12) });
    expect(a.implicit).toBeCloseTo(0.3, 12);
    const b = run(0.5, 1000, 100, [['/checkout', 5], ['/cart', 3]]);
    expect(b.named.map((i) => i.newSampleRate)).toEqual([1, 1]);
    expect(b.implicit).toBeCloseTo(492 / 992, 12);
    const c = run(0.5, 1000, 3, [['/checkout', 900], ['/cart', 90]]);
    expect(c.implicit).toBe(1);
    expect(Object.fromEntries(c.named.map((i) => [i.id, i.newSampleRate]))).toEqual({ '/checkout': expect.closeTo(0.454545, 6), '/cart': 1 });
    // Projects at 1.0, without a rate or without volume are skipped.
    expect(balanceTransactions(new Map([[1, 1.0]]), [volume(1, 10)], [{ projectId: 1, transactionCounts: [['/a', 10]] }], 0).size).toBe(0);
    expect(balanceTransactions(new Map([[1, null]]), [volume(1, 10)], [{ projectId: 1, transactionCounts: [['/a', 10]] }], 0).size).toBe(0);
    expect(balanceTransactions(new Map([[1, 0.5]]), [], [{ projectId: 1, transactionCounts: [['/a', 10]] }], 0).size).toBe(0);
  });

  it('recalibrates with the effective rate capped at 1, and bounds the factor', () => {
    expect(recalibrationFactor({ total: 1000, indexed: 130 }, 2.0, 0.1)).toBeCloseTo(1.538462, 6);
    // More kept than seen (a rounded extrapolation): effective 1.0, not 1.1.
    expect(recalibrationFactor({ total: 1000, indexed: 1100 }, 1.0, 0.1)).toBeCloseTo(0.1, 12);
    expect(recalibrationFactor({ total: 1000, indexed: 0 }, 1.0, 0.1)).toBeNull();
    expect(recalibrationFactor({ total: 1000, indexed: null }, 1.0, 0.1)).toBeNull();
    expect(recalibrationFactor(null, 1.0, 0.1)).toBeNull();
    expect(recalibrationFactor({ total: 1000, indexed: 100 }, 0, 0.1)).toBeNull();
    expect(recalibrationFactor({ total: 1000, indexed: 100 }, 1, 0)).toBeNull();
    expect(recalibrationFactor({ total: 1000, indexed: 100 }, 1, null)).toBeNull();
    expect(boundFactor(25, false)).toEqual({ factor: null, clamped: false });
    expect(boundFactor(25, true)).toEqual({ factor: 10, clamped: true });
    expect(boundFactor(0.05, true)).toEqual({ factor: 0.1, clamped: true });
    expect(boundFactor(10, false)).toEqual({ factor: 10, clamped: false });
  });

  it('compares with a relative tolerance of 5%', () => {
    expect(relativeDeviation(0.105, 0.1)).toBeCloseTo(0.05, 12);
    expect(isWithinRelativeTolerance(0.105, 0.1)).toBe(true);
    expect(isWithinRelativeTolerance(0.106, 0.1)).toBe(false);
    expect(isWithinRelativeTolerance(null, 0.1)).toBe(false);
    expect(relativeDeviation(0, 0)).toBe(0);
    expect(relativeDeviation(0.1, 0)).toBeNull();
    expect(compare('project_rate:1', 0.1, 0.2)).toMatchObject({ outcome: 'differs', deviation: expect.closeTo(1, 12) });
    expect(compare('project_rate:1', 0.1, null).outcome).toBe('missing');
  });

  it('puts organisations in the rollout by (id % 100000) / 100000 < rate', () => {
    expect(isOrgInRollout(1, 1.0)).toBe(true);
    expect(isOrgInRollout(50_000, 0.5)).toBe(false);
    expect(isOrgInRollout(49_999, 0.5)).toBe(true);
    expect(isOrgInRollout(100_001, 0.5)).toBe(true);
    expect(isOrgInRollout(150_001, 0.5)).toBe(false);
    expect(isOrgInRollout(1, 0)).toBe(false);
  });
});

describe('per-org stored results', () => {
  it('writes project rates only when they changed, renewing the 24 h TTL', async () => {
    const clock = new TestClock();
    const kv = new MemoryKeyValueStore(clock.now);
    const store = new PerOrgState(kv, 15 * MINUTE);
    expect(await store.setProjectRates(1, [])).toBe(false);
    expect(await store.setProjectRates(1, [{ id: 1, newSampleRate: 0.25 }, { id: 2, newSampleRate: 1 }])).toBe(true);
    expect(await kv.hgetall('ds::per_org:o:1:project_sample_rates')).toEqual({ '1': '0.25', '2': '1.0' });
    clock.advance(HOUR);
    expect(await store.setProjectRates(1, [{ id: 1, newSampleRate: 0.25 + 1e-12 }])).toBe(false);
    expect(await kv.pttl('ds::per_org:o:1:project_sample_rates')).toBe(24 * HOUR);
    expect(await store.setProjectRates(1, [{ id: 1, newSampleRate: 0.3 }])).toBe(true);
    expect(await store.rawProjectRate(1, 2)).toEqual({ raw: '1.0', orgHasRates: true });
    expect(await store.rawProjectRate(2, 2)).toEqual({ raw: null, orgHasRates: false });
  });

  it('keeps a factor younger than 9 minutes (freshness gate); 1.0 and discarded factors delete the key', async () => {
    const clock = new TestClock();
    const kv = new MemoryKeyValueStore(clock.now);
    const store = new PerOrgState(kv, 15 * MINUTE);
    expect(await store.writeFactor(1, null)).toBe('none');
    expect(await store.writeFactor(1, { value: 0.5, bounded: 0.5 })).toBe('set');
    expect(await kv.get('ds::per_org:o:1:recalibration_factor')).toBe('0.5');
    expect(await kv.pttl('ds::per_org:o:1:recalibration_factor')).toBe(15 * MINUTE);
    clock.advance(MIN_RECALIBRATION_FACTOR_AGE_MS - 1);
    expect(await store.writeFactor(1, { value: 0.4, bounded: 0.4 })).toBe('skipped_fresh');
    expect(await store.factor(1)).toBe(0.5);
    clock.advance(1);
    expect(await store.writeFactor(1, { value: 0.4, bounded: 0.4 })).toBe('set');
    clock.advance(10 * MINUTE);
    expect(await store.writeFactor(1, { value: 1.0, bounded: 1.0 })).toBe('deleted');
    expect(await store.factor(1)).toBe(1.0);
    expect(await store.writeFactor(1, { value: 0.3, bounded: 0.3 })).toBe('set');
    clock.advance(10 * MINUTE);
    expect(await store.writeFactor(1, { value: 25, bounded: null })).toBe('deleted');
    expect(await kv.exists('ds::per_org:o:1:recalibration_factor')).toBe(false);
  });
});

describe('per-org passes through the control plane', () => {
  let plane: ControlPlane | undefined;
  afterEach(async () => {
    await plane?.close();
    plane = undefined;
  });
  const clock = new TestClock(Date.UTC(2024, 4, 1, 10, 0, 0));

  async function start(definitions: DefinitionsDocument, options: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
    clock.t = Date.UTC(2024, 4, 1, 10, 0, 0);
    // Sentry's per_org numbers: the feedback budget (its recalibration factor), unless a test says otherwise.
    plane = await startControlPlane({
      definitions,
      ...manualControlOptions(clock),
      ...options,
      options: { rateBudget: 'feedback', ...options.options },
    });
    return plane;
  }
  const record = (orgId: number, projectId: number, keep: number, drop: number, transaction = '/a', at = clock.now() - MINUTE): void => {
    if (keep) plane!.recorder.recordRoot({ orgId, projectId, transaction, decision: 'keep', count: keep, at });
    if (drop) plane!.recorder.recordRoot({ orgId, projectId, transaction, decision: 'drop', count: drop, at });
  };
  const rules = async (projectId: number) => {
    const answer = await plane!.configServer.handle({ publicKeys: [keyFor(projectId)], noCache: true });
    return (answer.configs[keyFor(projectId)] as { config: { sampling: { rules: Array<{ id: number; samplingValue: { type: string; value: number } }> } } }).config.sampling.rules;
  };
  const four = () => ({ organizations: [orgDef(1, [101, 102, 103, 104].map((id) => projectDef(id)), { blendedSampleRate: 0.25 })] });

  it('end to end: 9/7/3/1 kept segments at a 0.25 plan → balanced project rates and factor 0.25, served', async () => {
    await start(four());
    expect((await rules(101)).at(-1)!.samplingValue.value).toBe(0.25); // before any pass: the plan's rate
    record(1, 101, 9, 0);
    record(1, 102, 7, 0);
    record(1, 103, 3, 0);
    record(1, 104, 1, 0);
    await plane!.runTasks();
    const report = plane!.perOrg!.reports.get(1)!;
    expect(report).toMatchObject({ status: 'completed', kind: 'automatic', sampleRate: 0.25, results: { recalibrationFactor: 0.25, factorWrite: 'set', wrote: true } });
    const hash = await plane!.kv.hgetall('ds::per_org:o:1:project_sample_rates');
    expect(Number(hash['101'])).toBeCloseTo(4 / 27, 12);
    expect(Number(hash['104'])).toBe(1);
    expect(await plane!.kv.get('ds::per_org:o:1:recalibration_factor')).toBe('0.25');
    expect(await plane!.kv.exists('ds::o:1:prioritise_projects')).toBe(false); // the classic keys are not written
    const served = await rules(101);
    expect(served.find((r) => r.id === 1004)!.samplingValue).toEqual({ type: 'factor', value: 0.25 });
    expect(served.at(-1)!.samplingValue.value).toBeCloseTo(4 / 27, 12);
    // One invalidation of the organisation (runTasks runs it at once).
    expect(plane!.invalidator.history.map((h) => [h.trigger, h.scope])).toEqual([['dynamic_sampling_per_org', { organizationId: 1 }]]);
    // The classic computation from the same counts agrees on the project rates; its factor has no cap at 1 but here effective is 1.
    expect(report.comparisons.filter((c) => c.value.startsWith('project_rate')).every((c) => c.outcome === 'equal')).toBe(true);
    expect(report.comparisons.find((c) => c.value === 'recalibration_factor')).toMatchObject({ perOrg: 0.25, classic: 0.25, outcome: 'equal' });
  });

  it('stops early with Sentry statuses, and writes what it computed up to there', async () => {
    await start({
      organizations: [
        orgDef(1, [projectDef(101)], { blendedSampleRate: 0.25 }),
        orgDef(2, [projectDef(201)], { blendedSampleRate: 1.0 }),
        orgDef(3, [projectDef(301, { disabled: true })], { blendedSampleRate: 0.5 }),
        orgDef(4, [projectDef(401)], { dynamicSampling: false }),
        orgDef(5, [projectDef(501, { targetSampleRate: 0.5 }), projectDef(502)], { samplingMode: 'project', targetSampleRate: 0.5 }),
        orgDef(6, [projectDef(601)], { samplingMode: 'project', targetSampleRate: 0.5 }),
      ],
    });
    record(2, 201, 50, 0);
    record(5, 501, 10, 90);
    await plane!.runTasks();
    const status = (id: number) => plane!.perOrg!.reports.get(id)?.status;
    expect(status(1)).toBe('no_org_volume');
    expect(status(2)).toBe('all_projects_at_full_sample_rate');
    expect(Number((await plane!.kv.hgetall('ds::per_org:o:2:project_sample_rates'))['201'])).toBe(1);
    expect(status(3)).toBe('org_has_no_projects');
    expect(status(4)).toBeUndefined(); // prevalidation: no dynamic sampling, no pass
    expect(status(6)).toBe('org_has_no_dynamic_sampling'); // project mode without any project target
    // Project mode: no project balancing, transactions balanced at the project's target, no recalibration.
    expect(status(5)).toBe('completed');
    expect(plane!.perOrg!.reports.get(5)!.results).toMatchObject({ rebalancedProjects: null, recalibrationFactor: null });
    expect(await plane!.state.kv.exists('ds::per_org:o:5:recalibration_factor')).toBe(false);
    expect(await plane!.kv.exists('ds::per_org:o:5:p:501:transaction_sample_rates')).toBe(true);
    const metrics = await plane!.metrics.registry.getSingleMetricAsString('dynamic_sampling_control_per_org_runs_total');
    expect(metrics).toContain('status="no_org_volume"} 1');
    expect(metrics).toContain('status="org_has_no_dynamic_sampling"} 2');
  });

  it('serves 1.0 to a project the pass did not see, and applies per-project overrides (reported as a difference from the classic tasks)', async () => {
    await start(four(), { options: { sampleRateOverridePerProject: { '102': 0.5 } } });
    record(1, 101, 100, 900);
    record(1, 102, 30, 270);
    await plane!.runTasks();
    const hash = await plane!.kv.hgetall('ds::per_org:o:1:project_sample_rates');
    expect(Number(hash['102'])).toBe(0.5);
    expect((await rules(102)).at(-1)!.samplingValue.value).toBe(0.5);
    // 103 and 104 had no volume: balanced at 1.0 (count 0); a project unknown to the hash is served 1.0 too.
    await plane!.kv.hdel('ds::per_org:o:1:project_sample_rates', ['104']);
    expect((await rules(104)).at(-1)!.samplingValue.value).toBe(1);
    const report = plane!.perOrg!.reports.get(1)!;
    expect(report.comparisons.find((c) => c.value === 'project_rate:102')).toMatchObject({ perOrg: 0.5, outcome: 'differs' });
    const api = await plane!.configServer; // the report is also on the admin API
    expect(api).toBeTruthy();
    const response = await fetch(`${plane!.url}/api/control/organizations/1/per-org`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; comparisons: Array<{ value: string; outcome: string }> };
    expect(body.status).toBe('completed');
    expect(body.comparisons.find((c) => c.value === 'project_rate:102')!.outcome).toBe('differs');
    const metrics = await plane!.metrics.registry.getSingleMetricAsString('dynamic_sampling_control_per_org_comparisons_total');
    expect(metrics).toContain('value="project_rate",outcome="differs"} 1');
  });

  it('does not recompute a factor younger than 9 minutes, and runs nothing when killswitched or out of the rollout', async () => {
    await start(four());
    record(1, 101, 50, 50);
    await plane!.runTasks();
    expect(await plane!.kv.get('ds::per_org:o:1:recalibration_factor')).toBe('0.5');
    clock.advance(5 * MINUTE);
    record(1, 101, 50, 50);
    await plane!.runTasks();
    expect(plane!.perOrg!.reports.get(1)!.results.factorWrite).toBe('skipped_fresh');
    expect(await plane!.kv.get('ds::per_org:o:1:recalibration_factor')).toBe('0.5');
    await plane!.close();

    for (const [options, status] of [
      [{ perOrgKillswitch: true }, 'killswitched'],
      [{ perOrgRolloutRate: 0 }, 'rollout_disabled'],
      [{ perOrgRolloutRate: 0.00001 }, 'rollout_excluded'],
    ] as const) {
      await start(four(), { options });
      record(1, 101, 50, 50);
      await plane!.runTasks();
      expect(plane!.perOrg!.reports.size).toBe(0);
      expect(await plane!.metrics.registry.getSingleMetricAsString('dynamic_sampling_control_per_org_runs_total')).toContain(`status="${status}"} 1`);
      await plane!.close();
      plane = undefined;
    }
  });
});
