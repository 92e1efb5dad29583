// Latest-release boosting (§8): release rows, the observed marker, the latest release date and the boosted-releases hash.

import { BOOSTED_RELEASES_LIMIT, timeToAdoption } from '../../rules/constants';
import type { KeyValueStore } from '../store/kv';
import type { BoostedRelease } from '../../rules/types';
import { formatStoredFloat } from './floats';
import {
  BOOSTED_RELEASES_TTL_MS,
  boostedReleaseField,
  boostedReleasesKey,
  latestReleaseKey,
  OBSERVED_RELEASE_TTL_MS,
  observedReleaseKey,
  parseBoostedReleaseField,
  RELEASE_SEQUENCE_KEY,
  releaseIdsKey,
  releaseRowKey,
} from './keys';

/** A release row (Sentry's `Release`): created when a project first reports the version. */
export interface ReleaseRow {
  id: number;
  version: string;
  projectId: number;
  /** Unix seconds: `date_released` or, here, the first time the release was seen. */
  dateAdded: number;
}

export interface ObserveReleaseInput {
  projectId: number;
  release: string;
  /** `""` counts as no environment. */
  environment?: string | null;
  /** The project's platform, which sets how long a boost lasts. */
  platform?: string | null;
  /** ms since the epoch. */
  at: number;
}

export type ObserveOutcome = 'boosted' | 'alreadyObserved' | 'olderThanLatest';

export class ReleaseBoosts {
  constructor(private readonly kv: KeyValueStore) {}

  /** The release row of `version` in the project, created (with `at` as its date) on first sight. */
  async releaseRow(projectId: number, version: string, at: number): Promise<ReleaseRow> {
    const idsKey = releaseIdsKey(projectId);
    let id = await this.kv.hget(idsKey, version);
    if (id === null) {
      const fresh = String(await this.kv.incr(RELEASE_SEQUENCE_KEY));
      if (await this.kv.hsetnx(idsKey, version, fresh)) {
        await this.kv.hset(releaseRowKey(Number(fresh)), {
          version,
          projectId: String(projectId),
          dateAdded: formatStoredFloat(at / 1000),
        });
      }
      id = (await this.kv.hget(idsKey, version))!;
    }
    const row = await this.kv.hgetall(releaseRowKey(Number(id)));
    return { id: Number(id), version, projectId, dateAdded: Number(row.dateAdded ?? at / 1000) };
  }

  private async rows(ids: readonly number[]): Promise<Map<number, ReleaseRow>> {
    const raw = await this.kv.hgetallMany(ids.map(releaseRowKey));
    const out = new Map<number, ReleaseRow>();
    ids.forEach((id, i) => {
      const r = raw[i];
      if (r && r.version !== undefined) out.set(id, { id, version: r.version, projectId: Number(r.projectId), dateAdded: Number(r.dateAdded) });
    });
    return out;
  }

  /**
   * `observe_release` + `add_boosted_release`: marks the release (and environment) as observed
   * for 24 h; the first observation of a release at least as new as the latest one boosts it.
   * Returns `boosted` when the caller must invalidate the project's config.
   */
  async observe(input: ObserveReleaseInput): Promise<ObserveOutcome> {
    const environment = input.environment ? input.environment : null;
    const row = await this.releaseRow(input.projectId, input.release, input.at);
    const marker = await this.kv.getset(observedReleaseKey(input.projectId, row.id, environment), '1', OBSERVED_RELEASE_TTL_MS);
    if (marker === '1') return 'alreadyObserved';

    const latestRaw = await this.kv.get(latestReleaseKey(input.projectId));
    const latest = latestRaw === null ? null : Number(latestRaw);
    if (latest !== null && Number.isFinite(latest) && row.dateAdded < latest) return 'olderThanLatest';
    await this.kv.set(latestReleaseKey(input.projectId), formatStoredFloat(row.dateAdded));
    await this.addBoostedRelease(input.projectId, row.id, environment, input.platform ?? null, input.at);
    return 'boosted';
  }

  private async addBoostedRelease(projectId: number, releaseId: number, environment: string | null, platform: string | null, at: number): Promise<void> {
    const key = boostedReleasesKey(projectId);
    const active = await this.active(projectId, platform, at);
    if (active.length >= BOOSTED_RELEASES_LIMIT) {
      const oldest = active.reduce((a, b) => (b.timestamp < a.timestamp ? b : a));
      await this.kv.hdel(key, [oldest.field]);
    }
    await this.kv.hset(key, { [boostedReleaseField(releaseId, environment)]: formatStoredFloat(at / 1000) });
    await this.kv.pexpire(key, BOOSTED_RELEASES_TTL_MS);
  }

  /** Active entries in hash order; expired entries and entries without a release row are deleted. */
  private async active(projectId: number, platform: string | null, now: number): Promise<Array<BoostedRelease & { field: string }>> {
    const key = boostedReleasesKey(projectId);
    const hash = await this.kv.hgetall(key);
    const parsed: Array<{ field: string; releaseId: number; environment: string | null; timestamp: number }> = [];
    const expired: string[] = [];
    for (const [field, value] of Object.entries(hash)) {
      const p = parseBoostedReleaseField(field);
      const timestamp = Number(value);
      if (p === null || !Number.isFinite(timestamp)) expired.push(field);
      else parsed.push({ field, ...p, timestamp });
    }
    const rows = await this.rows([...new Set(parsed.map((p) => p.releaseId))]);
    const tta = timeToAdoption(platform);
    const out: Array<BoostedRelease & { field: string }> = [];
    for (const p of parsed) {
      const row = rows.get(p.releaseId);
      if (!row || now / 1000 > p.timestamp + tta) expired.push(p.field);
      else out.push({ field: p.field, version: row.version, environment: p.environment, timestamp: p.timestamp });
    }
    if (expired.length > 0) await this.kv.hdel(key, expired);
    return out;
  }

  /** `get_extended_boosted_releases`: the project's active boosts, in hash order. */
  async boostedReleases(projectId: number, platform: string | null | undefined, now: number): Promise<BoostedRelease[]> {
    return (await this.active(projectId, platform ?? null, now)).map(({ version, environment, timestamp }) => ({ version, environment, timestamp }));
  }
}
