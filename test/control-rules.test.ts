// Rule generation: every bias on its own, the gates, the fixed order and whole projects, against the spec's values.

import { describe, expect, it } from 'vitest';

import { resolveBaseSampleRate } from '../src/rules/base-rate';
import {
  boostEnvironmentsRules,
  boostLatestReleasesRules,
  boostLowVolumeProjectsRules,
  boostLowVolumeTransactionsRules,
  boostReplayIdRules,
  customRules,
  ignoreHealthChecksRules,
  latestReleaseBoostFactor,
  minimumSampleRateRules,
  recalibrationRules,
} from '../src/rules/biases';
import { validateRuleCondition } from '../src/rules/condition';
import {
  DEFAULT_BIASES,
  ENVIRONMENT_GLOBS,
  HEALTH_CHECK_GLOBS,
  HEALTH_CHECK_GLOBS_2024,
  LATEST_RELEASE_TTAS,
  timeToAdoption,
} from '../src/rules/constants';
import { BiasGenerationError, InvalidCustomRuleError, InvalidProjectInputError } from '../src/control/errors';
import { generateRulesDetailed, generateSamplingConfig, getEnabledBiases, relayBiasOrder } from '../src/rules/generate';
import { formatUtcMicros, formatUtcSeconds, toEpochMicros, unixSecondsToEpochMicros } from '../src/rules/time';
import type { CustomRuleInput, ProjectDescription, SamplingConfig, SamplingRule } from '../src/rules/types';

const NOW = '2022-10-21T18:50:25Z';
const NOW_SECONDS = Date.parse(NOW) / 1000;
const NOW_MICROS = toEpochMicros(NOW);
const OLD = '2022-01-01T00:00:00Z';

const ALL_TOGGLES = [
  'boostEnvironments',
  'boostLatestRelease',
  'ignoreHealthChecks',
  'boostKeyTransactions',
  'boostLowVolumeTransactions',
  'boostReplayId',
  'recalibrationRule',
  'minimumSampleRate',
];

/** The project option with only the given biases active. */
function only(...active: string[]): Array<{ id: string; active: boolean }> {
  return ALL_TOGGLES.map((id) => ({ id, active: active.includes(id) }));
}

function project(overrides: Partial<ProjectDescription> = {}): ProjectDescription {
  return {
    projectId: 42,
    organizationId: 7,
    platform: 'python',
    dateAdded: OLD,
    organizationDateAdded: OLD,
    blendedSampleRate: 0.1,
    now: NOW,
    ...overrides,
  };
}

const ids = (config: SamplingConfig): number[] => config.rules.map((r) => r.id);
const uniform = (value: number): SamplingRule => ({
  id: 1000,
  type: 'trace',
  condition: { op: 'and', inner: [] },
  samplingValue: { type: 'sampleRate', value },
});

// ---------------------------------------------------------------------------
// Single biases
// ---------------------------------------------------------------------------

describe('bias: boost low-volume projects (uniform, 1000)', () => {
  it('is the base rate with the always-true condition', () => {
    expect(boostLowVolumeProjectsRules(0.25)).toEqual([uniform(0.25)]);
  });
});

describe('bias: ignore health checks (1002)', () => {
  it('samples health checks at base / 5 on the event transaction', () => {
    expect(ignoreHealthChecksRules(0.1)).toEqual([
      {
        id: 1002,
        type: 'transaction',
        condition: { op: 'or', inner: [{ op: 'glob', name: 'event.transaction', value: [...HEALTH_CHECK_GLOBS] }] },
        samplingValue: { type: 'sampleRate', value: 0.02 },
      },
    ]);
  });

  it('base 1.0 gives 0.2', () => {
    expect(ignoreHealthChecksRules(1.0)[0].samplingValue).toEqual({ type: 'sampleRate', value: 0.2 });
  });

  it('the trace-based variant matches trace.transaction in a trace rule', () => {
    const [rule] = ignoreHealthChecksRules(0.5, { traceBased: true });
    expect(rule.type).toBe('trace');
    expect(rule.condition).toEqual({ op: 'or', inner: [{ op: 'glob', name: 'trace.transaction', value: [...HEALTH_CHECK_GLOBS] }] });
    expect(rule.samplingValue).toEqual({ type: 'sampleRate', value: 0.1 });
  });

  it('uses the newest glob list by default and accepts an older one', () => {
    expect(HEALTH_CHECK_GLOBS).toContain('*/health{/,}');
    expect(HEALTH_CHECK_GLOBS).toContain(String.raw`*/\[_health\]{/,}`);
    expect(HEALTH_CHECK_GLOBS.slice(0, 2)).toEqual(['*healthcheck*', '*heartbeat*']);
    expect(HEALTH_CHECK_GLOBS).toHaveLength(14);
    const [rule] = ignoreHealthChecksRules(0.5, { globs: HEALTH_CHECK_GLOBS_2024 });
    expect((rule.condition as { inner: Array<{ value: string[] }> }).inner[0].value).toEqual([...HEALTH_CHECK_GLOBS_2024]);
  });
});

