// Fidelity beyond Sentry: the rate budget predicts what the served rules keep (pure predictor and solver), streamed health checks get the trace rule, recalibration measures only traffic of the configs in force, and the short fidelity run holds the target from cycle 2 on.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { classRate, MemoMatcher, predictKept, type TrafficClass } from '../src/control/budget/predict';
import { solveModelRate } from '../src/control/budget/solve';
import { startControlPlane, type ControlPlane } from '../src/control/control-plane';
import { HEALTH_CHECK_GLOBS } from '../src/rules/constants';
import { TrafficCounts } from '../src/control/traffic/counts';
import type { SamplingRule } from '../src/rules/types';
import { matchCondition } from '../src/engine/evaluate';
import { Count, runFidelity, type FidelityResult } from '../src/fidelity/run';
import { manualControlOptions, orgDef, projectDef, TestClock } from './helpers/control';
import { startRelayOracle, type RelayOracle } from './helpers/relay-oracle';

const matcher = () => new MemoMatcher((condition, target) => matchCondition(condition, target));
const root = (over: Partial<TrafficClass>): TrafficClass => ({ projectId: 1, kind: 'transaction', transaction: '/api', release: null, environment: 'production', count: 100, ...over });
const health = (type: 'transaction' | 'trace', value: number): SamplingRule => ({
  id: 1002,
  type,
  condition: { op: 'or', inner: [{ op: 'glob', name: type === 'trace' ? 'trace.transaction' : 'event.transaction', value: [...HEALTH_CHECK_GLOBS] }] },
  samplingValue: { type: 'sampleRate', value },
});
const uniform = (value: number): SamplingRule => ({ id: 1000, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value } });
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const release = (factor: number): SamplingRule => ({
  id: 1500,
  type: 'trace',
  condition: { op: 'and', inner: [{ op: 'eq', name: 'trace.release', value: ['1.0'] }, { op: 'eq', name: 'trace.environment', value: 'production' }] },
  samplingValue: { type: 'factor', value: factor },
  timeRange: { start: new Date(T0).toISOString().replace('.000', ''), end: new Date(T0 + 1000_000).toISOString().replace('.000', '') },
  decayingFn: { type: 'linear', decayedValue: 1 },
});

describe('rate budget: the predictor', () => {
  it('applies a transaction health-check rule to root transactions only, the trace variant to streamed segments too', () => {
    const m = matcher();
    const tx = root({ transaction: '/healthz' });
    const segment = root({ transaction: '/healthz', kind: 'segment' });
    expect(classRate([health('transaction', 0.02), uniform(0.1)], tx, T0, m)).toBeCloseTo(0.02, 12);
    expect(classRate([health('transaction', 0.02), uniform(0.1)], segment, T0, m)).toBeCloseTo(0.1, 12);
    expect(classRate([health('trace', 0.02), uniform(0.1)], segment, T0, m)).toBeCloseTo(0.02, 12);
    expect(classRate([health('trace', 0.02), uniform(0.1)], root({}), T0, m)).toBeCloseTo(0.1, 12);
  });

  it('multiplies a release boost that decays linearly over its time range, and nothing outside it', () => {
    const m = matcher();
    const rules = [release(1.5), uniform(0.1)];
    const boosted = root({ release: '1.0' });
    expect(classRate(rules, boosted, T0, m)).toBeCloseTo(0.15, 12);
    expect(classRate(rules, boosted, T0 + 500_000, m)).toBeCloseTo(0.125, 12);
    expect(classRate(rules, boosted, T0 + 1000_000, m)).toBeCloseTo(0.1, 12);
    expect(classRate(rules, root({ release: '0.9' }), T0, m)).toBeCloseTo(0.1, 12);
    expect(classRate([release(20), uniform(0.1)], boosted, T0, m)).toBe(1);
  });

  it('predicts kept roots per project, keeping projects without rules whole', () => {
    const prediction = predictKept([root({ count: 1000 }), root({ projectId: 2, count: 10 })], new Map([[1, [uniform(0.1)]]]), T0, matcher());
    expect(prediction.total).toBe(1010);
    expect(prediction.kept).toBeCloseTo(110, 9);
    expect(prediction.projects.get(2)).toEqual({ total: 10, kept: 10 });
  });

  it('solves for the rate whose prediction meets the target, within the bounds', () => {
    const share = (rate: number) => Math.min(1, 0.03 + rate * 1.2);
    expect(share(solveModelRate(0.25, share))).toBeCloseTo(0.25, 9);
    expect(solveModelRate(0.02, share)).toBe(1e-4); // the fixed part alone keeps more than the target
    expect(solveModelRate(0.5, () => 0.1)).toBe(1);
  });
});

