// Outcome batches a relay sends (`POST /api/0/relays/outcomes/`, Relay's `SendOutcomes`): checked and counted.

import type { ControlMetrics } from '../metrics';

export class OutcomeBatchError extends Error {}

/** Relay's outcome ids (`OutcomeId`), for readable labels; unknown ids are counted under their number. */
export const OUTCOME_NAMES: Record<number, string> = { 0: 'accepted', 1: 'filtered', 2: 'rate_limited', 3: 'invalid', 4: 'abuse', 5: 'client_discard', 6: 'cardinality_limited' };

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Validates the whole batch first (a bad entry refuses it), then counts each entry's quantity. */
export function countOutcomes(body: Record<string, unknown>, metrics: ControlMetrics): number {
  const outcomes = body.outcomes ?? [];
  if (!Array.isArray(outcomes)) throw new OutcomeBatchError('`outcomes` must be a list');
  outcomes.forEach((entry: unknown, i) => {
    const o = entry as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) throw new OutcomeBatchError(`outcomes[${i}] is not an object`);
    if (typeof o.timestamp !== 'string' || Number.isNaN(Date.parse(o.timestamp))) throw new OutcomeBatchError(`outcomes[${i}].timestamp is not a time`);
    if (!isCount(o.project_id)) throw new OutcomeBatchError(`outcomes[${i}].project_id is not an id`);
    if (!isCount(o.outcome) || o.outcome > 255) throw new OutcomeBatchError(`outcomes[${i}].outcome is not an outcome id`);
    if (o.category !== undefined && o.category !== null && (!isCount(o.category) || o.category > 255)) throw new OutcomeBatchError(`outcomes[${i}].category is not a data category`);
    if (o.quantity !== undefined && o.quantity !== null && !isCount(o.quantity)) throw new OutcomeBatchError(`outcomes[${i}].quantity is not a count`);
    if (o.reason !== undefined && o.reason !== null && typeof o.reason !== 'string') throw new OutcomeBatchError(`outcomes[${i}].reason is not a string`);
    // The rest of Relay's `TrackRawOutcome`, optional: checked, not counted (labels stay bounded).
    for (const field of ['org_id', 'key_id'] as const) {
      if (o[field] !== undefined && o[field] !== null && !isCount(o[field])) throw new OutcomeBatchError(`outcomes[${i}].${field} is not an id`);
    }
    for (const field of ['event_id', 'remote_addr', 'source'] as const) {
      if (o[field] !== undefined && o[field] !== null && typeof o[field] !== 'string') throw new OutcomeBatchError(`outcomes[${i}].${field} is not a string`);
    }
  });
  let total = 0;
  for (const entry of outcomes as Record<string, unknown>[]) {
    const quantity = (entry.quantity as number | undefined) ?? 1;
    const outcome = OUTCOME_NAMES[entry.outcome as number] ?? String(entry.outcome);
    // Reasons come from relays: bounded in length so that labels stay bounded.
    const reason = ((entry.reason as string | undefined) ?? '').slice(0, 100);
    metrics.outcomes.inc({ outcome, reason, category: String(entry.category ?? '') }, quantity);
    total += quantity;
  }
  return total;
}