describe('bias: boost replay id (1005)', () => {
  it('keeps traces with a replay id at 100%', () => {
    expect(boostReplayIdRules()).toEqual([
      {
        id: 1005,
        type: 'trace',
        condition: { op: 'not', inner: { op: 'eq', name: 'trace.replay_id', value: null, options: { ignoreCase: true } } },
        samplingValue: { type: 'sampleRate', value: 1.0 },
      },
    ]);
  });
});

describe('bias: boost environments (1001)', () => {
  it('keeps dev/test environments at 100%', () => {
    expect(ENVIRONMENT_GLOBS).toEqual(['*debug*', '*dev*', '*local*', '*qa*', '*test*']);
    expect(boostEnvironmentsRules()).toEqual([
      {
        id: 1001,
        type: 'trace',
        condition: { op: 'or', inner: [{ op: 'glob', name: 'trace.environment', value: [...ENVIRONMENT_GLOBS] }] },
        samplingValue: { type: 'sampleRate', value: 1.0 },
      },
    ]);
  });
});

describe('bias: recalibration (1004)', () => {
  it('emits the stored factor', () => {
    expect(recalibrationRules(0.5)).toEqual([
      { id: 1004, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'factor', value: 0.5 } },
    ]);
    expect(recalibrationRules('2.5')[0].samplingValue).toEqual({ type: 'factor', value: 2.5 });
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['1.0', 1.0],
    ['"1"', '1'],
    ['unparsable', 'not-a-number'],
  ])('gives no rule when the factor is %s', (_name, stored) => {
    expect(recalibrationRules(stored as number | string | null | undefined)).toEqual([]);
  });
});

describe('bias: boost latest releases (1500..1509)', () => {
  it('factor is 1.5 ** (1 - base)', () => {
    expect(latestReleaseBoostFactor(0)).toBe(1.5);
    expect(latestReleaseBoostFactor(1)).toBe(1);
    expect(latestReleaseBoostFactor(0.1)).toBe(1.5 ** 0.9);
  });

  it('builds one decaying rule per release with the platform time to adoption', () => {
    const rules = boostLatestReleasesRules(
      0.1,
      [
        { version: '1.0', environment: 'prod', timestamp: NOW_SECONDS },
        { version: '1.0', environment: 'dev', timestamp: NOW_SECONDS },
        { version: '1.0', environment: null, timestamp: NOW_SECONDS },
      ],
      'python',
      NOW_MICROS,
    );
    expect(rules.map((r) => r.id)).toEqual([1500, 1501, 1502]);
    expect(rules[0]).toEqual({
      id: 1500,
      type: 'trace',
      condition: {
        op: 'and',
        inner: [
          { op: 'eq', name: 'trace.release', value: ['1.0'] },
          { op: 'eq', name: 'trace.environment', value: 'prod' },
        ],
      },
      samplingValue: { type: 'factor', value: 1.5 ** 0.9 },
      // python: 4358 s
      timeRange: { start: '2022-10-21T18:50:25Z', end: '2022-10-21T20:03:03Z' },
      decayingFn: { type: 'linear', decayedValue: 1.0 },
    });
    expect((rules[2].condition as { inner: unknown[] }).inner[1]).toEqual({ op: 'eq', name: 'trace.environment', value: null });
  });

  it.each([
    [null, '2022-10-21T19:50:25Z'],
    ['unknown-platform', '2022-10-21T19:50:25Z'],
    ['javascript', '2022-10-21T21:54:20Z'],
    ['android', '2022-10-22T06:59:32Z'],
  ])('platform %s ends the boost at %s', (platform, end) => {
    const [rule] = boostLatestReleasesRules(0.5, [{ version: '2.0', environment: null, timestamp: NOW_SECONDS }], platform, NOW_MICROS);
    expect(rule.timeRange).toEqual({ start: NOW, end });
  });

  it('the time-to-adoption table has the spec values and a 1 h default', () => {
    expect(LATEST_RELEASE_TTAS.python).toBe(4358);
    expect(LATEST_RELEASE_TTAS.javascript).toBe(11035);
    expect(LATEST_RELEASE_TTAS.android).toBe(43747);
    expect(LATEST_RELEASE_TTAS.java).toBe(12291);
    expect(LATEST_RELEASE_TTAS.node).toBe(4072);
    expect(timeToAdoption(undefined)).toBe(3600);
    expect(timeToAdoption('')).toBe(3600);
    expect(timeToAdoption('toString')).toBe(3600);
  });

  it('drops fractional seconds from the boost timestamp', () => {
    const [rule] = boostLatestReleasesRules(0.5, [{ version: 'v', environment: null, timestamp: NOW_SECONDS + 0.75 }], null, NOW_MICROS);
    expect(rule.timeRange).toEqual({ start: '2022-10-21T18:50:25Z', end: '2022-10-21T19:50:25Z' });
  });

  it('skips expired releases and numbers the rest contiguously', () => {
    const rules = boostLatestReleasesRules(
      0.5,
      [
        { version: 'old', environment: null, timestamp: NOW_SECONDS - 3601 },
        { version: 'edge', environment: null, timestamp: NOW_SECONDS - 3600 },
        { version: 'new', environment: null, timestamp: NOW_SECONDS - 10 },
      ],
      null,
      NOW_MICROS,
    );
    expect(rules.map((r) => [r.id, (r.condition as { inner: Array<{ value: unknown }> }).inner[0].value])).toEqual([
      [1500, ['edge']],
      [1501, ['new']],
    ]);
  });

  it('never emits more than 10 releases', () => {
    const releases = Array.from({ length: 12 }, (_, i) => ({ version: `v${i}`, environment: null, timestamp: NOW_SECONDS }));
    const rules = boostLatestReleasesRules(0.5, releases, null, NOW_MICROS);
    expect(rules.map((r) => r.id)).toEqual([1500, 1501, 1502, 1503, 1504, 1505, 1506, 1507, 1508, 1509]);
  });

  it('no releases, no rules', () => {
    expect(boostLatestReleasesRules(0.0, [], 'python', NOW_MICROS)).toEqual([]);
  });
});

