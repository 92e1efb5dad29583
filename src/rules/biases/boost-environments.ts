// Boost environments bias: traces from development and test environments are kept at 100% (rule 1001).

import { ENVIRONMENT_GLOBS, RESERVED_IDS } from '../constants';
import type { SamplingRule } from '../types';

export function boostEnvironmentsRules(): SamplingRule[] {
  return [
    {
      id: RESERVED_IDS.boostEnvironments,
      type: 'trace',
      condition: {
        op: 'or',
        inner: [{ op: 'glob', name: 'trace.environment', value: [...ENVIRONMENT_GLOBS] }],
      },
      samplingValue: { type: 'sampleRate', value: 1.0 },
    },
  ];
}
