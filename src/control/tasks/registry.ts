// The scheduled tasks: names, schedule intervals and entry points.

import { boostLowVolumeProjects } from './boost-low-volume-projects';
import { boostLowVolumeTransactions } from './boost-low-volume-transactions';
import type { TaskDeps } from './common';
import type { TaskContext } from './context';
import { cleanCustomRules } from './custom-rules-expiry';
import { recalibrateOrgs } from './recalibrate-orgs';
import { slidingWindowOrg } from './sliding-window-org';

export type TaskId = 'sliding_window_org' | 'boost_low_volume_projects' | 'boost_low_volume_transactions' | 'recalibrate_orgs' | 'clean_custom_rule_notifications';

export interface TaskDefinition {
  id: TaskId;
  /** Schedule interval, ms. */
  intervalMs: number;
  run(context: TaskContext, deps: TaskDeps): Promise<void>;
}

/** Sentry's task name (`sentry.tasks.dynamic_sampling.<func>`), used in metrics and logs. */
export const taskName = (id: TaskId): string => `sentry.tasks.dynamic_sampling.${id}`;

export const TEN_MINUTES_MS = 10 * 60 * 1000;

/**
 * Every task, in the order `runTasks()` runs them: the sliding window first (it feeds the org
 * rate), then the project rates the transaction rates build on, then recalibration and cleanup.
 */
export function defaultTasks(intervalMs = TEN_MINUTES_MS, cleanupIntervalMs = 7 * 60 * 1000): TaskDefinition[] {
  return [
    { id: 'sliding_window_org', intervalMs, run: slidingWindowOrg },
    { id: 'boost_low_volume_projects', intervalMs, run: boostLowVolumeProjects },
    { id: 'boost_low_volume_transactions', intervalMs, run: boostLowVolumeTransactions },
    { id: 'recalibrate_orgs', intervalMs, run: recalibrateOrgs },
    { id: 'clean_custom_rule_notifications', intervalMs: cleanupIntervalMs, run: cleanCustomRules },
  ];
}
