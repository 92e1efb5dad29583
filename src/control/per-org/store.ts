// The per-org pipeline's stored results (`ds::per_org:*` keys): changed-only project rates, transaction rates, the factor behind its freshness gate.

import type { Logger } from 'pino';
import { readStoredFloat } from '../../rules/stored-values';
import type { TransactionRates } from '../../rules/types';
import { formatStoredFloat } from '../state/floats';
import { DEFAULT_REDIS_CACHE_KEY_TTL_MS, MINUTE_MS } from '../state/keys';
import { formatTransactionRates, parseTransactionRates } from '../state/ordered-json';
import type { KeyValueStore } from '../store/kv';

export const perOrgProjectRatesKey = (orgId: number): string => `ds::per_org:o:${orgId}:project_sample_rates`;
export const perOrgTransactionRatesKey = (orgId: number, projectId: number): string => `ds::per_org:o:${orgId}:p:${projectId}:transaction_sample_rates`;
export const perOrgFactorKey = (orgId: number): string => `ds::per_org:o:${orgId}:recalibration_factor`;

/** `MIN_RECALIBRATION_FACTOR_AGE`: a factor younger than this is not rewritten (a second pass in one cycle would compound it). */
export const MIN_RECALIBRATION_FACTOR_AGE_MS = 9 * MINUTE_MS;

/** Python's `math.isclose` (relative tolerance 1e-9). */
const isClose = (a: number, b: number): boolean => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

/** What writing the factor did. */
export type FactorWrite = 'none' | 'skipped_fresh' | 'set' | 'deleted';

export class PerOrgState {
  constructor(
    private readonly kv: KeyValueStore,
    /** TTL of the factor (`dynamic-sampling.recalibration.factor-ttl-minutes`). */
    readonly factorTtlMs: number,
    private readonly logger?: Logger,
  ) {}

  // ---- project rates ----------------------------------------------------------------------------

  /** Writes only the rates that changed (`isclose`), renews the 24 h TTL; returns whether any changed. */
  async setProjectRates(orgId: number, rates: ReadonlyArray<{ id: number; newSampleRate: number }>): Promise<boolean> {
    if (rates.length === 0) return false;
    const key = perOrgProjectRatesKey(orgId);
    const stored = await this.kv.hgetall(key);
    const changed: Record<string, string> = {};
    for (const { id, newSampleRate } of rates) {
      const previous = readStoredFloat(stored[String(id)] ?? null);
      if (previous.kind === 'value' && isClose(previous.value, newSampleRate)) continue;
      changed[String(id)] = formatStoredFloat(newSampleRate);
    }
    if (Object.keys(changed).length > 0) await this.kv.hset(key, changed);
    await this.kv.pexpire(key, DEFAULT_REDIS_CACHE_KEY_TTL_MS);
    return Object.keys(changed).length > 0;
  }

  /** All stored project rates of the organisation (unparsable values left out). */
  async projectRates(orgId: number): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    for (const [field, raw] of Object.entries(await this.kv.hgetall(perOrgProjectRatesKey(orgId)))) {
      const read = readStoredFloat(raw);
      if (read.kind === 'value' && Number.isFinite(read.value)) out.set(Number(field), read.value);
    }
    return out;
  }

  /** The raw stored rate of a project, and whether the organisation has any (did a pass write?). */
  async rawProjectRate(orgId: number, projectId: number): Promise<{ raw: string | null; orgHasRates: boolean }> {
    const key = perOrgProjectRatesKey(orgId);
    const [raw, orgHasRates] = await Promise.all([this.kv.hget(key, String(projectId)), this.kv.exists(key)]);
    return { raw, orgHasRates };
  }

  // ---- transaction rates ------------------------------------------------------------------------

  /** Rewritten every pass for every balanced project (24 h). */
  async setTransactionRates(orgId: number, projectId: number, named: ReadonlyArray<readonly [string, number]>, implicit: number): Promise<void> {
    await this.kv.set(perOrgTransactionRatesKey(orgId, projectId), formatTransactionRates(named, implicit), DEFAULT_REDIS_CACHE_KEY_TTL_MS);
  }

  async transactionRates(orgId: number, projectId: number): Promise<TransactionRates | null> {
    const key = perOrgTransactionRatesKey(orgId, projectId);
    const raw = await this.kv.get(key);
    if (raw === null || raw === '') return null;
    try {
      return parseTransactionRates(raw, key);
    } catch (err) {
      this.logger?.warn({ err }, 'unreadable per-org transaction rates');
      return null;
    }
  }

  // ---- recalibration factor ---------------------------------------------------------------------

  rawFactor(orgId: number): Promise<string | null> {
    return this.kv.get(perOrgFactorKey(orgId));
  }

  /** The factor to build on: missing or unparsable → 1.0 (identity is stored as absence). */
  async factor(orgId: number): Promise<number> {
    const read = readStoredFloat(await this.rawFactor(orgId));
    return read.kind === 'value' && Number.isFinite(read.value) ? read.value : 1.0;
  }

  /** Age of the stored factor (TTL − PTTL), or null when there is none with a TTL. */
  async factorAgeMs(orgId: number): Promise<number | null> {
    const pttl = await this.kv.pttl(perOrgFactorKey(orgId));
    return pttl < 0 ? null : this.factorTtlMs - pttl;
  }

  /**
   * `write_recalibration_factor`: null writes nothing; a factor younger than 9 minutes is kept
   * (freshness gate); a bounded factor is stored (1.0 deletes the key); a discarded one (`bounded`
   * null) deletes it.
   */
  async writeFactor(orgId: number, factor: { value: number; bounded: number | null } | null): Promise<FactorWrite> {
    if (factor === null) return 'none';
    const age = await this.factorAgeMs(orgId);
    if (age !== null && age < MIN_RECALIBRATION_FACTOR_AGE_MS) return 'skipped_fresh';
    const key = perOrgFactorKey(orgId);
    if (factor.bounded === null || factor.bounded === 1.0) {
      await this.kv.del([key]);
      return 'deleted';
    }
    await this.kv.set(key, formatStoredFloat(factor.bounded), this.factorTtlMs);
    return 'set';
  }
}
