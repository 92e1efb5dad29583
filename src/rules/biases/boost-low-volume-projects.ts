// Boost low-volume projects ("uniform") bias: the project's base rate, always the last rule (rule 1000).

import { RESERVED_IDS } from '../constants';
import type { SamplingRule } from '../types';

export function boostLowVolumeProjectsRules(baseSampleRate: number): SamplingRule[] {
  return [
    {
      id: RESERVED_IDS.uniformRule,
      type: 'trace',
      condition: { op: 'and', inner: [] },
      samplingValue: { type: 'sampleRate', value: baseSampleRate },
    },
  ];
}
