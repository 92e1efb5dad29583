// Ignore health checks bias: health-check transactions sampled at a fifth of the base rate (rule 1002).

import { HEALTH_CHECK_GLOBS, IGNORE_HEALTH_CHECKS_FACTOR, RESERVED_IDS } from '../constants';
import type { SamplingRule } from '../types';

export interface IgnoreHealthChecksOptions {
  /** Match `trace.transaction` in a trace rule (`ds-health-checks-trace-based`) instead of the event. */
  traceBased?: boolean;
  /** Glob list; defaults to the newest `HEALTH_CHECK_GLOBS`. */
  globs?: readonly string[];
}

export function ignoreHealthChecksRules(baseSampleRate: number, options: IgnoreHealthChecksOptions = {}): SamplingRule[] {
  const traceBased = options.traceBased ?? false;
  return [
    {
      id: RESERVED_IDS.ignoreHealthChecks,
      type: traceBased ? 'trace' : 'transaction',
      condition: {
        op: 'or',
        inner: [
          {
            op: 'glob',
            name: traceBased ? 'trace.transaction' : 'event.transaction',
            value: [...(options.globs ?? HEALTH_CHECK_GLOBS)],
          },
        ],
      },
      samplingValue: { type: 'sampleRate', value: baseSampleRate / IGNORE_HEALTH_CHECKS_FACTOR },
    },
  ];
}
