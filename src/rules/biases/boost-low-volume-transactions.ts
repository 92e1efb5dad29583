// Boost low-volume transactions bias: relative factors that turn the base rate into per-transaction rates (rules 1400..1499).

import { RESERVED_IDS } from '../constants';
import type { SamplingRule, TransactionRates } from '../types';

/** Named rates as `[name, rate]` pairs in stored order. */
export function namedTransactionRates(rates: TransactionRates): Array<readonly [string, number]> {
  return Array.isArray(rates.named) ? [...(rates.named as ReadonlyArray<readonly [string, number]>)] : Object.entries(rates.named);
}

/**
 * Factor rules so that Relay yields the stored rate for each named transaction and the implicit
 * rate for all others: `(rate/base)/(implicit/base)` per name (skipped when exactly 1.0, ids count
 * emitted rules only), then `implicit/base` for everything unless it is 1.0. An implicit rate of 0
 * counts as 1.0. No stored names, or a 0 base rate, gives no rules.
 */
export function boostLowVolumeTransactionsRules(baseSampleRate: number, rates: TransactionRates | null | undefined): SamplingRule[] {
  if (!rates) return [];
  const named = namedTransactionRates(rates);
  if (named.length === 0) return [];
  if (baseSampleRate === 0) return [];

  let implicit = rates.implicit;
  if (implicit === 0) implicit = 1.0;
  const implicitFactor = implicit / baseSampleRate;

  const rules: SamplingRule[] = [];
  let idx = 0;
  for (const [name, rate] of named) {
    const factor = rate / baseSampleRate / implicitFactor;
    if (factor === 1.0) continue;
    rules.push({
      id: RESERVED_IDS.boostLowVolumeTransactions + idx,
      type: 'trace',
      condition: {
        op: 'or',
        inner: [{ op: 'eq', name: 'trace.transaction', value: [name], options: { ignoreCase: true } }],
      },
      samplingValue: { type: 'factor', value: factor },
    });
    idx += 1;
  }
  if (implicitFactor !== 1.0) {
    rules.push({
      id: RESERVED_IDS.boostLowVolumeTransactions + idx,
      type: 'trace',
      condition: { op: 'and', inner: [] },
      samplingValue: { type: 'factor', value: implicitFactor },
    });
  }
  return rules;
}
