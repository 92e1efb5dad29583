// Minimum sample rate bias: a floor at the base rate for the final sample rate (rule 1600).

import { RESERVED_IDS } from '../constants';
import type { SamplingRule } from '../types';

/** Only when the project option `sentry:dynamic_sampling_minimum_sample_rate` is set. */
export function minimumSampleRateRules(baseSampleRate: number, enabledForProject: boolean): SamplingRule[] {
  if (!enabledForProject) return [];
  return [
    {
      id: RESERVED_IDS.minimumSampleRate,
      type: 'trace',
      // Sentry writes `{}` here, which Relay's condition parser (tagged by `op`) rejects, taking
      // the whole config with it; `and []` is the canonical match-everything.
      condition: { op: 'and', inner: [] },
      samplingValue: { type: 'minimumSampleRate', value: baseSampleRate },
    },
  ];
}
