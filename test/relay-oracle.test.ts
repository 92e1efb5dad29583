// The oracle itself: Relay's validator answers, and tells a rejected config from an accepted one.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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
});