describe('bias: boost low-volume transactions (1400..1499)', () => {
  const txRule = (id: number, name: string, value: number): SamplingRule => ({
    id,
    type: 'trace',
    condition: { op: 'or', inner: [{ op: 'eq', name: 'trace.transaction', value: [name], options: { ignoreCase: true } }] },
    samplingValue: { type: 'factor', value },
  });
  const implicitRule = (id: number, value: number): SamplingRule => ({
    id,
    type: 'trace',
    condition: { op: 'and', inner: [] },
    samplingValue: { type: 'factor', value },
  });

  it('emits relative factors: (rate/base)/(implicit/base) per name, then implicit/base', () => {
    const base = 0.2;
    const implicitFactor = 0.01 / base;
    expect(boostLowVolumeTransactionsRules(base, { named: { t1: 0.1, t2: 0.2 }, implicit: 0.01 })).toEqual([
      txRule(1400, 't1', 0.1 / base / implicitFactor),
      txRule(1401, 't2', 0.2 / base / implicitFactor),
      implicitRule(1402, implicitFactor),
    ]);
  });

  it("Sentry's end-to-end values: base 0.1, t1 0.7, implicit 0.037", () => {
    const implicit = 0.037 / 0.1;
    expect(boostLowVolumeTransactionsRules(0.1, { named: [['t1', 0.7]], implicit: 0.037 })).toEqual([
      txRule(1400, 't1', 0.7 / 0.1 / implicit),
      implicitRule(1401, implicit),
    ]);
  });

  it('Relay yields the stored rate per name and the implicit rate for the rest', () => {
    const base = 0.3;
    const named: Array<[string, number]> = [
      ['a', 0.9],
      ['b', 0.05],
    ];
    const rules = boostLowVolumeTransactionsRules(base, { named, implicit: 0.12 });
    const implicitFactor = rules[rules.length - 1].samplingValue as { value: number };
    for (const [i, [, rate]] of named.entries()) {
      const f = (rules[i].samplingValue as { value: number }).value;
      expect(f * implicitFactor.value * base).toBeCloseTo(rate, 12);
    }
    expect(implicitFactor.value * base).toBeCloseTo(0.12, 12);
  });

  it('skips factors of exactly 1.0; ids count emitted rules only', () => {
    const rules = boostLowVolumeTransactionsRules(0.5, { named: [['same', 0.25], ['other', 0.5]], implicit: 0.25 });
    expect(rules).toEqual([txRule(1400, 'other', 0.5 / 0.5 / (0.25 / 0.5)), implicitRule(1401, 0.5)]);
  });

  it('no implicit rule when implicit equals the base rate', () => {
    expect(boostLowVolumeTransactionsRules(0.5, { named: [['t', 0.25]], implicit: 0.5 })).toEqual([txRule(1400, 't', 0.5)]);
  });

  it('an implicit rate of 0 counts as 1.0', () => {
    const rules = boostLowVolumeTransactionsRules(0.5, { named: [['t', 0.25]], implicit: 0 });
    expect(rules).toEqual([txRule(1400, 't', 0.25 / 0.5 / 2), implicitRule(1401, 2)]);
  });

  it('keeps the stored order of named transactions', () => {
    const rules = boostLowVolumeTransactionsRules(0.5, { named: [['z', 0.1], ['a', 0.2], ['m', 0.3]], implicit: 0.4 });
    expect(rules.map((r) => (r.condition as { inner: Array<{ value: string[] }> }).inner[0]?.value)).toEqual([['z'], ['a'], ['m'], undefined]);
  });

  it('no stored rates, no named rates, or a 0 base rate give no rules', () => {
    expect(boostLowVolumeTransactionsRules(0.2, null)).toEqual([]);
    expect(boostLowVolumeTransactionsRules(0.2, { named: {}, implicit: 0.2 })).toEqual([]);
    expect(boostLowVolumeTransactionsRules(0, { named: { t: 0.5 }, implicit: 0.1 })).toEqual([]);
  });
});

