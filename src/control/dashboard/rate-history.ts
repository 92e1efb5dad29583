// The organization's rate as it was over time: each change of its target (or of the rate rebalancing aims at) is
// recorded with its time, so that the dashboard's chart draws the target each minute had, not today's.

import type { KeyValueStore } from '../store/kv';

/** The rates in force from a point in time on. */
export interface RatesInForce {
  /** The organization's target sample rate (null: none set). */
  targetSampleRate: number | null;
  /** The rate rebalancing aims at: the target, else the sliding-window rate, else the blended rate. */
  organizationRate: number;
}

/** One organization's changes, oldest first. */
export type RateChanges = ReadonlyArray<{ since: number } & RatesInForce>;

const changesKey = (orgId: number): string => `dsctl:dashboard:o:${orgId}:rates`;

function parse(field: string, value: string): ({ since: number } & RatesInForce) | null {
  const since = Number(field);
  try {
    const rates = JSON.parse(value) as RatesInForce;
    if (!Number.isFinite(since) || typeof rates?.organizationRate !== 'number') return null;
    return { since, targetSampleRate: typeof rates.targetSampleRate === 'number' ? rates.targetSampleRate : null, organizationRate: rates.organizationRate };
  } catch {
    return null;
  }
}

export class OrganizationRateHistory {
  /** `keepMs`: how far back changes are kept (the longest history shown), and the newest one before that. */
  constructor(
    private readonly kv: KeyValueStore,
    private readonly keepMs: number,
  ) {}

  /** The recorded changes of an organization, oldest first (unreadable fields skipped). */
  async changes(orgId: number): Promise<RateChanges> {
    const hash = await this.kv.hgetall(changesKey(orgId));
    const out = [];
    for (const [field, value] of Object.entries(hash)) {
      const change = parse(field, value);
      if (change) out.push(change);
    }
    return out.sort((a, b) => a.since - b.since);
  }

  /**
   * Records the rates in force at `at` when they differ from the last recorded ones (a change made by any
   * control-plane process sharing the store is seen by all). Older changes past the history shown are pruned.
   */
  async record(orgId: number, at: number, rates: RatesInForce): Promise<void> {
    const changes = await this.changes(orgId);
    const last = changes.at(-1);
    if (last && last.targetSampleRate === rates.targetSampleRate && last.organizationRate === rates.organizationRate) return;
    await this.kv.hset(changesKey(orgId), { [String(at)]: JSON.stringify(rates) });
    const before = changes.filter((c) => c.since <= at - this.keepMs);
    // The newest change before the window stays: the window's first minutes are under it.
    if (before.length > 1) await this.kv.hdel(changesKey(orgId), before.slice(0, -1).map((c) => String(c.since)));
  }
}

/** The rates in force at `at` (the newest change at or before it); null before the first recorded change. */
export function ratesAt(changes: RateChanges, at: number): RatesInForce | null {
  let found: RatesInForce | null = null;
  for (const change of changes) {
    if (change.since > at) break;
    found = { targetSampleRate: change.targetSampleRate, organizationRate: change.organizationRate };
  }
  return found;
}
