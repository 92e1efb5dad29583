// Boost replay id bias: traces that carry a replay id are kept at 100% (rule 1005).

import { RESERVED_IDS } from '../constants';
import type { SamplingRule } from '../types';

export function boostReplayIdRules(): SamplingRule[] {
  return [
    {
      id: RESERVED_IDS.boostReplayId,
      type: 'trace',
      condition: {
        op: 'not',
        inner: { op: 'eq', name: 'trace.replay_id', value: null, options: { ignoreCase: true } },
      },
      samplingValue: { type: 'sampleRate', value: 1.0 },
    },
  ];
}