describe('bias: minimum sample rate (1600)', () => {
  it.each([0.01, 0.05, 0.1, 0.5, 1.0])('floors at the base rate %s with the empty condition', (base) => {
    expect(minimumSampleRateRules(base, true)).toEqual([
      { id: 1600, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'minimumSampleRate', value: base } },
    ]);
  });

  it('needs the project option', () => {
    expect(minimumSampleRateRules(0.5, false)).toEqual([]);
  });
});

describe('bias: custom rules (3000 + rule id)', () => {
  const rule = (overrides: Partial<CustomRuleInput> = {}): CustomRuleInput => ({
    ruleId: 1,
    condition: { op: 'eq', name: 'event.environment', value: 'prod1' },
    numSamples: 100,
    startDate: '2022-10-21T17:50:25.123456Z',
    endDate: '2022-10-21T19:50:25Z',
    ...overrides,
  });

  it('builds a transaction reservoir rule with microsecond time range', () => {
    expect(customRules([rule()], NOW_MICROS)).toEqual([
      {
        id: 3001,
        type: 'transaction',
        condition: { op: 'eq', name: 'event.environment', value: 'prod1' },
        samplingValue: { type: 'reservoir', limit: 100 },
        timeRange: { start: '2022-10-21T17:50:25.123456Z', end: '2022-10-21T19:50:25.000000Z' },
      },
    ]);
  });

  it('parses stored JSON conditions and keeps input order', () => {
    const rules = customRules(
      [
        rule({ ruleId: 7, condition: '{"op":"glob","name":"event.transaction","value":["/api/*"]}' }),
        rule({ ruleId: 2000 }),
      ],
      NOW_MICROS,
    );
    expect(rules.map((r) => r.id)).toEqual([3007, 5000]);
    expect(rules[0].condition).toEqual({ op: 'glob', name: 'event.transaction', value: ['/api/*'] });
  });

  it('only rules active at now (start < now < end, strict) and not deactivated', () => {
    const rules = customRules(
      [
        rule({ ruleId: 1, startDate: NOW }),
        rule({ ruleId: 2, endDate: NOW }),
        rule({ ruleId: 3, isActive: false }),
        rule({ ruleId: 4, startDate: '2022-10-22T00:00:00Z', endDate: '2022-10-23T00:00:00Z' }),
        rule({ ruleId: 5 }),
      ],
      NOW_MICROS,
    );
    expect(rules.map((r) => r.id)).toEqual([3005]);
  });

  it('drops invalid rules and reports them', () => {
    const dropped: InvalidCustomRuleError[] = [];
    const rules = customRules(
      [
        rule({ ruleId: 1, condition: '{not json' }),
        rule({ ruleId: 2, condition: { op: 'regex', name: 'event.transaction', value: 'x' } as never }),
        rule({ ruleId: 3, condition: { op: 'glob', name: 'event.transaction', value: 'not-a-list' } as never }),
        rule({ ruleId: 0 }),
        rule({ ruleId: 2001 }),
        rule({ ruleId: 4, numSamples: -1 }),
        rule({ ruleId: 5, startDate: 'yesterday' }),
        rule({ ruleId: 6 }),
      ],
      NOW_MICROS,
      { onDropped: (e) => dropped.push(e) },
    );
    expect(rules.map((r) => r.id)).toEqual([3006]);
    expect(dropped.map((e) => e.ruleId).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 2001]);
    expect(dropped.every((e) => e instanceof InvalidCustomRuleError)).toBe(true);
  });

  it('applies at most 50 rules', () => {
    const many = Array.from({ length: 60 }, (_, i) => rule({ ruleId: i + 1 }));
    const rules = customRules(many, NOW_MICROS);
    expect(rules).toHaveLength(50);
    expect(rules[49].id).toBe(3050);
  });

  it('accepts an injected condition validator', () => {
    const rules = customRules([rule({ ruleId: 1 }), rule({ ruleId: 2 })], NOW_MICROS, {
      validateCondition: () => 'rejected by relay',
    });
    expect(rules).toEqual([]);
  });
});

