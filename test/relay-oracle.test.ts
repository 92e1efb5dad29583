// The oracle itself: Relay's validator answers, and tells a rejected config from an accepted one.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { minimumSampleRateRules } from '../src/rules/biases/minimum-sample-rate';
import { startRelayOracle, type RelayOracle } from './helpers/relay-oracle';

describe("Relay's own code as the oracle", () => {
  let oracle: RelayOracle;
  beforeAll(async () => {
    oracle = await startRelayOracle();
  }, 300_000);
  afterAll(async () => oracle?.close());

  it('accepts a valid sampling config and rejects one whose rule lacks a condition', async () => {
    const valid = JSON.stringify({ version: 2, rules: [{ id: 1, type: 'trace', samplingValue: { type: 'sampleRate', value: 0.5 }, condition: { op: 'and', inner: [] } }] });
    const invalid = JSON.stringify({ version: 2, rules: [{ id: 1, type: 'trace', samplingValue: { type: 'sampleRate', value: 0.5 } }] });
    const [a, b] = await oracle.call([
      { op: 'validate_sampling_configuration', json: valid },
      { op: 'validate_sampling_configuration', json: invalid },
    ]);
    expect(a).toEqual({ ok: true, result: null });
    expect(b.ok).toBe(false);
  });

  it("rejects Sentry's minimum-sample-rate rule with condition {}, and accepts ours with the match-all and", async () => {
    const rule = minimumSampleRateRules(0.25, true)[0];
    expect(rule.condition).toEqual({ op: 'and', inner: [] });
    const config = (condition: object) => JSON.stringify({ version: 2, rules: [{ ...rule, condition }] });
    const [sentrys, ours] = await oracle.call([
      { op: 'validate_sampling_configuration', json: config({}) },
      { op: 'validate_sampling_configuration', json: config(rule.condition) },
    ]);
    expect(sentrys.ok).toBe(false);
    expect(ours).toEqual({ ok: true, result: null });
  });
});
