// The tasks of §7 against both stores (memory, and a real redis-server): the keys, TTLs and invalidations they write.

import Redis from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { startControlPlane, type ControlPlane } from '../src/control/control-plane';
import type { DefinitionsDocument } from '../src/control/definitions/types';
import { rebalanceProjects, rebalanceTransactions } from '../src/rules/models';
import { extrapolateMonthlyVolume, tierRateForVolume } from '../src/control/tasks/sliding-window-org';
import { computeAdjustedFactor } from '../src/control/tasks/recalibrate-orgs';
import { keyFor, orgDef, projectDef, sampleDefinitions, silentLogger, TestClock } from './helpers/control';
import { startRedis, type RedisServer } from './helpers/redis';

const HOUR = 3600_000;
const MINUTE = 60_000;

let redis: RedisServer;
let raw: Redis;
beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

function uniformRate(config: unknown): number {
  const rules = (config as { config: { sampling: { rules: Array<{ id: number; samplingValue: { value: number } }> } } }).config.sampling.rules;
  return rules.find((r) => r.id === 1000)!.samplingValue.value;
}

describe.each(['memory', 'redis'] as const)('classic tasks with the %s store', (kind) => {
  let clock: TestClock;
  let plane: ControlPlane;

  async function start(definitions: DefinitionsDocument = sampleDefinitions(), reservoirRules = false): Promise<ControlPlane> {
    plane = await startControlPlane({
      definitions,
      pipeline: 'classic',
      // Sentry's reference numbers: the models get the target, recalibration corrects afterwards.
      options: { rateBudget: 'feedback' },
      reservoirRules,
      redis: kind === 'redis' ? redis.url : undefined,
      schedule: 'none',
      clock: clock.now,
      monotonic: clock.monotonic,
      logger: silentLogger,
      recorderFlushIntervalMs: 0,
    });
    return plane;
  }

  beforeEach(async () => {
    clock = new TestClock(kind === 'redis' ? Date.now() : Date.UTC(2024, 4, 1, 10, 0, 0));
    if (kind === 'redis') await raw.flushdb();
    return async () => {
      await plane?.close();
    };
  });

  const ttl = (key: string): Promise<number> => plane.kv.pttl(key);
  const record = (projectId: number, transaction: string, keep: number, drop: number, at = clock.now(), orgId = 1): void => {
    if (keep) plane.recorder.recordRoot({ orgId, projectId, transaction, decision: 'keep', count: keep, at });
    if (drop) plane.recorder.recordRoot({ orgId, projectId, transaction, decision: 'drop', count: drop, at });
  };
  const scheduled = async (trigger: string): Promise<number> => {
    const metric = await plane.metrics.invalidations.get();
    return metric.values.find((v) => v.labels.trigger === trigger && v.labels.outcome === 'scheduled')?.value ?? 0;
  };

  it('boost_low_volume_projects stores rebalanced project rates (24 h) and invalidates only changed projects', async () => {
    await start();
    // A config in the cache, so that the invalidation has something to rebuild.
    await plane.configServer.handle({ publicKeys: [keyFor(101)], noCache: true });
    record(101, '/a', 100, 900);
    record(102, '/b', 30, 270);
    record(103, '/c', 50, 0, clock.now() - 30 * MINUTE);
    record(101, '/a', 0, 500, clock.now() - 2 * HOUR); // outside the hour
    await plane.recorder.flush();
    await plane.runTask('boost_low_volume_projects');

    const expected = rebalanceProjects({ classes: [101, 102, 103, 104, 105].map((id) => ({ id, count: { 101: 1000, 102: 300, 103: 50 }[id] ?? 0 })), sampleRate: 0.1 });
    const hash = await plane.kv.hgetall('ds::o:1:prioritise_projects');
    for (const item of expected) expect(Number(hash[String(item.id)])).toBeCloseTo(item.newSampleRate, 12);
    expect(Number(hash['104'])).toBe(1);
    expect(await ttl('ds::o:1:prioritise_projects')).toBeGreaterThan(24 * HOUR - 5000);
    expect(plane.invalidator.pendingCount).toBe(5);
    expect(await scheduled('dynamic_sampling_boost_low_volume_projects')).toBe(5);
    if (kind === 'redis') expect(await raw.exists('relayconfig-debounce:p:101')).toBe(1);
    expect(await ttl('relayconfig-debounce:p:101')).toBeGreaterThan(50_000);
    expect(await ttl('relayconfig-debounce:p:101')).toBeLessThanOrEqual(60_000);

    await plane.invalidator.flush();
    const rebuilt = plane.invalidator.history.filter((h) => h.rebuilt.length > 0);
    expect(rebuilt).toEqual([{ trigger: 'dynamic_sampling_boost_low_volume_projects', scope: { projectId: 101 }, rebuilt: [keyFor(101)] }]);
    const cached = JSON.parse((await plane.kv.get(`relayconfig:${keyFor(101)}`))!);
    expect(uniformRate(cached)).toBeCloseTo(Number(hash['101']), 12);
    expect(await ttl(`relayconfig:${keyFor(101)}`)).toBeGreaterThan(HOUR - 5000);
    expect(await plane.kv.exists('relayconfig-debounce:p:101')).toBe(false);

    // Same volumes: the same rates, so nothing is invalidated.
    await plane.runTask('boost_low_volume_projects');
    expect(await scheduled('dynamic_sampling_boost_low_volume_projects')).toBe(5);
    expect(plane.invalidator.pendingCount).toBe(0);
  });

  it('boost_low_volume_projects balances the active projects only: counts of disabled or removed projects are left out', async () => {
    const definitions = sampleDefinitions();
    definitions.organizations[0].projects[4].disabled = true; // 105
    await start(definitions);
    record(101, '/a', 100, 900);
    record(102, '/b', 30, 270);
    record(105, '/c', 500, 4500); // disabled
    record(999, '/d', 800, 7200); // no longer in the definitions
    await plane.recorder.flush();
    await plane.runTask('boost_low_volume_projects');
    const expected = rebalanceProjects({ classes: [101, 102, 103, 104].map((id) => ({ id, count: { 101: 1000, 102: 300 }[id] ?? 0 })), sampleRate: 0.1 });
    const hash = await plane.kv.hgetall('ds::o:1:prioritise_projects');
    expect(Object.keys(hash).sort()).toEqual(['101', '102', '103', '104']);
    for (const item of expected) expect(Number(hash[String(item.id)])).toBeCloseTo(item.newSampleRate, 12);
  });

  it('scheduling an invalidation needs exactly one scope', async () => {
    await start();
    await expect(plane.invalidator.schedule('t', {} as never)).rejects.toThrow(TypeError);
    await expect(plane.invalidator.schedule('t', { projectId: 101, organizationId: 1 } as never)).rejects.toThrow(/exactly one/);
    expect(plane.invalidator.pendingCount).toBe(0);
  });

  it('boost_low_volume_transactions stores per-transaction rates (24 h) and always invalidates', async () => {
    await start();
    for (let i = 0; i < 40; i++) record(101, `/t${i}`, 0, i === 0 ? 5000 : 10 + i);
    await plane.recorder.flush();
    await plane.runTask('boost_low_volume_projects');
    await plane.invalidator.flush();
    const projectRate = Number(await plane.kv.hget('ds::o:1:prioritise_projects', '101'));
    expect(projectRate).toBeLessThan(1);

    await plane.runTask('boost_low_volume_transactions');
    const stored = await plane.state.transactionRates(1, 101);
    const volumes = new Map(Array.from({ length: 40 }, (_, i) => [`/t${i}`, i === 0 ? 5000 : 10 + i] as const));
    const largest = [...volumes].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([id, count]) => ({ id, count }));
    const model = rebalanceTransactions({ classes: largest, sampleRate: projectRate, total: [...volumes.values()].reduce((a, b) => a + b), totalNumClasses: 40, intensity: 0.8 });
    expect(stored!.named).toEqual(model.explicit.map((e) => [e.id, e.newSampleRate]));
    expect(stored!.implicit).toBeCloseTo(model.implicitRate, 12);
    expect(await ttl('ds::o:1:p:101:pri_tran')).toBeGreaterThan(24 * HOUR - 5000);
    expect(await scheduled('dynamic_sampling_boost_low_volume_transactions')).toBe(1);
    await plane.invalidator.flush();
    await plane.runTask('boost_low_volume_transactions');
    expect(await scheduled('dynamic_sampling_boost_low_volume_transactions')).toBe(2);

    // The generated config turns the stored rates into factor rules 1400+.
    const answer = await plane.configServer.handle({ publicKeys: [keyFor(101)], noCache: true });
    const rules = (answer.configs[keyFor(101)] as { config: { sampling: { rules: Array<{ id: number }> } } }).config.sampling.rules;
    expect(rules.filter((r) => r.id >= 1400 && r.id < 1500).length).toBeGreaterThan(20);
  });

  it('recalibrate_orgs multiplies the factor by target/effective, deletes 1.0 and out-of-range factors', async () => {
    await start();
    record(101, '/a', 200, 800);
    await plane.recorder.flush();
    clock.advance(MINUTE);
    await plane.runTask('recalibrate_orgs');
    expect(await plane.kv.get('ds::o:1:rate_rebalance_factor2')).toBe('0.5');
    const factorTtl = await ttl('ds::o:1:rate_rebalance_factor2');
    expect(factorTtl).toBeGreaterThan(20 * MINUTE - 5000);
    expect(factorTtl).toBeLessThanOrEqual(20 * MINUTE);
    // A run right after: no traffic was decided under the new factor, so nothing is measured (the
    // reference reads the same 5 minutes again and halves the factor once more).
    await plane.runTask('recalibrate_orgs');
    expect(await plane.kv.get('ds::o:1:rate_rebalance_factor2')).toBe('0.5');
    // 5% kept with the factor at 0.5: back to 1.0, deleted.
    clock.advance(10 * MINUTE);
    record(101, '/a', 50, 950);
    await plane.recorder.flush();
    await plane.runTask('recalibrate_orgs');
    expect(await plane.kv.exists('ds::o:1:rate_rebalance_factor2')).toBe(false);
    // Almost nothing kept: 1.0 × 0.1 / 0.001 = 100 is out of [0.1, 10]: reset (deleted).
    await plane.state.setFactor({ organizationId: 1 }, 0.5);
    clock.advance(10 * MINUTE);
    record(101, '/a', 1, 999);
    await plane.recorder.flush();
    await plane.runTask('recalibrate_orgs');
    expect(await plane.kv.exists('ds::o:1:rate_rebalance_factor2')).toBe(false);
    expect(computeAdjustedFactor(0, 0.5, 0.1)).toBeNull();
    expect(computeAdjustedFactor(1, 0, 0.1)).toBeNull();
  });

  it('recalibrates each project of a project-mode organisation against its own target', async () => {
    await start({
      organizations: [
        orgDef(2, [projectDef(201, { targetSampleRate: 0.5 }), projectDef(202, { targetSampleRate: 0.2 })], { samplingMode: 'project', targetSampleRate: 0.1 }),
      ],
    });
    record(201, '/a', 250, 250, clock.now(), 2); // 50% kept: on target
    record(202, '/a', 100, 300, clock.now(), 2); // 25% kept: factor 0.8
    await plane.recorder.flush();
    await plane.runTask('recalibrate_orgs');
    expect(await plane.kv.exists('ds::p:201:rate_rebalance_factor2')).toBe(false);
    expect(Number(await plane.kv.get('ds::p:202:rate_rebalance_factor2'))).toBeCloseTo(0.8, 12);
    expect(await plane.kv.exists('ds::o:2:rate_rebalance_factor2')).toBe(false);
    // Project mode: no project rebalancing.
    await plane.runTask('boost_low_volume_projects');
    expect(await plane.kv.hgetall('ds::o:2:prioritise_projects')).toEqual({});
  });

  it('sliding_window_org stores the plan tier of the extrapolated volume (24 h) and marks the run (1 h)', async () => {
    const tiers = [
      { maxVolume: 1_000_000, sampleRate: 0.5 },
      { maxVolume: 10_000_000, sampleRate: 0.2 },
      { maxVolume: 100_000_000, sampleRate: 0.05 },
    ];
    await start({
      organizations: [orgDef(3, [projectDef(301), projectDef(302)], { blendedSampleRate: 0.3, samplingTiers: tiers }), orgDef(4, [projectDef(401)], { blendedSampleRate: 0.3 })],
    });
    record(301, '/a', 30_000, 50_000, clock.now(), 3);
    record(302, '/a', 0, 20_000, clock.now() - 5 * HOUR, 3);
    record(401, '/a', 10, 10, clock.now(), 4);
    await plane.recorder.flush();
    await plane.runTask('sliding_window_org');
    const monthly = extrapolateMonthlyVolume(100_000, 24, clock.now())!;
    expect(monthly).toBeGreaterThan(1_000_000);
    expect(Number(await plane.kv.get('ds::o:3:sliding_window_org_sample_rate'))).toBe(tierRateForVolume(tiers, monthly));
    expect(Number(await plane.kv.get('ds::o:3:sliding_window_org_sample_rate'))).toBe(0.2);
    expect(await ttl('ds::o:3:sliding_window_org_sample_rate')).toBeGreaterThan(24 * HOUR - 5000);
    expect(await plane.kv.exists('ds::o:4:sliding_window_org_sample_rate')).toBe(false); // no tiers: unchanged
    expect(await plane.kv.get('ds::sliding_window_org_executed')).toBe('1');
    expect(await ttl('ds::sliding_window_org_executed')).toBeGreaterThan(HOUR - 5000);

    // The sliding-window rate is the organisation's rate for project rebalancing.
    await plane.runTask('boost_low_volume_projects');
    const rates = await plane.kv.hgetall('ds::o:3:prioritise_projects');
    expect(Number(rates['301'])).toBeCloseTo(0.2, 12);
    expect(Number(rates['302'])).toBe(1); // no traffic in the last hour
  });

  it('clean_custom_rule_notifications deactivates rules that ended over a minute ago', async () => {
    await start(sampleDefinitions(), true);
    const now = clock.now();
    const condition = { op: 'eq' as const, name: 'event.transaction', value: ['/x'] };
    const live = await plane.definitions.upsertCustomRule(1, { condition, projects: [102], start: now, end: now + HOUR, numSamples: 10, sampleRate: 1 }, now);
    const ended = await plane.definitions.upsertCustomRule(1, { condition, projects: [101], start: now - 2 * HOUR, end: now - 2 * MINUTE, numSamples: 10, sampleRate: 1 }, now - 2 * HOUR);
    expect([live.rule.ruleId, ended.rule.ruleId]).toEqual([1, 2]);
    await plane.runTask('clean_custom_rule_notifications');
    const rules = plane.definitions.organization(1)!.customRules!;
    expect(rules.find((r) => r.ruleId === ended.rule.ruleId)!.isActive).toBe(false);
    expect(rules.find((r) => r.ruleId === live.rule.ruleId)!.isActive).toBe(true);
  });

  it('custom_rule_notifications notifies once a rule collected 10 samples; the cleanup deactivates it after its end', async () => {
    await start(sampleDefinitions(), true);
    const now = clock.now();
    const condition = { op: 'eq' as const, name: 'event.transaction', value: ['/x'] };
    const { rule } = await plane.definitions.upsertCustomRule(1, { condition, projects: [101], start: now - MINUTE, end: now + HOUR, numSamples: 100, sampleRate: 1, createdBy: 'ann' }, now - MINUTE);
    const notified: Array<{ ruleId: number; samples: number }> = [];
    plane.onCustomRuleNotification((n) => notified.push({ ruleId: n.rule.ruleId, samples: n.samples }));
    // Kept items whose decision matched the rule (3001), and one that matched another rule only.
    for (let i = 0; i < 9; i++) await plane.customRuleSamples!.observe(101, [3000 + rule.ruleId, 1000], now);
    await plane.customRuleSamples!.observe(101, [1000], now);
    await plane.runTask('custom_rule_notifications');
    expect(notified).toEqual([]);
    await plane.customRuleSamples!.observe(101, [3000 + rule.ruleId], now);
    await plane.runTask('custom_rule_notifications');
    expect(notified).toEqual([{ ruleId: rule.ruleId, samples: 10 }]);
    expect(plane.definitions.organization(1)!.customRules![0].notificationSent).toBe(true);
    await plane.runTask('custom_rule_notifications');
    expect(notified).toHaveLength(1);
    clock.advance(HOUR + 2 * MINUTE);
    await plane.runTask('clean_custom_rule_notifications');
    expect(plane.definitions.organization(1)!.customRules![0].isActive).toBe(false);
  });

  it('has no custom-rule tasks or samples without reservoir rules', async () => {
    await start();
    expect(plane.customRuleSamples).toBeNull();
    await expect(plane.runTask('custom_rule_notifications')).rejects.toThrow(/unknown task/);
  });

  it('debounces invalidations within enclosing scopes until they run', async () => {
    await start();
    const inv = plane.invalidator;
    expect(await inv.schedule('t', { projectId: 101 })).toBe(true);
    expect(await inv.schedule('t', { projectId: 101 })).toBe(false);
    expect(await inv.schedule('t', { publicKey: keyFor(101, 1) })).toBe(false); // its project is scheduled
    expect(await inv.schedule('t', { projectId: 102 })).toBe(true);
    expect(await inv.schedule('t', { organizationId: 1 })).toBe(true);
    expect(await inv.schedule('t', { projectId: 103 })).toBe(false); // its organisation is scheduled
    await inv.flush();
    expect(await inv.schedule('t', { projectId: 103 })).toBe(true);
  });
});
