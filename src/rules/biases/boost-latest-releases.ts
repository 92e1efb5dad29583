// Boost latest releases bias: decaying factor rules for recently adopted releases (rules 1500..1509).

import {
  BOOSTED_RELEASES_LIMIT,
  LATEST_RELEASES_BOOST_DECAYED_FACTOR,
  LATEST_RELEASES_BOOST_FACTOR,
  RESERVED_IDS,
  timeToAdoption,
} from '../constants';
import { formatUtcSeconds, unixSecondsToEpochMicros, type EpochMicros } from '../time';
import type { BoostedRelease, SamplingRule } from '../types';

/** `1.5 ** (1 - base)`: 1.5 near a 0% base rate, 1.0 at 100%. */
export function latestReleaseBoostFactor(baseSampleRate: number): number {
  return LATEST_RELEASES_BOOST_FACTOR ** (1 - baseSampleRate);
}

/**
 * One rule per boosted release still inside its boost window at `now` (start = boost time,
 * end = start + the platform's time to adoption), in the given (hash) order, at most 10.
 */
export function boostLatestReleasesRules(
  baseSampleRate: number,
  releases: readonly BoostedRelease[],
  platform: string | null | undefined,
  now: EpochMicros,
): SamplingRule[] {
  const factor = latestReleaseBoostFactor(baseSampleRate);
  const tta = timeToAdoption(platform);
  const nowSeconds = now / 1_000_000;
  const active = releases.filter((r) => !(nowSeconds > r.timestamp + tta)).slice(0, BOOSTED_RELEASES_LIMIT);
  return active.map((release, idx) => ({
    id: RESERVED_IDS.boostLatestRelease + idx,
    type: 'trace',
    condition: {
      op: 'and',
      inner: [
        { op: 'eq', name: 'trace.release', value: [release.version] },
        { op: 'eq', name: 'trace.environment', value: release.environment },
      ],
    },
    samplingValue: { type: 'factor', value: factor },
    timeRange: {
      start: formatUtcSeconds(unixSecondsToEpochMicros(release.timestamp)),
      end: formatUtcSeconds(unixSecondsToEpochMicros(release.timestamp + tta)),
    },
    decayingFn: { type: 'linear', decayedValue: LATEST_RELEASES_BOOST_DECAYED_FACTOR },
  }));
}
