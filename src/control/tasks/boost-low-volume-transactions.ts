// Task boost_low_volume_transactions: rebalances each project's rate over its transactions and stores the rates.

import type { OrganizationDefinition, ProjectDefinition } from '../definitions/types';
import { rebalanceTransactions } from '../../rules/models';
import { hasDynamicSampling, isProjectMode } from '../serving/describe-project';
import { lastWindow, type ProjectVolume } from '../traffic/counts';
import { ActiveOrgBatches, activeOrgsOf, projectRateFallback, type TaskDeps } from './common';
import { TimedIterator, timedFunction, type TaskContext } from './context';
import { TRANSACTIONS_QUERY_WINDOW_MS } from './options';

export const BOOST_LOW_VOLUME_TRANSACTIONS_TRIGGER = 'dynamic_sampling_boost_low_volume_transactions';

/** The project's transactions to rebalance explicitly: the N largest and M smallest (merged, largest first). */
export function explicitTransactions(transactions: ReadonlyMap<string, number>, large: number, small: number): Array<{ id: string; count: number }> {
  const all = [...transactions].map(([id, count]) => ({ id, count }));
  const desc = [...all].sort((a, b) => b.count - a.count || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const picked = new Map<string, number>();
  for (const t of desc.slice(0, large)) picked.set(t.id, t.count);
  for (const t of [...desc].reverse().slice(0, small)) if (!picked.has(t.id)) picked.set(t.id, t.count);
  return [...picked].map(([id, count]) => ({ id, count }));
}

/** The rates the transactions model gives a project at `rate` (null: no transactions to rebalance). */
export function transactionRatesFor(
  rate: number,
  volume: Pick<ProjectVolume, 'keep' | 'drop' | 'transactions'>,
  options: Pick<TaskDeps['options'], 'numExplicitLargeTransactions' | 'numExplicitSmallTransactions' | 'rebalanceIntensity' | 'transactionsMinSampleRate'>,
): { explicit: Array<{ id: string; count: number; newSampleRate: number }>; implicitRate: number } | null {
  if (volume.transactions.size === 0) return null;
  const classes = explicitTransactions(volume.transactions, options.numExplicitLargeTransactions, options.numExplicitSmallTransactions);
  if (classes.length === 0) return null;
  return rebalanceTransactions({
    classes,
    sampleRate: rate,
    total: volume.keep + volume.drop,
    totalNumClasses: volume.transactions.size,
    intensity: options.rebalanceIntensity,
    minSampleRate: options.transactionsMinSampleRate,
  });
}

/** `boost_low_volume_transactions_of_project`. */
export const boostLowVolumeTransactionsOfProject = timedFunction(
  'boost_low_volume_transactions_of_project',
  async (state, deps: TaskDeps, org: OrganizationDefinition, project: ProjectDefinition, volume: ProjectVolume): Promise<void> => {
    state.numProjects += 1;
    if (!hasDynamicSampling(org) || project.disabled) return;
    const { options } = deps;
    const rate = isProjectMode(org)
      ? (project.targetSampleRate ?? 1.0)
      : (await deps.state.projectRate(org.id, project.id, projectRateFallback(org))).rate;
    state.numDbCalls += 1;
    if (rate === 1.0) return;
    const rebalanced = transactionRatesFor(rate, volume, options);
    if (rebalanced === null) return;
    const { explicit, implicitRate } = rebalanced;
    state.numRowsTotal += explicit.length;
    await deps.state.setTransactionRates(
      org.id,
      project.id,
      explicit.map((item) => [item.id, item.newSampleRate] as const),
      implicitRate,
    );
    state.numDbCalls += 1;
    deps.metrics.stateWrites.inc({ kind: 'transaction_rates' });
    await deps.invalidator.schedule(BOOST_LOW_VOLUME_TRANSACTIONS_TRIGGER, { projectId: project.id });
  },
);

export async function boostLowVolumeTransactions(context: TaskContext, deps: TaskDeps): Promise<void> {
  const now = deps.clock();
  const volumes = await context.timers.time('query_transactions', () => deps.counts.projectVolumes(lastWindow(now, TRANSACTIONS_QUERY_WINDOW_MS)));
  const batches = new TimedIterator(context, new ActiveOrgBatches(activeOrgsOf(volumes), deps.options.maxOrgsPerQuery, deps.options.maxProjectsPerQuery), 'GetActiveOrgs');
  for await (const batch of batches) {
    const orgIds = new Set(batch.map((o) => o.orgId));
    for (const volume of volumes) {
      if (!orgIds.has(volume.orgId)) continue;
      const found = deps.definitions.project(volume.projectId);
      if (!found || found.organization.id !== volume.orgId) continue;
      try {
        await boostLowVolumeTransactionsOfProject(context, deps, found.organization, found.project, volume);
      } catch (err) {
        if (err instanceof Error && err.name === 'TaskTimeoutError') throw err;
        deps.logger.error({ err, projectId: volume.projectId }, 'boost_low_volume_transactions_of_project failed');
      }
    }
  }
}
