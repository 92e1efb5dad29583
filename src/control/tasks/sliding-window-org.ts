// Task sliding_window_org: the organisation's rate from its plan tier for the volume extrapolated over a month.

import type { SamplingTier } from '../definitions/types';
import { hasDynamicSampling } from '../serving/describe-project';
import type { TaskDeps } from './common';
import { timedFunction, type TaskContext } from './context';

/** `extrapolate_monthly_volume`: `int(volume * days_in_month * 24 / hours)`; null under one hour. */
export function extrapolateMonthlyVolume(volume: number, hours: number, now: number): number | null {
  if (hours < 1) return null;
  const d = new Date(now);
  const daysInMonth = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  return Math.trunc((volume * daysInMonth * 24) / hours);
}

/** The plan tier for a monthly volume (`get_transaction_sampling_tier_for_volume`): the first tier it fits, else the last. */
export function tierRateForVolume(tiers: readonly SamplingTier[] | null, volume: number): number | null {
  if (!tiers || tiers.length === 0) return null;
  const sorted = [...tiers].sort((a, b) => a.maxVolume - b.maxVolume);
  return (sorted.find((t) => volume <= t.maxVolume) ?? sorted[sorted.length - 1]).sampleRate;
}

const adjustOrg = timedFunction('sliding_window_org', async (state, deps: TaskDeps, orgId: number, total: number, hours: number): Promise<void> => {
  state.numOrgs += 1;
  const org = deps.definitions.organization(orgId);
  if (!org || !hasDynamicSampling(org)) return;
  const extrapolated = extrapolateMonthlyVolume(total, hours, deps.clock());
  if (extrapolated === null) return;
  const rate = tierRateForVolume(deps.definitions.tiersOf(org), extrapolated);
  // No tier: the previous rate (if any) stays.
  if (rate === null) return;
  await deps.state.setSlidingWindowOrgRate(orgId, rate);
  state.numDbCalls += 1;
  deps.metrics.stateWrites.inc({ kind: 'sliding_window' });
});

export async function slidingWindowOrg(context: TaskContext, deps: TaskDeps): Promise<void> {
  const hours = deps.options.slidingWindowHours;
  if (hours === null) return;
  const window = Number.isFinite(hours) && hours > 0 ? hours : 24;
  const volumes = await context.timers.time('query_volumes', () => deps.counts.orgVolumesHourly(deps.clock(), window));
  for (const v of volumes) {
    context.checkTimeout();
    await adjustOrg(context, deps, v.orgId, v.total, window);
  }
  await deps.state.markSlidingWindowExecuted();
}
