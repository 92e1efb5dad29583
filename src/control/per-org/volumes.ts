// The per-org pass's inputs from the root counts: org volume (5 min ending on a minute), project and transaction volumes (1 h).

import { MINUTE_MS } from '../state/keys';
import type { TrafficCounts } from '../traffic/counts';
import type { OrganizationVolume, ProjectTransactionCounts, ProjectVolume } from './calculations';

/** `RECALIBRATION_TIME_INTERVAL` and the balancing window. */
export const ORG_VOLUME_WINDOW_MS = 5 * MINUTE_MS;
export const PROJECT_VOLUME_WINDOW_MS = 60 * MINUTE_MS;

/** Everything one pass reads about its organisation's traffic. */
export interface OrgTraffic {
  projectVolumes: ProjectVolume[];
  transactionVolumes: ProjectTransactionCounts[];
}

/**
 * The organisation's root volume over `window` ms ending at `end` (a minute boundary): null when
 * nothing was seen. Kept roots are the `indexed` count.
 */
export async function orgVolume(counts: TrafficCounts, orgId: number, end: number, window = ORG_VOLUME_WINDOW_MS): Promise<OrganizationVolume | null> {
  const volume = (await counts.orgVolumes({ from: end - window, to: end })).find((v) => v.orgId === orgId);
  return volume && volume.total > 0 ? { total: volume.total, indexed: volume.keep } : null;
}

/**
 * Project volumes of the organisation's active projects over the hour up to `end`, and per project
 * its `maxTransactions` largest transactions sorted by `(-count, name)` (none when `maxTransactions ≤ 0`).
 */
export async function orgTraffic(counts: TrafficCounts, orgId: number, projectIds: readonly number[], end: number, maxTransactions: number): Promise<OrgTraffic> {
  const active = new Set(projectIds);
  const rows = (await counts.projectVolumes({ from: end - PROJECT_VOLUME_WINDOW_MS, to: end }, new Set([orgId]))).filter((v) => active.has(v.projectId));
  const projectVolumes: ProjectVolume[] = rows
    .map((v) => ({ projectId: v.projectId, total: v.keep + v.drop, keep: v.keep, numDistinctTransactions: v.transactions.size }))
    .filter((v) => v.total > 0);
  const transactionVolumes: ProjectTransactionCounts[] = [];
  if (maxTransactions > 0) {
    for (const v of rows) {
      const sorted = [...v.transactions].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      if (sorted.length > 0) transactionVolumes.push({ projectId: v.projectId, transactionCounts: sorted.slice(0, maxTransactions) });
    }
  }
  return { projectVolumes, transactionVolumes };
}
