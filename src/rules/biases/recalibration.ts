// Recalibration bias: the stored org (or project) factor that corrects the effective rate (rule 1004).

import { RESERVED_IDS } from '../constants';
import { readStoredFloat } from '../stored-values';
import type { SamplingRule, StoredFloat } from '../types';

/** The factor to apply: missing, unparsable or non-finite stored values count as 1.0. */
export function recalibrationFactor(stored: StoredFloat): number {
  const read = readStoredFloat(stored);
  return read.kind === 'value' && Number.isFinite(read.value) ? read.value : 1.0;
}

/** No rule when the factor is 1.0 (the identity). */
export function recalibrationRules(stored: StoredFloat): SamplingRule[] {
  const factor = recalibrationFactor(stored);
  if (factor === 1.0) return [];
  return [
    {
      id: RESERVED_IDS.recalibrationRule,
      type: 'trace',
      condition: { op: 'and', inner: [] },
      samplingValue: { type: 'factor', value: factor },
    },
  ];
}