describe('condition validation', () => {
  it.each([
    [{ op: 'and', inner: [] }, true],
    [{ op: 'not', inner: { op: 'eq', name: 'trace.replay_id', value: null } }, true],
    [{ op: 'gte', name: 'event.duration', value: 10 }, true],
    [{ op: 'any', name: 'event.spans', inner: { op: 'eq', name: 'op', value: 'db' } }, true],
    [{ op: 'cidr', name: 'event.user.ip_address', value: ['10.0.0.0/8', '::1'] }, true],
    [{ op: 'cidr', name: 'event.user.ip_address', value: ['10.0.0.0/33'] }, false],
    [{ op: 'eq', name: 'x', value: 'y', options: { ignoreCase: 'yes' } }, false],
    [{ op: 'or', inner: [{ op: 'nope' }] }, false],
    [{ op: 'gt', name: 'x', value: null }, false],
    [{}, false],
    [[], false],
  ])('%j supported: %s', (condition, ok) => {
    expect(validateRuleCondition(condition) === null).toBe(ok);
  });
});

// ---------------------------------------------------------------------------
// Base sample rate
// ---------------------------------------------------------------------------

describe('base sample rate', () => {
  it('uses the rebalanced project rate for old projects', () => {
    expect(resolveBaseSampleRate(project({ state: { rebalancedProjectRate: '0.25' } }))).toEqual({ rate: 0.25, source: 'rebalanced' });
    expect(resolveBaseSampleRate(project({ state: { rebalancedProjectRate: 0.3 } }))).toEqual({ rate: 0.3, source: 'rebalanced' });
  });

  it('missing stored rate: 1.0 when the sliding window ran, else the fallback', () => {
    expect(resolveBaseSampleRate(project({ state: { slidingWindowOrgExecuted: true } }))).toEqual({ rate: 1.0, source: 'noTraffic' });
    expect(resolveBaseSampleRate(project())).toEqual({ rate: 0.1, source: 'fallback' });
  });

  it('unparsable stored rate falls back even after the sliding window ran', () => {
    expect(
      resolveBaseSampleRate(project({ state: { rebalancedProjectRate: 'garbage', slidingWindowOrgExecuted: true } })),
    ).toEqual({ rate: 0.1, source: 'fallback' });
  });

  it('a 100% or missing blended rate is 1.0 before anything else', () => {
    expect(resolveBaseSampleRate(project({ blendedSampleRate: 1.0, state: { rebalancedProjectRate: 0.2 } }))).toEqual({
      rate: 1.0,
      source: 'fullRate',
    });
    expect(resolveBaseSampleRate(project({ blendedSampleRate: null }))).toEqual({ rate: 1.0, source: 'fullRate' });
  });

  it.each([
    ['project created 5 min ago', { dateAdded: '2022-10-21T18:45:25Z' }, 1.0],
    ['project created exactly 10 min ago', { dateAdded: '2022-10-21T18:40:25Z' }, 1.0],
    ['project created 10 min 1 s ago', { dateAdded: '2022-10-21T18:40:24Z' }, 0.25],
    ['organisation created 9 min ago', { organizationDateAdded: '2022-10-21T18:41:25Z' }, 1.0],
  ])('%s', (_name, overrides, rate) => {
    expect(resolveBaseSampleRate(project({ ...overrides, state: { rebalancedProjectRate: 0.25 } })).rate).toBe(rate);
  });

  it('custom dynamic sampling uses the org target rate instead of the blended rate', () => {
    const p = project({ features: { dynamicSamplingCustom: true }, organizationTargetSampleRate: 0.4, blendedSampleRate: 0.1 });
    expect(resolveBaseSampleRate(p)).toEqual({ rate: 0.4, source: 'fallback' });
    expect(resolveBaseSampleRate({ ...p, organizationTargetSampleRate: null }).rate).toBe(1.0);
  });

  it('project mode returns the project target rate and nothing else', () => {
    const p = project({
      features: { dynamicSamplingCustom: true },
      samplingMode: 'project',
      projectTargetSampleRate: 0.2,
      dateAdded: NOW,
      state: { rebalancedProjectRate: 0.9 },
    });
    expect(resolveBaseSampleRate(p)).toEqual({ rate: 0.2, source: 'projectTarget' });
    expect(resolveBaseSampleRate({ ...p, projectTargetSampleRate: undefined }).rate).toBe(1.0);
    // Without the feature the sampling mode option is ignored.
    expect(resolveBaseSampleRate({ ...p, features: {} }).source).toBe('newModel');
  });

  it('rejects unusable inputs with a typed error', () => {
    expect(() => resolveBaseSampleRate(project({ blendedSampleRate: Number.NaN }))).toThrow(InvalidProjectInputError);
    expect(() => resolveBaseSampleRate(project({ dateAdded: 'not a date' }))).toThrow(/dateAdded/);
  });
});

