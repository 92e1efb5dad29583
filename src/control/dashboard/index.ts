// The dashboard served by the control plane at /dashboard/: wiring of its feed, readers and routes.

import type { Definitions } from '../definitions/repository';
import type { Router } from '../http/router';
import type { ProjectConfigCache } from '../serving/config-cache';
import type { ProjectStateBuilder } from '../serving/project-state';
import type { DynamicSamplingState } from '../state/ds-state';
import type { ReleaseBoosts } from '../state/releases';
import type { TrafficCounts } from '../traffic/counts';
import { ProjectSamplingConfigs } from './configs';
import { DashboardExplainer } from './explain';
import { DashboardFeed } from './feed';
import { DashboardOverviewReader } from './overview';
import { addDashboardRoutes } from './routes';
import type { PerOrgState } from '../per-org/store';

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
  /** The per-org pipeline's stored results (null in classic mode): rates and factor are read there. */
  perOrg: PerOrgState | null;
}

/** Adds the dashboard's routes; the feed returned is where the ingestion server connects its /stats and envelopes. */
export function addDashboard(router: Router, sources: DashboardSources): DashboardFeed {
  const feed = new DashboardFeed(sources.clock);
  const configs = new ProjectSamplingConfigs(sources);
  addDashboardRoutes(router, {
    feed,
    overview: new DashboardOverviewReader({ ...sources, feed, configs }),
    explainer: new DashboardExplainer({ ...sources, configs }),
  });
  return feed;
}
