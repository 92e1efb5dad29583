// Generated configs are accepted by the engine: every bias on, and the result samples as intended.

import { describe, expect, it } from 'vitest';

import { generateSamplingConfig } from '../src/rules/generate';
import type { ProjectDescription } from '../src/rules/types';
import { evaluate, parseSamplingConfig } from '../src/engine/evaluate';

const NOW = new Date('2024-05-01T12:00:00Z');

const project: ProjectDescription = {
  projectId: 42,
  organizationId: 1,
  platform: 'python',
  dateAdded: '2023-01-01T00:00:00Z',
  organizationDateAdded: '2022-01-01T00:00:00Z',
  features: { minimumSampleRate: true },
  minimumSampleRateEnabled: true,
  blendedSampleRate: 0.25,
  now: NOW,
  customRules: [
    {
      ruleId: 1,
      condition: { op: 'eq', name: 'event.transaction', value: ['/checkout'] },
      numSamples: 100,
      startDate: '2024-05-01T00:00:00Z',
      endDate: '2024-05-02T00:00:00Z',
    },
  ],
  state: {
    boostedReleases: [{ version: '2.0.0', environment: 'production', timestamp: NOW.getTime() / 1000 - 60 }],
    transactionRates: { named: [['/big', 0.01]], implicit: 0.4 },
    organizationRecalibrationFactor: '1.2',
  },
};

describe('generated configs in the engine', () => {
  const config = generateSamplingConfig(project);

  it('parse as supported configs with every bias present (custom rules with the reservoir switch)', () => {
    const withReservoir = generateSamplingConfig(project, { reservoir: true });
    const parsed = parseSamplingConfig(withReservoir as never, { reservoir: true });
    expect(parsed.unsupported).toBe(false);
    const ids = parsed.rules.map((r) => r.id);
    for (const id of [1000, 1001, 1002, 1004, 1005, 1500, 1600, 3001]) expect(ids).toContain(id);
    // An engine with the default options rejects it, as current Relay does.
    expect(() => parseSamplingConfig(withReservoir as never)).toThrow(/reservoir/);
  });

  it('parse with the default options when generated without the reservoir switch', () => {
    const parsed = parseSamplingConfig(config as never);
    expect(parsed.unsupported).toBe(false);
    expect(parsed.rules.map((r) => r.id)).not.toContain(3001);
  });

  it('sample health checks at a fifth of the base rate and boost the new release', () => {
    const dsc = { trace_id: '67e5504410b1426f9247bb680e5fe0c8', public_key: 'abd0f232775f45feab79864e580d160b', environment: 'production' };
    const health = evaluate({
      config: config as never,
      rootConfig: config as never,
      dsc: { ...dsc, transaction: '/healthz' },
      event: { event_id: '52df9022835246eeb317dbd739ccd059', type: 'transaction', transaction: '/healthz' },
      now: NOW,
    });
    expect(health.matchedRuleIds).toContain(1002);
    const plain = evaluate({ rootConfig: config as never, dsc: { ...dsc, release: '1.0.0' }, now: NOW });
    const boosted = evaluate({ rootConfig: config as never, dsc: { ...dsc, release: '2.0.0' }, now: NOW });
    expect(boosted.matchedRuleIds).toContain(1500);
    expect(boosted.sampleRate!).toBeGreaterThan(plain.sampleRate!);
  });
});
