// The scheduled tasks: names, schedule intervals and entry points.

import { boostLowVolumeProjects } from './boost-low-volume-projects';
import { boostLowVolumeTransactions } from './boost-low-volume-transactions';
import type { TaskDeps } from './common';
import type { TaskContext } from './context';
import { cleanCustomRules } from './custom-rules-expiry';
import { customRuleNotifications } from './custom-rule-notifications';
import type { PerOrgPipeline } from '../per-org/pipeline';
import { recalibrateOrgs } from './recalibrate-orgs';
import { slidingWindowOrg } from './sliding-window-org';

export type TaskId =
  | 'sliding_window_org'
  | 'boost_low_volume_projects'
  | 'boost_low_volume_transactions'
  | 'recalibrate_orgs'
  | 'schedule_per_org_calculations'
  | 'custom_rule_notifications'
  | 'clean_custom_rule_notifications';

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

/** Which rebalancing runs: Sentry's per-organization pipeline (default), or the classic fleet-wide tasks. */
export type Pipeline = 'per-org' | 'classic';

export interface TaskPlan {
  pipeline: Pipeline;
  /** The per-org pipeline (needed with `pipeline: 'per-org'`). */
  perOrg: PerOrgPipeline | null;
  /** Custom (investigation) rules are on (reservoir rules served): their notification and cleanup tasks run. */
  customRules: boolean;
  intervalMs?: number;
  cleanupIntervalMs?: number;
}

/** The tasks of a plan: the pipeline's, then the custom-rule tasks when custom rules are on. */
export function plannedTasks(plan: TaskPlan): TaskDefinition[] {
  const intervalMs = plan.intervalMs ?? TEN_MINUTES_MS;
  const cleanupIntervalMs = plan.cleanupIntervalMs ?? 7 * 60 * 1000;
  const tasks: TaskDefinition[] = [];
  if (plan.pipeline === 'classic') {
    tasks.push(...defaultTasks(intervalMs, cleanupIntervalMs).filter((t) => t.id !== 'clean_custom_rule_notifications'));
  } else {
    const perOrg = plan.perOrg;
    if (!perOrg) throw new TypeError('the per-org pipeline needs its PerOrgPipeline');
    tasks.push({ id: 'schedule_per_org_calculations', intervalMs, run: async (context, deps) => void (await perOrg.runCycle(context, deps)) });
  }
  if (plan.customRules) {
    tasks.push({ id: 'custom_rule_notifications', intervalMs, run: customRuleNotifications });
    tasks.push({ id: 'clean_custom_rule_notifications', intervalMs: cleanupIntervalMs, run: cleanCustomRules });
  }
  return tasks;
}
