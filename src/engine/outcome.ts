// Outcome reasons of sampling drops as Relay reports them: `Sampled:` and the rule *categories*
// (not the raw ids), de-duplicated and in Relay's category order.

/**
 * Relay's rule categories in their order (`RuleCategory` in relay-server's outcome service):
 * the reason lists categories in this order, so "other" (`0`) comes last, not first.
 */
const CATEGORY_ORDER = ['1000', '1001', '1002', '1003', '1004', '1005', '1400', '1500', '3000', '0'] as const;
export type RuleCategory = (typeof CATEGORY_ORDER)[number];

/** The category a rule id is reported under. */
export function ruleCategory(ruleId: number): RuleCategory {
  if (!Number.isInteger(ruleId)) throw new TypeError(`ruleId must be an integer, got ${String(ruleId)}`);
  if (ruleId >= 1000 && ruleId <= 1005) return String(ruleId) as RuleCategory;
  if (ruleId >= 1400 && ruleId <= 1499) return '1400';
  if (ruleId >= 1500 && ruleId <= 1599) return '1500';
  if (ruleId >= 3000 && ruleId <= 4999) return '3000';
  return '0';
}

/** The categories of matched rule ids, de-duplicated, in Relay's order. */
export function ruleCategories(ruleIds: Iterable<number>): RuleCategory[] {
  if (ruleIds === null || typeof (ruleIds as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
    throw new TypeError(`ruleIds must be an iterable of rule ids, got ${ruleIds === null ? 'null' : typeof ruleIds}`);
  }
  const seen = new Set<RuleCategory>();
  for (const id of ruleIds) seen.add(ruleCategory(id));
  return CATEGORY_ORDER.filter((c) => seen.has(c));
}

/** Reasons by matched rule ids (`"1000,1004"`): a config yields few distinct chains. Bounded. */
const REASON_CACHE_SIZE = 4096;
const reasons = new Map<string, string>();

/** Relay's outcome reason for a sampling drop (`FilteredSampling`): `Sampled:1000,1004,1400`. */
export function sampledReason(ruleIds: Iterable<number>): string {
  if (!Array.isArray(ruleIds)) return `Sampled:${ruleCategories(ruleIds).join(',')}`;
  const chain = ruleIds.join(',');
  let reason = reasons.get(chain);
  if (reason === undefined) {
    reason = `Sampled:${ruleCategories(ruleIds).join(',')}`;
    if (reasons.size >= REASON_CACHE_SIZE) reasons.clear();
    reasons.set(chain, reason);
  }
  return reason;
}