// ---------------------------------------------------------------------------
// Enabled biases and order
// ---------------------------------------------------------------------------

describe('enabled biases', () => {
  it('defaults to every default bias', () => {
    // The seven toggles, plus the minimum sample rate (it has its own project option).
    expect(DEFAULT_BIASES.length).toBe(7);
    expect([...getEnabledBiases(null)].sort()).toEqual([...DEFAULT_BIASES.map((b) => b.id), 'minimumSampleRate'].sort());
    expect([...getEnabledBiases(undefined)].sort()).toEqual([...DEFAULT_BIASES.map((b) => b.id), 'minimumSampleRate'].sort());
  });

  it('merges the option by id; missing ids keep their default; unknown ids are ignored', () => {
    const enabled = getEnabledBiases([
      { id: 'boostEnvironments', active: false },
      { id: 'somethingElse', active: true },
      { id: 'uniformRule', active: false },
    ]);
    expect(enabled.has('boostEnvironments')).toBe(false);
    expect(enabled.has('ignoreHealthChecks')).toBe(true);
    expect(enabled.has('somethingElse')).toBe(false);
  });

  it('has the fixed order, minimum sample rate only with its feature', () => {
    expect(relayBiasOrder()).toEqual([
      'customRule',
      'ignoreHealthChecks',
      'boostReplayId',
      'boostEnvironments',
      'recalibrationRule',
      'boostLatestRelease',
      'boostLowVolumeTransactions',
      'uniformRule',
    ]);
    expect(relayBiasOrder({ minimumSampleRate: true }).slice(-2)).toEqual(['minimumSampleRate', 'uniformRule']);
  });
});

// ---------------------------------------------------------------------------
// Whole projects
// ---------------------------------------------------------------------------

const customRule: CustomRuleInput = {
  ruleId: 1,
  condition: { op: 'eq', name: 'event.environment', value: 'prod1' },
  numSamples: 100,
  startDate: '2022-10-21T17:50:25Z',
  endDate: '2022-10-21T19:50:25Z',
};

/** A project with state for every bias. */
function busyProject(overrides: Partial<ProjectDescription> = {}): ProjectDescription {
  return project({
    features: { minimumSampleRate: true },
    minimumSampleRateEnabled: true,
    customRules: [customRule],
    state: {
      rebalancedProjectRate: 0.25,
      organizationRecalibrationFactor: 0.5,
      boostedReleases: [{ version: '1.0', environment: 'prod', timestamp: NOW_SECONDS }],
      transactionRates: { named: [['/slow', 0.9]], implicit: 0.2 },
    },
    ...overrides,
  });
}

/** Custom rules are reservoir rules: generated only with the reservoir switch on. */
const RESERVOIR = { reservoir: true } as const;

