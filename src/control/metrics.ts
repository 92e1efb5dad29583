// Prometheus metrics of the control plane (tasks, invalidations, the config server), on a registry passed in or created.

import { Counter, Histogram, Registry } from 'prom-client';

export interface ControlMetrics {
  readonly registry: Registry;
  /** Sentry's `metrics.incr("<task>.start")`, by task name. */
  taskStarts: Counter<'task'>;
  /** Sentry's `metrics.timer("<task>")`, by task name and outcome (`ok`, `timeout`, `error`). */
  taskDuration: Histogram<'task' | 'outcome'>;
  /** `dynamic_sampling.task_timeout{task_name}`. */
  taskTimeouts: Counter<'task'>;
  /** Invalidations by trigger and outcome (`scheduled`, `skipped` (debounced), `executed`). */
  invalidations: Counter<'trigger' | 'outcome'>;
  /** Project configs built, by reason (`miss`, `noCache`, `invalidation`). */
  configsBuilt: Counter<'reason'>;
  /** Project-config requests by outcome (`ok`, `unauthorized`, `bad_request`, `error`). */
  requests: Counter<'outcome'>;
  /** Keys answered, by how (`config`, `pending`, `unchanged`, `null`). */
  keysAnswered: Counter<'answer'>;
  /** Relay registration steps (`challenge`, `response`) by outcome (`ok` or the HTTP status refused). */
  registrations: Counter<'step' | 'outcome'>;
  /** Quantities reported in relays' outcome batches, by outcome, reason and data category (Relay's ids). */
  outcomes: Counter<'outcome' | 'reason' | 'category'>;
  /** Writes of the stored state by key family (`project_rate`, `transaction_rates`, `factor`, `factor_deleted`, `sliding_window`). */
  stateWrites: Counter<'kind'>;
  /** Per-org passes by status (`completed`, `no_org_volume`, …, `rollout_excluded`, `killswitched`). */
  perOrgRuns: Counter<'status'>;
  /** Per-org values compared with the classic computation, by value kind and outcome (`equal`, `differs`, `missing`). */
  perOrgComparisons: Counter<'value' | 'outcome'>;
}

const PREFIX = 'dynamic_sampling_control_';

export function createControlMetrics(registry: Registry = new Registry()): ControlMetrics {
  function metric<T>(name: string, create: (name: string) => T): T {
    return (registry.getSingleMetric(PREFIX + name) as T | undefined) ?? create(PREFIX + name);
  }
  const registers = [registry];
  return {
    registry,
    taskStarts: metric('task_start_total', (name) => new Counter({ name, help: 'Task runs started (<task>.start).', labelNames: ['task'], registers })),
    taskDuration: metric('task_duration_seconds', (name) =>
      new Histogram({ name, help: 'Task run duration (<task> timer).', labelNames: ['task', 'outcome'], buckets: [0.01, 0.1, 1, 10, 60, 300, 600], registers })),
    taskTimeouts: metric('task_timeout_total', (name) => new Counter({ name, help: 'Task runs stopped by their time budget.', labelNames: ['task'], registers })),
    invalidations: metric('invalidations_total', (name) =>
      new Counter({ name, help: 'Project config invalidations by trigger and outcome.', labelNames: ['trigger', 'outcome'], registers })),
    configsBuilt: metric('configs_built_total', (name) => new Counter({ name, help: 'Project configs generated.', labelNames: ['reason'], registers })),
    requests: metric('project_config_requests_total', (name) =>
      new Counter({ name, help: 'Project config requests by outcome.', labelNames: ['outcome'], registers })),
    keysAnswered: metric('project_config_keys_total', (name) =>
      new Counter({ name, help: 'Public keys answered, by answer.', labelNames: ['answer'], registers })),
    registrations: metric('relay_registrations_total', (name) =>
      new Counter({ name, help: 'Relay registration steps by outcome.', labelNames: ['step', 'outcome'], registers })),
    outcomes: metric('relay_outcomes_total', (name) =>
      new Counter({ name, help: 'Quantities reported by relays in outcome batches, by outcome, reason and data category.', labelNames: ['outcome', 'reason', 'category'], registers })),
    stateWrites: metric('state_writes_total', (name) => new Counter({ name, help: 'Writes of the rebalancing state.', labelNames: ['kind'], registers })),
    perOrgRuns: metric('per_org_runs_total', (name) => new Counter({ name, help: 'Per-org passes by status.', labelNames: ['status'], registers })),
    perOrgComparisons: metric('per_org_comparisons_total', (name) =>
      new Counter({ name, help: 'Per-org results compared with the classic computation (5% relative tolerance).', labelNames: ['value', 'outcome'], registers })),
  };
}
