// What the dashboard shows per organisation and project: measured kept rates (the control plane's counts),
// the rebalanced state, the ingestion server's /stats per project and per rule, and the kept-rate history with the
// rates in force each minute.

import type { PerOrgState } from '../per-org/store';
import { ruleName } from '../../rules/rule-names';
import type { ProjectStats, StatsSnapshot } from '../../server/stats';
import type { Definitions } from '../definitions/repository';
import type { OrganizationDefinition } from '../definitions/types';
import { describeProject } from '../serving/describe-project';
import type { DynamicSamplingState } from '../state/ds-state';
import { MINUTE_MS } from '../state/keys';
import type { ReleaseBoosts } from '../state/releases';
import { lastWindow, type TrafficCounts } from '../traffic/counts';
import { namedRules, type NamedSamplingConfig, type ProjectSamplingConfigs } from './configs';
import type { DashboardFeed } from './feed';
import { ratesAt, type OrganizationRateHistory } from './rate-history';

/** Roots in a window and the share kept (null without roots). */
export interface Volume {
  total: number;
  keep: number;
  keptRate: number | null;
}

/** One rule's share of a project's sampled envelopes (`/stats` counts chains of matched rule ids). */
export interface RuleStats {
  id: number;
  /** The bias (or investigation rule) that generated it. */
  bias: string;
  matched: number;
  kept: number;
  dropped: number;
}

export interface ProjectOverview {
  id: number;
  slug: string | null;
  platform: string | null;
  /** Trace roots counted by the control plane over the last hour and the last 5 minutes. */
  lastHour: Volume;
  last5Minutes: Volume;
  /** The rate the rebalancing (boost_low_volume_projects) stored for it; null before its first run. */
  rebalancedRate: number | null;
  /** Rebalanced above the organisation's rate (a low-volume project the rebalancing boosts). */
  boosted: boolean;
  boostedReleases: Array<{ version: string; environment: string | null; since: string }>;
  /** The ingestion server's `/stats` entry (null when no server is connected or it saw nothing). */
  server: ProjectStats | null;
  rules: RuleStats[];
  /** The config Relay gets now (cached; generated when nothing is cached yet), and the one generated from the current definitions and state. */
  servedConfig: NamedSamplingConfig;
  generatedConfig: NamedSamplingConfig;
}

export interface OrganizationOverview {
  id: number;
  slug: string | null;
  targetSampleRate: number | null;
  samplingMode: string;
  /** The rate rebalancing aims at: the target, else the sliding-window rate, else the blended rate. */
  organizationRate: number;
  recalibrationFactor: number;
  slidingWindowRate: number | null;
  lastHour: Volume;
  last5Minutes: Volume;
  projects: ProjectOverview[];
}

export interface DashboardOverview {
  now: string;
  /** Whether the ingestion server's /stats feeds the per-project and per-rule counts. */
  serverConnected: boolean;
  serverStartedAt: string | null;
  organizations: OrganizationOverview[];
}

export interface HistoryPoint {
  /** Start of the minute, ms since the epoch. */
  t: number;
  total: number;
  keep: number;
  /**
   * The organization's target and the rate rebalancing aimed at as they were at the end of the minute (a change
   * made during it shows from it on); null for minutes before the first recorded rates.
   */
  targetSampleRate: number | null;
  organizationRate: number | null;
}

export interface KeptRateHistory {
  minutes: number;
  /** The window shown, ms since the epoch (whole minutes, the current one included). */
  from: number;
  to: number;
  /** `targetSampleRate`, `organizationRate`: the rates in force now (each point has those of its minute). */
  organizations: Array<{ id: number; slug: string | null; targetSampleRate: number | null; organizationRate: number; points: HistoryPoint[] }>;
}

export interface OverviewDeps {
  definitions: Definitions;
  state: DynamicSamplingState;
  releases: ReleaseBoosts;
  counts: TrafficCounts;
  feed: DashboardFeed;
  configs: ProjectSamplingConfigs;
  clock: () => number;
  /** The per-org pipeline's results (null with the classic tasks). */
  perOrg: PerOrgState | null;
  rates: OrganizationRateHistory;
}

/** The most minutes of history served (minute buckets live 2 h). */
export const MAX_HISTORY_MINUTES = 120;

const volume = (total: number, keep: number): Volume => ({ total, keep, keptRate: total > 0 ? keep / total : null });