describe('whole projects', () => {
  it('emits every bias in the fixed order at a base rate inside (0, 1)', () => {
    const config = generateSamplingConfig(busyProject(), RESERVOIR);
    expect(config.version).toBe(2);
    expect(ids(config)).toEqual([3001, 1002, 1005, 1001, 1004, 1500, 1400, 1401, 1600, 1000]);
    const byId = new Map(config.rules.map((r) => [r.id, r]));
    expect(byId.get(1002)!.samplingValue).toEqual({ type: 'sampleRate', value: 0.25 / 5 });
    expect(byId.get(1004)!.samplingValue).toEqual({ type: 'factor', value: 0.5 });
    expect(byId.get(1500)!.samplingValue).toEqual({ type: 'factor', value: 1.5 ** 0.75 });
    expect(byId.get(1400)!.samplingValue).toEqual({ type: 'factor', value: 0.9 / 0.25 / (0.2 / 0.25) });
    expect(byId.get(1401)!.samplingValue).toEqual({ type: 'factor', value: 0.2 / 0.25 });
    expect(byId.get(1600)!.samplingValue).toEqual({ type: 'minimumSampleRate', value: 0.25 });
    expect(config.rules[config.rules.length - 1]).toEqual(uniform(0.25));
  });

  it('at 100% only custom, minimum-rate and uniform rules survive', () => {
    const config = generateSamplingConfig(busyProject({ blendedSampleRate: 1.0 }), RESERVOIR);
    expect(ids(config)).toEqual([3001, 1600, 1000]);
    expect(config.rules[2]).toEqual(uniform(1.0));
  });

  it('at 0% only custom (+ minimum-rate) and uniform 0.0', () => {
    const config = generateSamplingConfig(busyProject({ state: { ...busyProject().state, rebalancedProjectRate: 0 } }), RESERVOIR);
    expect(ids(config)).toEqual([3001, 1600, 1000]);
    expect(config.rules[2]).toEqual(uniform(0.0));
  });

  it('a new project is sampled at 100% without optional biases', () => {
    expect(ids(generateSamplingConfig(busyProject({ dateAdded: '2022-10-21T18:45:00Z' }), RESERVOIR))).toEqual([3001, 1600, 1000]);
  });

  it("Sentry's default project at 0.1: health checks, replay, environments, uniform", () => {
    const config = generateSamplingConfig(project());
    expect(ids(config)).toEqual([1002, 1005, 1001, 1000]);
    expect(config.rules[0].samplingValue).toEqual({ type: 'sampleRate', value: 0.02 });
  });

  it("Sentry's env + health checks case (replay disabled)", () => {
    const config = generateSamplingConfig(project({ biases: [{ id: 'boostReplayId', active: false }] }));
    expect(config.rules).toEqual([
      {
        id: 1002,
        type: 'transaction',
        condition: { op: 'or', inner: [{ op: 'glob', name: 'event.transaction', value: [...HEALTH_CHECK_GLOBS] }] },
        samplingValue: { type: 'sampleRate', value: 0.02 },
      },
      {
        id: 1001,
        type: 'trace',
        condition: { op: 'or', inner: [{ op: 'glob', name: 'trace.environment', value: [...ENVIRONMENT_GLOBS] }] },
        samplingValue: { type: 'sampleRate', value: 1.0 },
      },
      uniform(0.1),
    ]);
  });

  it('no enabled biases: only the uniform rule', () => {
    expect(generateSamplingConfig(project({ biases: only() })).rules).toEqual([uniform(0.1)]);
  });

  it('only the replay bias at 0.5', () => {
    expect(ids(generateSamplingConfig(project({ blendedSampleRate: 0.5, biases: only('boostReplayId') })))).toEqual([1005, 1000]);
  });

  it('recalibration uses the org factor, or the project factor in project mode', () => {
    const state = { organizationRecalibrationFactor: 0.5, projectRecalibrationFactor: '2.0' };
    const orgMode = generateSamplingConfig(project({ biases: only('recalibrationRule'), state }));
    expect(orgMode.rules[0].samplingValue).toEqual({ type: 'factor', value: 0.5 });
    const projectMode = generateSamplingConfig(
      project({
        biases: only('recalibrationRule'),
        features: { dynamicSamplingCustom: true },
        samplingMode: 'project',
        projectTargetSampleRate: 0.2,
        state,
      }),
    );
    expect(projectMode.rules).toEqual([
      { id: 1004, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'factor', value: 2.0 } },
      uniform(0.2),
    ]);
  });

  it('recalibration is not emitted at 100% (even with a factor)', () => {
    const config = generateSamplingConfig(project({ blendedSampleRate: 1.0, state: { organizationRecalibrationFactor: 0.5 } }));
    expect(config.rules).toEqual([uniform(1.0)]);
  });

  it("Sentry's latest release case: python project at 0.1", () => {
    const config = generateSamplingConfig(
      project({
        biases: only('boostLatestRelease'),
        state: { boostedReleases: [{ version: '1.0', environment: 'prod', timestamp: NOW_SECONDS }] },
      }),
    );
    expect(ids(config)).toEqual([1500, 1000]);
    expect(config.rules[0].timeRange).toEqual({ start: '2022-10-21T18:50:25Z', end: '2022-10-21T20:03:03Z' });
    expect(config.rules[0].decayingFn).toEqual({ type: 'linear', decayedValue: 1.0 });
  });

  it('the health-check trace variant follows its feature', () => {
    const config = generateSamplingConfig(project({ biases: only('ignoreHealthChecks'), features: { healthChecksTraceBased: true } }));
    expect(config.rules[0].type).toBe('trace');
  });

  it('the minimum sample rate needs the feature, the project option and an enabled bias', () => {
    const base = { features: { minimumSampleRate: true }, minimumSampleRateEnabled: true, biases: only('minimumSampleRate') };
    expect(ids(generateSamplingConfig(project(base)))).toEqual([1600, 1000]);
    expect(ids(generateSamplingConfig(project({ ...base, features: {} })))).toEqual([1000]);
    expect(ids(generateSamplingConfig(project({ ...base, minimumSampleRateEnabled: false })))).toEqual([1000]);
    expect(ids(generateSamplingConfig(project({ ...base, biases: only() })))).toEqual([1000]);
  });

  it('custom rules come first and are emitted at any base rate', () => {
    const config = generateSamplingConfig(project({ blendedSampleRate: 1.0, customRules: [customRule] }), RESERVOIR);
    expect(ids(config)).toEqual([3001, 1000]);
    expect(config.rules[0].timeRange).toEqual({ start: '2022-10-21T17:50:25.000000Z', end: '2022-10-21T19:50:25.000000Z' });
  });

  it('emits no reservoir (custom) rule without the reservoir switch, as current Relay rejects them', () => {
    const withCustom = project({ blendedSampleRate: 1.0, customRules: [customRule] });
    expect(ids(generateSamplingConfig(withCustom))).toEqual([1000]);
    expect(ids(generateSamplingConfig(withCustom, { reservoir: false }))).toEqual([1000]);
    const all = generateSamplingConfig(busyProject()).rules;
    expect(all.some((r) => r.samplingValue.type === 'reservoir')).toBe(false);
  });

  it('an unusable base-rate input gives no rules at all and reports it', () => {
    const result = generateRulesDetailed(project({ blendedSampleRate: Number.NaN, customRules: [customRule] }));
    expect(result.config).toEqual({ version: 2, rules: [] });
    expect(result.baseSampleRate).toBeNull();
    expect(result.issues[0]).toBeInstanceOf(InvalidProjectInputError);
    expect(generateSamplingConfig(project({ now: 'whenever' }))).toEqual({ version: 2, rules: [] });
  });

  it('a failing bias is skipped and reported; the others are still generated', () => {
    const result = generateRulesDetailed(project({ customRules: [customRule] }), {
      ...RESERVOIR,
      validateCondition: () => {
        throw new Error('validator crashed');
      },
    });
    expect(ids(result.config)).toEqual([1002, 1005, 1001, 1000]);
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]).toBeInstanceOf(BiasGenerationError);
    expect((result.issues[0] as BiasGenerationError).bias).toBe('customRule');
  });

  it('dropped custom rules are reported as issues', () => {
    const result = generateRulesDetailed(project({ customRules: [{ ...customRule, condition: '{' }] }), RESERVOIR);
    expect(ids(result.config)).toEqual([1002, 1005, 1001, 1000]);
    expect(result.issues[0]).toBeInstanceOf(InvalidCustomRuleError);
    expect(result.baseSampleRate).toEqual({ rate: 0.1, source: 'fallback' });
  });

  it('is deterministic and JSON-clean', () => {
    const a = generateSamplingConfig(busyProject());
    const b = generateSamplingConfig(busyProject());
    expect(a).toEqual(b);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it('accepts Date inputs as well as strings', () => {
    const fromDates = generateSamplingConfig(
      busyProject({ now: new Date(NOW), dateAdded: new Date(OLD), organizationDateAdded: new Date(OLD) }),
    );
    expect(fromDates).toEqual(generateSamplingConfig(busyProject()));
  });
});

describe('time formatting', () => {
  it('formats seconds and microseconds in UTC', () => {
    const micros = toEpochMicros('2024-05-01T12:00:00.1234567+02:00');
    expect(formatUtcMicros(micros)).toBe('2024-05-01T10:00:00.123456Z');
    expect(formatUtcSeconds(micros)).toBe('2024-05-01T10:00:00Z');
    expect(formatUtcSeconds(unixSecondsToEpochMicros(NOW_SECONDS + 0.9999999))).toBe('2022-10-21T18:50:26Z');
  });
});