// Sentry's feedback recalibration of the classic tasks: its window is what back-to-back runs test.
describe('control plane (classic pipeline, feedback budget): streamed health checks and recalibration windows', () => {
  const clock = new TestClock(Date.UTC(2026, 0, 1, 10, 0, 0));
  let plane: ControlPlane;
  let oracle: RelayOracle;
  beforeAll(async () => {
    oracle = await startRelayOracle();
    plane = await startControlPlane({
      definitions: { organizations: [orgDef(1, [projectDef(11), projectDef(12)], { targetSampleRate: 0.2 })] },
      pipeline: 'classic',
      options: { rateBudget: 'feedback' },
      ...manualControlOptions(clock),
    });
  }, 300_000);
  afterAll(async () => {
    await plane?.close();
    await oracle?.close();
  });

  const rules = async (projectId: number): Promise<SamplingRule[]> => {
    const response = await fetch(`${plane.url}/api/control/projects/${projectId}/sampling`);
    return ((await response.json()) as { config: { rules: SamplingRule[] } }).config.rules;
  };

  it('matches health checks on the trace for a project that streams spans, on the event for one that sends transactions; Relay accepts both', async () => {
    for (let i = 0; i < 50; i++) {
      plane.recorder.recordRoot({ orgId: 1, projectId: 11, transaction: '/api', decision: i % 5 ? 'drop' : 'keep', kind: 'transaction' });
      plane.recorder.recordRoot({ orgId: 1, projectId: 12, transaction: '/api', decision: i % 5 ? 'drop' : 'keep', kind: i % 3 ? 'transaction' : 'segment' });
    }
    clock.advance(60_000);
    await plane.runTasks();
    const [tx, streamed] = [await rules(11), await rules(12)];
    const healthOf = (list: SamplingRule[]) => list.find((r) => r.id === 1002)!;
    expect(healthOf(tx).type).toBe('transaction');
    expect(JSON.stringify(healthOf(tx).condition)).toContain('event.transaction');
    expect(healthOf(streamed).type).toBe('trace');
    expect(JSON.stringify(healthOf(streamed).condition)).toContain('trace.transaction');
    const answers = await oracle.call([tx, streamed].map((list) => ({ op: 'validate_sampling_configuration' as const, json: JSON.stringify({ version: 2, rules: list }) })));
    expect(answers).toEqual([
      { ok: true, result: null },
      { ok: true, result: null },
    ]);
  });

  it('counts roots per class: kind, transaction, release and environment of the DSC', async () => {
    const at = clock.now() + 10 * 60_000;
    plane.recorder.recordRoot({ orgId: 1, projectId: 11, transaction: '/x', decision: 'keep', kind: 'segment', release: '2.0', environment: 'production', at, count: 3 });
    plane.recorder.recordRoot({ orgId: 1, projectId: 11, transaction: '/x', decision: 'drop', kind: 'segment', release: '2.0', environment: 'production', at, count: 5 });
    plane.recorder.recordRoot({ orgId: 1, projectId: 11, transaction: '/x', decision: 'drop', at });
    await plane.recorder.flush();
    const classes = await new TrafficCounts(plane.kv).rootClasses({ from: at, to: at + 60_000 });
    expect(classes).toEqual([
      { orgId: 1, projectId: 11, kind: 'segment', transaction: '/x', release: '2.0', environment: 'production', keep: 3, drop: 5 },
      { orgId: 1, projectId: 11, kind: 'transaction', transaction: '/x', release: null, environment: null, keep: 0, drop: 1 },
    ]);
  });

  it('keeps the recalibration factor on back-to-back runs: no traffic decided under the new configs, nothing measured', async () => {
    for (let i = 0; i < 100; i++) plane.recorder.recordRoot({ orgId: 1, projectId: 11, transaction: '/api', decision: i % 2 ? 'drop' : 'keep' });
    clock.advance(60_000);
    await plane.runTasks();
    const factor = await plane.state.factor({ organizationId: 1 });
    expect(factor).toBeLessThan(1); // 50% kept against 20%
    for (let run = 0; run < 3; run++) {
      clock.advance(1_000);
      await plane.runTasks();
      expect(await plane.state.factor({ organizationId: 1 })).toBe(factor);
    }
  });
});