/** Per rule id: every chain it appears in counts as matched (a chain lists every rule that matched one envelope). */
export function ruleStatsOf(project: ProjectStats | null): RuleStats[] {
  const byId = new Map<number, RuleStats>();
  for (const [chain, counts] of Object.entries(project?.rules ?? {})) {
    if (chain === 'none') continue;
    for (const id of chain.split(',').map(Number)) {
      let r = byId.get(id);
      if (!r) byId.set(id, (r = { id, bias: ruleName(id), matched: 0, kept: 0, dropped: 0 }));
      r.matched += counts.kept + counts.dropped;
      r.kept += counts.kept;
      r.dropped += counts.dropped;
    }
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

export class DashboardOverviewReader {
  constructor(private readonly deps: OverviewDeps) {}

  private async organizationRate(org: OrganizationDefinition): Promise<{ rate: number; slidingWindow: number | null }> {
    const slidingWindow = await this.deps.state.slidingWindowOrgRate(org.id);
    return { rate: org.targetSampleRate ?? slidingWindow ?? org.blendedSampleRate ?? 1.0, slidingWindow };
  }

  /** Records the rates in force now of every organization that changed them (a target set, a task run). */
  async recordRates(): Promise<void> {
    const at = this.deps.clock();
    for (const org of this.deps.definitions.organizations()) {
      const { rate } = await this.organizationRate(org);
      await this.deps.rates.record(org.id, at, { targetSampleRate: org.targetSampleRate ?? null, organizationRate: rate });
    }
  }

  async overview(): Promise<DashboardOverview> {
    const { definitions, state, counts, feed, clock } = this.deps;
    const now = clock();
    const stats: StatsSnapshot | null = await feed.stats();
    const [hourOrgs, recentOrgs, hourProjects, recentProjects] = await Promise.all([
      counts.orgVolumes(lastWindow(now, 60 * MINUTE_MS)),
      counts.orgVolumes(lastWindow(now, 5 * MINUTE_MS)),
      counts.projectVolumes(lastWindow(now, 60 * MINUTE_MS)),
      counts.projectVolumes(lastWindow(now, 5 * MINUTE_MS)),
    ]);
    const organizations: OrganizationOverview[] = [];
    for (const org of definitions.organizations()) {
      const { rate, slidingWindow } = await this.organizationRate(org);
      const hour = hourOrgs.find((v) => v.orgId === org.id);
      const recent = recentOrgs.find((v) => v.orgId === org.id);
      const projects: ProjectOverview[] = [];
      for (const project of org.projects) {
        if (project.disabled) continue;
        const description = await describeProject(this.deps, project, org, now);
        const stored = Number(description.state?.rebalancedProjectRate ?? Number.NaN);
        const rebalancedRate = Number.isFinite(stored) ? stored : null;
        const h = hourProjects.find((v) => v.projectId === project.id);
        const r = recentProjects.find((v) => v.projectId === project.id);
        const server = stats?.projects[String(project.id)] ?? null;
        const key = definitions.publicKeysOf(project).find((k) => k.isEnabled !== false)?.publicKey;
        const [served, generated] = key === undefined ? [null, null] : await Promise.all([this.deps.configs.current(key), this.deps.configs.generated(key)]);
        projects.push({
          id: project.id,
          slug: project.slug ?? null,
          platform: project.platform ?? null,
          lastHour: volume((h?.keep ?? 0) + (h?.drop ?? 0), h?.keep ?? 0),
          last5Minutes: volume((r?.keep ?? 0) + (r?.drop ?? 0), r?.keep ?? 0),
          rebalancedRate,
          boosted: rebalancedRate !== null && rebalancedRate > rate * (1 + 1e-9),
          boostedReleases: (description.state?.boostedReleases ?? []).map((b) => ({
            version: b.version,
            environment: b.environment,
            since: new Date(b.timestamp * 1000).toISOString(),
          })),
          server,
          rules: ruleStatsOf(server),
          servedConfig: { source: served?.source ?? 'generated', rules: namedRules(served?.state ?? null) },
          generatedConfig: { source: 'generated', rules: namedRules(generated?.state ?? null) },
        });
      }
      organizations.push({
        id: org.id,
        slug: org.slug ?? null,
        targetSampleRate: org.targetSampleRate ?? null,
        samplingMode: org.samplingMode ?? 'organization',
        organizationRate: rate,
        recalibrationFactor: this.deps.perOrg ? await this.deps.perOrg.factor(org.id) : await state.factor({ organizationId: org.id }),
        slidingWindowRate: slidingWindow,
        lastHour: volume(hour?.total ?? 0, hour?.keep ?? 0),
        last5Minutes: volume(recent?.total ?? 0, recent?.keep ?? 0),
        projects,
      });
    }
    return { now: new Date(now).toISOString(), serverConnected: feed.statsConnected, serverStartedAt: stats?.startedAt ?? null, organizations };
  }

  /**
   * Roots and kept roots per organisation and minute over the last `minutes` (minutes without roots left out), each
   * with the rates in force then.
   */
  async history(minutes: number): Promise<KeptRateHistory> {
    const { definitions, counts, clock } = this.deps;
    // Catches changes no hook saw (a definitions file reloaded, another control-plane process's task run).
    await this.recordRates();
    const now = clock();
    const end = lastWindow(now, MINUTE_MS).to;
    const starts = Array.from({ length: minutes }, (_, i) => end - (minutes - i) * MINUTE_MS);
    const perMinute = await Promise.all(starts.map((from) => counts.orgVolumes({ from, to: from + MINUTE_MS })));
    const organizations: KeptRateHistory['organizations'] = [];
    for (const org of definitions.organizations()) {
      const changes = await this.deps.rates.changes(org.id);
      const points: HistoryPoint[] = [];
      perMinute.forEach((volumes, i) => {
        const v = volumes.find((x) => x.orgId === org.id);
        if (!v || v.total === 0) return;
        const rates = ratesAt(changes, Math.min(starts[i] + MINUTE_MS - 1, now));
        points.push({ t: starts[i], total: v.total, keep: v.keep, targetSampleRate: rates?.targetSampleRate ?? null, organizationRate: rates?.organizationRate ?? null });
      });
      const { rate } = await this.organizationRate(org);
      organizations.push({ id: org.id, slug: org.slug ?? null, targetSampleRate: org.targetSampleRate ?? null, organizationRate: rate, points });
    }
    return { minutes, from: end - minutes * MINUTE_MS, to: end, organizations };
  }
}
