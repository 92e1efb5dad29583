// The §6 state (rates, factors, transaction rates, sliding-window rates) read and written with Sentry's keys, TTLs and fallbacks.

import type { Logger } from 'pino';
import { StoredStateError } from '../errors';
import { readStoredFloat } from '../../rules/stored-values';
import type { KeyValueStore } from '../store/kv';
import type { TransactionRates } from '../../rules/types';
import { formatStoredFloat } from './floats';
import {
  DEFAULT_REDIS_CACHE_KEY_TTL_MS,
  orgFactorKey,
  projectFactorKey,
  projectRatesKey,
  REFERENCE_ADJUSTED_FACTOR_TTL_MS,
  SLIDING_WINDOW_EXECUTED_TTL_MS,
  SLIDING_WINDOW_ORG_EXECUTED_KEY,
  slidingWindowOrgRateKey,
  transactionRatesKey,
} from './keys';
import { formatTransactionRates, parseTransactionRates } from './ordered-json';

export interface DynamicSamplingStateOptions {
  /** TTL of recalibration factors (default: the reference's 10 minutes). */
  factorTtlMs?: number;
  logger?: Logger;
}

/** Whose recalibration factor: the organisation's, or a project's (project mode). */
export type FactorOwner = { organizationId: number } | { projectId: number };

function factorKey(owner: FactorOwner): string {
  return 'organizationId' in owner ? orgFactorKey(owner.organizationId) : projectFactorKey(owner.projectId);
}

/** The result of reading a rate with a fallback: the rate, and whether it was the stored one. */
export interface RateRead {
  rate: number;
  /** `stored`, `noTraffic` (missing, but the sliding window ran) or `fallback`. */
  source: 'stored' | 'noTraffic' | 'fallback';
}

export class DynamicSamplingState {
  readonly factorTtlMs: number;
  private readonly logger: Logger | undefined;

  constructor(readonly kv: KeyValueStore, options: DynamicSamplingStateOptions = {}) {
    this.factorTtlMs = options.factorTtlMs ?? REFERENCE_ADJUSTED_FACTOR_TTL_MS;
    this.logger = options.logger;
  }

  // ---- projects rebalancing ---------------------------------------------------------------------

  /** The raw stored rebalanced rate of a project (what rule generation's base-rate reader gets). */
  rawProjectRate(orgId: number, projectId: number): Promise<string | null> {
    return this.kv.hget(projectRatesKey(orgId), String(projectId));
  }

  /**
   * `get_boost_low_volume_projects_sample_rate`: the stored rate; missing → 1.0 when the sliding
   * window ran (the org had no traffic), else the fallback; unparsable → the fallback.
   */
  async projectRate(orgId: number, projectId: number, fallback: number): Promise<RateRead> {
    const key = projectRatesKey(orgId);
    const read = readStoredFloat(await this.kv.hget(key, String(projectId)));
    if (read.kind === 'value' && Number.isFinite(read.value)) return { rate: read.value, source: 'stored' };
    if (read.kind === 'missing') {
      if (await this.slidingWindowExecuted()) return { rate: 1.0, source: 'noTraffic' };
    } else {
      this.logger?.warn({ err: new StoredStateError(`${key}[${projectId}]`, 'not a float') }, 'unreadable project rate');
    }
    return { rate: fallback, source: 'fallback' };
  }

  /** Writes a project rate (HSET, then PEXPIRE 24 h on the hash) and returns the previous value. */
  async setProjectRate(orgId: number, projectId: number, rate: number): Promise<number | null> {
    const key = projectRatesKey(orgId);
    const previous = readStoredFloat(await this.kv.hget(key, String(projectId)));
    await this.kv.hset(key, { [String(projectId)]: formatStoredFloat(rate) });
    await this.kv.pexpire(key, DEFAULT_REDIS_CACHE_KEY_TTL_MS);
    return previous.kind === 'value' ? previous.value : null;
  }

  // ---- transactions rebalancing -----------------------------------------------------------------

  /** Stored transaction rates; missing, empty or unparsable → null (the bias then adds no rules). */
  async transactionRates(orgId: number, projectId: number): Promise<TransactionRates | null> {
    const key = transactionRatesKey(orgId, projectId);
    const raw = await this.kv.get(key);
    if (raw === null || raw === '') return null;
    try {
      return parseTransactionRates(raw, key);
    } catch (err) {
      this.logger?.warn({ err }, 'unreadable transaction rates');
      return null;
    }
  }

  async setTransactionRates(orgId: number, projectId: number, named: ReadonlyArray<readonly [string, number]>, implicit: number): Promise<void> {
    await this.kv.set(transactionRatesKey(orgId, projectId), formatTransactionRates(named, implicit), DEFAULT_REDIS_CACHE_KEY_TTL_MS);
  }

  // ---- recalibration ----------------------------------------------------------------------------

  /** The raw stored factor (what the recalibration bias reads). */
  rawFactor(owner: FactorOwner): Promise<string | null> {
    return this.kv.get(factorKey(owner));
  }

  /** The factor to build on: missing or unparsable → 1.0. */
  async factor(owner: FactorOwner): Promise<number> {
    const read = readStoredFloat(await this.rawFactor(owner));
    return read.kind === 'value' && Number.isFinite(read.value) ? read.value : 1.0;
  }

  /** Stores a factor with its TTL; a factor of 1.0 is never stored: the key is deleted instead. */
  async setFactor(owner: FactorOwner, factor: number): Promise<void> {
    if (factor === 1.0) {
      await this.deleteFactor(owner);
      return;
    }
    await this.kv.set(factorKey(owner), formatStoredFloat(factor), this.factorTtlMs);
  }

  async deleteFactor(owner: FactorOwner): Promise<void> {
    await this.kv.del([factorKey(owner)]);
  }

  // ---- sliding window ---------------------------------------------------------------------------

  /** The org's sliding-window rate; missing or unparsable → null (callers use their default). */
  async slidingWindowOrgRate(orgId: number): Promise<number | null> {
    const read = readStoredFloat(await this.kv.get(slidingWindowOrgRateKey(orgId)));
    return read.kind === 'value' && Number.isFinite(read.value) ? read.value : null;
  }

  async setSlidingWindowOrgRate(orgId: number, rate: number): Promise<void> {
    await this.kv.set(slidingWindowOrgRateKey(orgId), formatStoredFloat(rate), DEFAULT_REDIS_CACHE_KEY_TTL_MS);
  }

  async markSlidingWindowExecuted(): Promise<void> {
    await this.kv.set(SLIDING_WINDOW_ORG_EXECUTED_KEY, '1', SLIDING_WINDOW_EXECUTED_TTL_MS);
  }

  slidingWindowExecuted(): Promise<boolean> {
    return this.kv.exists(SLIDING_WINDOW_ORG_EXECUTED_KEY);
  }
}