describe.each(['per-org', 'classic'] as const)('rate budget in the control plane (%s pipeline, predictive budget: the default)', (pipeline) => {
  const clock = new TestClock(Date.UTC(2026, 0, 1, 10, 0, 0));
  let plane: ControlPlane;
  beforeAll(async () => {
    plane = await startControlPlane({
      definitions: { organizations: [orgDef(1, [projectDef(11, { platform: 'node' }), projectDef(12)], { targetSampleRate: 0.2 })] },
      pipeline,
      ...manualControlOptions(clock),
    });
  });
  afterAll(async () => plane?.close());

  it('serves rules whose predicted kept share, new release boost included, is the target', async () => {
    const classes: TrafficClass[] = [
      { projectId: 11, kind: 'transaction', transaction: '/a', release: '1.0', environment: 'production', count: 700 },
      { projectId: 11, kind: 'segment', transaction: '/b', release: '1.0', environment: 'production', count: 250 },
      { projectId: 11, kind: 'transaction', transaction: '/healthz', release: '1.0', environment: 'production', count: 50 },
      { projectId: 12, kind: 'transaction', transaction: '/c', release: null, environment: 'production', count: 20 },
    ];
    for (const c of classes) {
      plane.recorder.recordRoot({ orgId: 1, projectId: c.projectId, transaction: c.transaction, kind: c.kind, release: c.release, environment: c.environment, decision: 'drop', count: c.count });
    }
    plane.recorder.observeRelease({ projectId: 11, release: '1.0', environment: 'production' });
    await plane.recorder.flush();
    clock.advance(60_000);
    await plane.runTasks();
    const served = new Map<number, SamplingRule[]>();
    for (const id of [11, 12]) {
      const response = await fetch(`${plane.url}/api/control/projects/${id}/sampling`);
      served.set(id, ((await response.json()) as { config: { rules: SamplingRule[] } }).config.rules);
    }
    expect(served.get(11)!.some((r) => r.id === 1500)).toBe(true); // the release boost is served
    expect(served.get(11)!.find((r) => r.id === 1002)!.type).toBe('trace'); // the project streams spans
    expect(served.get(11)!.some((r) => r.id === 1004)).toBe(false); // no recalibration factor on top
    const prediction = predictKept(classes, served, clock.now() + 5 * 60_000, matcher());
    expect(prediction.kept / prediction.total).toBeCloseTo(0.2, 6);
    // Without the budget the big project would get the plain model rate: it gets less, to pay for the boost.
    const base = served.get(11)!.find((r) => r.id === 1000)!.samplingValue as { value: number };
    expect(base.value).toBeLessThan((0.2 * 1020 - 20) / 1000);
    if (pipeline === 'per-org') {
      const report = plane.perOrg!.reports.get(1)!;
      expect(report.status).toBe('completed');
      expect(report.results.budget!.modelRate).toBeLessThan(0.2);
      expect(await plane.perOrg!.store.rawFactor(1)).toBeNull();
      // The classic computation it is compared with budgets too: same project rates.
      expect(report.comparisons.filter((c) => c.value.startsWith('project_rate:')).every((c) => c.outcome === 'equal')).toBe(true);
    } else {
      expect(await plane.state.rawFactor({ organizationId: 1 })).toBeNull();
    }
  });
});

describe.each(['per-org', 'classic'] as const)('fidelity run (short, %s pipeline): predictive budget with a release boost, real server over HTTP', (pipeline) => {
  const runs: Array<[string, FidelityResult]> = [];
  beforeAll(async () => {
    for (const cycleMinutes of [5, 1]) {
      runs.push([`${cycleMinutes} min`, await runFidelity({ pipeline, rateBudget: 'predictive', release: true, cycleMinutes, cycles: 4, rootsPerCycle: 1500 })]);
    }
  }, 240_000);

  it('holds the organisation within 2% of its target from cycle 2 on, runs one window apart and back to back', () => {
    for (const [, run] of runs) {
      expect(run.cycles).toHaveLength(4);
      expect(Math.abs(run.cycles[0].deviation)).toBeGreaterThan(0); // cycle 1: configs before any task run
      for (const c of run.cycles.slice(1)) expect(Math.abs(c.deviation)).toBeLessThan(0.02);
    }
  });

  it('samples streamed health checks like health-check transactions', () => {
    for (const [, run] of runs) {
      const budgeted = run.cycles.slice(1);
      const spans = Count.sum(budgeted.map((c) => c.healthSpans));
      const transactions = Count.sum(budgeted.map((c) => c.healthTransactions));
      expect(spans.sent).toBeGreaterThan(50);
      expect(Math.abs(spans.appliedRate / transactions.appliedRate - 1)).toBeLessThan(0.1);
      // Both are the health-check rate: a fifth of the big project's base rate, far below the project's kept rate.
      expect(spans.appliedRate).toBeLessThan(Count.sum(budgeted.map((c) => c.projects.get(201)!)).appliedRate / 3);
    }
  });

  it('keeps small projects and rare transactions at least at their ideal share', () => {
    for (const [, run] of runs) {
      const budgeted = run.cycles.slice(1);
      for (const [id, ideal] of run.ideal.projects) {
        if (id === 201) continue;
        expect(Count.sum(budgeted.map((c) => c.projects.get(id)!)).appliedRate).toBeGreaterThanOrEqual(ideal);
      }
      expect(Count.sum(budgeted.map((c) => c.rare)).appliedRate).toBeGreaterThanOrEqual(0.97 * run.ideal.rare);
    }
  });
});
