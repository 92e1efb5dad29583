// The dashboard served by the control plane at /dashboard/: wiring of its feed, readers and routes.

import type { Logger } from 'pino';
import type { PerOrgState } from '../per-org/store';
import type { Definitions } from '../definitions/repository';
import type { Router } from '../http/router';
import type { ProjectConfigCache } from '../serving/config-cache';
import type { ProjectStateBuilder } from '../serving/project-state';
import type { DynamicSamplingState } from '../state/ds-state';
import { MINUTE_MS } from '../state/keys';
import type { ReleaseBoosts } from '../state/releases';
import type { KeyValueStore } from '../store/kv';
import type { TrafficCounts } from '../traffic/counts';
import { ProjectSamplingConfigs } from './configs';
import { DashboardExplainer } from './explain';
import { DashboardFeed } from './feed';
import { DashboardOverviewReader, MAX_HISTORY_MINUTES } from './overview';
import { OrganizationRateHistory } from './rate-history';
import { addDashboardRoutes } from './routes';

export { DASHBOARD_PATH } from './path';
export { DashboardFeed } from './feed';

export interface DashboardSources {
  definitions: Definitions;
  state: DynamicSamplingState;
  releases: ReleaseBoosts;
  counts: TrafficCounts;
  cache: ProjectConfigCache;
  builder: ProjectStateBuilder;
  clock: () => number;
  reservoir: boolean;
  /** The per-org pipeline's results (null with the classic tasks): rebalanced rates and factor come from there. */
  perOrg: PerOrgState | null;
  /** Where the organizations' rates over time are recorded (the control plane's store). */
  kv: KeyValueStore;
  /** Registers a listener of invalidation runs (after task runs: the rates they changed are in force). */
  onInvalidationRun: (listener: () => void) => unknown;
  logger: Logger;
}

/** Adds the dashboard's routes; the feed returned is where the ingestion server connects its /stats and envelopes. */
export function addDashboard(router: Router, sources: DashboardSources): DashboardFeed {
  const feed = new DashboardFeed(sources.clock);
  const configs = new ProjectSamplingConfigs(sources);
  const rates = new OrganizationRateHistory(sources.kv, MAX_HISTORY_MINUTES * MINUTE_MS);
  const overview = new DashboardOverviewReader({ ...sources, feed, configs, rates });
  // The chart draws each minute's target: record the rates when they may change (and once at start).
  const recordRates = (): void => {
    overview.recordRates().catch((err: unknown) => sources.logger.warn({ err }, 'recording the organizations\' rates for the dashboard failed'));
  };
  sources.definitions.onChange(recordRates);
  sources.onInvalidationRun(recordRates);
  recordRates();
  addDashboardRoutes(router, { feed, overview, explainer: new DashboardExplainer({ ...sources, configs }) });
  return feed;
}
