// Options of the rebalancing tasks (Sentry's `dynamic-sampling.*` options and task constants), with their defaults.

import { MINUTE_MS } from '../state/keys';

export interface ControlOptions {
  /** `dynamic-sampling.config.killswitch`: configs carry no sampling at all. */
  killswitch: boolean;
  /** `dynamic-sampling:sliding_window.size` in hours (null disables the sliding window). */
  slidingWindowHours: number | null;
  /** `...prioritise_transactions.num_explicit_large_transactions`. */
  numExplicitLargeTransactions: number;
  /** `...prioritise_transactions.num_explicit_small_transactions`. */
  numExplicitSmallTransactions: number;
  /** `...prioritise_transactions.rebalance_intensity`. */
  rebalanceIntensity: number;
  /** `...prioritise_transactions.min_sample_rate` (floor of transaction rates). */
  transactionsMinSampleRate: number;
  /** `dynamic-sampling.recalibration.clamp-factor`: clamp out-of-range factors instead of resetting them. */
  recalibrationClampFactor: boolean;
  /**
   * TTL of recalibration factors (`...recalibration.factor-ttl-minutes`). The reference constant is
   * 10 minutes, the same as the schedule, so a factor has expired when the next run reads it and
   * the correction never accumulates; the default here is twice the interval.
   */
  recalibrationFactorTtlMs: number;
  /** `MAX_ORGS_PER_QUERY`, `MAX_PROJECTS_PER_QUERY`. */
  maxOrgsPerQuery: number;
  maxProjectsPerQuery: number;
  /** `MAX_TASK_SECONDS`: the time budget of every task. */
  maxTaskSeconds: number;
  /** `dynamic-sampling.per_org.killswitch`: no per-org pass runs. */
  perOrgKillswitch: boolean;
  /** `dynamic-sampling.per_org.rollout-rate`: organisations with `(id % 100000) / 100000 < rate` run per-org passes. */
  perOrgRolloutRate: number;
  /** `dynamic-sampling.sample-rate-override-per-project`: project id → rate replacing its balanced rate (per-org pipeline). */
  sampleRateOverridePerProject: Record<string, number>;
  /**
   * How the organisation's rate is met. `predictive`: the projects task predicts the kept share of
   * the counted traffic under the whole rule set that will be served (boosts with their decay,
   * health checks, environments, transaction rates) and solves for the rate the models get, so a
   * new release is compensated in the next cycle; recalibration then writes no factor. `feedback`:
   * Sentry's behaviour, the models get the target and the recalibration factor corrects afterwards.
   */
  rateBudget: 'predictive' | 'feedback';
  /** How far ahead the prediction looks (release boosts decay meanwhile), ms: the task interval (default 10 min). */
  budgetHorizonMs: number;
  /**
   * Predictive mode: correct the prediction by what it missed on the traffic decided under the
   * current configs (measured kept / predicted kept, from `budgetResidualMinRoots` roots up).
   */
  budgetResidual: boolean;
  budgetResidualMinRoots: number;
}

export const DEFAULT_CONTROL_OPTIONS: ControlOptions = {
  killswitch: false,
  slidingWindowHours: 24,
  numExplicitLargeTransactions: 30,
  numExplicitSmallTransactions: 0,
  rebalanceIntensity: 0.8,
  transactionsMinSampleRate: 0,
  recalibrationClampFactor: false,
  recalibrationFactorTtlMs: 20 * MINUTE_MS,
  maxOrgsPerQuery: 80,
  maxProjectsPerQuery: 4000,
  maxTaskSeconds: 7 * 60,
  perOrgKillswitch: false,
  perOrgRolloutRate: 1.0,
  sampleRateOverridePerProject: {},
  rateBudget: 'predictive',
  budgetHorizonMs: 10 * MINUTE_MS,
  budgetResidual: true,
  budgetResidualMinRoots: 200,
};

/** `MIN_REBALANCE_FACTOR`, `MAX_REBALANCE_FACTOR`. */
export const MIN_REBALANCE_FACTOR = 0.1;
export const MAX_REBALANCE_FACTOR = 10;
/** Windows of the volume queries. */
export const PROJECTS_QUERY_WINDOW_MS = 60 * MINUTE_MS;
export const TRANSACTIONS_QUERY_WINDOW_MS = 60 * MINUTE_MS;
export const RECALIBRATION_QUERY_WINDOW_MS = 5 * MINUTE_MS;
