// Redis key names and TTLs of the dynamic-sampling state (Sentry's names, §6), plus this project's own keys.

export const HOUR_MS = 60 * 60 * 1000;
export const MINUTE_MS = 60 * 1000;

/** `DEFAULT_REDIS_CACHE_KEY_TTL`: project rates, transaction rates, sliding-window org rates. */
export const DEFAULT_REDIS_CACHE_KEY_TTL_MS = 24 * HOUR_MS;
/** `ADJUSTED_FACTOR_REDIS_CACHE_KEY_TTL` of the reference (see `ControlOptions.recalibrationFactorTtlMs`). */
export const REFERENCE_ADJUSTED_FACTOR_TTL_MS = 10 * MINUTE_MS;
/** `ds::sliding_window_org_executed` lives this long after a full sliding-window run. */
export const SLIDING_WINDOW_EXECUTED_TTL_MS = HOUR_MS;
/** The boosted-releases hash expires this long after its last addition. */
export const BOOSTED_RELEASES_TTL_MS = HOUR_MS;
/** The "release observed" marker. */
export const OBSERVED_RELEASE_TTL_MS = 24 * HOUR_MS;
/** Generated project configs are cached this long. */
export const PROJECT_CONFIG_TTL_MS = HOUR_MS;

// ---- Sentry's keys -----------------------------------------------------------------------------

export const projectRatesKey = (orgId: number): string => `ds::o:${orgId}:prioritise_projects`;
export const transactionRatesKey = (orgId: number, projectId: number): string => `ds::o:${orgId}:p:${projectId}:pri_tran`;
export const orgFactorKey = (orgId: number): string => `ds::o:${orgId}:rate_rebalance_factor2`;
export const projectFactorKey = (projectId: number): string => `ds::p:${projectId}:rate_rebalance_factor2`;
export const slidingWindowOrgRateKey = (orgId: number): string => `ds::o:${orgId}:sliding_window_org_sample_rate`;
export const SLIDING_WINDOW_ORG_EXECUTED_KEY = 'ds::sliding_window_org_executed';
export const boostedReleasesKey = (projectId: number): string => `ds::p:${projectId}:boosted_releases`;
export const latestReleaseKey = (projectId: number): string => `ds::p:${projectId}:latest_release`;

const envSuffix = (environment: string | null): string => (environment === null ? '' : `:e:${environment}`);
/** Field of the boosted-releases hash: `ds::r:{release_id}[:e:{env}]`. */
export const boostedReleaseField = (releaseId: number, environment: string | null): string => `ds::r:${releaseId}${envSuffix(environment)}`;
export const observedReleaseKey = (projectId: number, releaseId: number, environment: string | null): string =>
  `ds::p:${projectId}:r:${releaseId}${envSuffix(environment)}`;
const BOOSTED_FIELD = /^ds::r:(\d+)(:e:(.+))?$/;
/** Parses a boosted-releases field (or a bare integer, the legacy format); null when it is neither. */
export function parseBoostedReleaseField(field: string): { releaseId: number; environment: string | null } | null {
  const m = BOOSTED_FIELD.exec(field);
  if (m) return { releaseId: Number(m[1]), environment: m[3] ?? null };
  if (/^\d+$/.test(field)) return { releaseId: Number(field), environment: null };
  return null;
}

export const projectConfigKey = (publicKey: string): string => `relayconfig:${publicKey}`;
export const projectConfigRevKey = (publicKey: string): string => `relayconfig:${publicKey}.rev`;

// ---- This project's keys ------------------------------------------------------------------------

/** Release rows (Sentry's `Release` table): version → id per project, and id → row. */
export const releaseIdsKey = (projectId: number): string => `dsctl:releases:p:${projectId}`;
export const releaseRowKey = (releaseId: number): string => `dsctl:release:${releaseId}`;
export const RELEASE_SEQUENCE_KEY = 'dsctl:release_seq';

/** Debounce markers of invalidations (`relayconfig-debounce`), per scope. */
export type InvalidationScope = { organizationId: number } | { projectId: number } | { publicKey: string };
export function debounceKey(scope: InvalidationScope): string {
  if ('organizationId' in scope) return `relayconfig-debounce:o:${scope.organizationId}`;
  if ('projectId' in scope) return `relayconfig-debounce:p:${scope.projectId}`;
  return `relayconfig-debounce:k:${scope.publicKey}`;
}
/** Marker of a config build started for a cache miss (so that a burst of misses builds once). */
export const buildDebounceKey = (publicKey: string): string => `relayconfig-build:${publicKey}`;

/** Definitions changed through the API, per entity (when Redis is configured). */
export const DEFINITIONS_OVERRIDES_KEY = 'dsctl:definitions';
export const DEFINITIONS_CHANNEL = 'dsctl:definitions:changed';

/** Releases seen by ingestion processes that count into Redis without a control plane of their own. */
export const RELEASES_OBSERVED_CHANNEL = 'dsctl:releases:observed';
/** Claim of one scheduled run of a task: `dsctl:schedule:<task>:<period>` (one run per period in the fleet). */
export const scheduleClaimKey = (taskId: string, period: number): string => `dsctl:schedule:${taskId}:${period}`;
