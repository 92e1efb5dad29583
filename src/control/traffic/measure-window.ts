// The window of traffic decided under the configs in force: counts since the last run that changed them, so runs closer together than the query window never read older decisions twice.

import { MINUTE_MS } from '../state/keys';
import type { KeyValueStore } from '../store/kv';
import { lastWindow, type Window } from './counts';

/** How long a "configs changed at" mark is kept: longer than any query window. */
const MARK_TTL_MS = 24 * 60 * MINUTE_MS;

/** The key of the mark of one measure (`recalibration`, `budget`) for one owner (`o:{org}`, `p:{project}`). */
export const measureKey = (measure: string, owner: string): string => `dsctl:measured:${measure}:${owner}`;

/**
 * The last `maxMs` up to `now`, starting no earlier than the first whole minute after the mark
 * (a minute bucket holding the mark mixes decisions of the old and new configs). Empty (from ≥ to)
 * when no whole minute has passed since the mark: the caller then measures nothing.
 */
export async function measureWindow(kv: KeyValueStore, key: string, now: number, maxMs: number): Promise<Window> {
  const window = lastWindow(now, maxMs);
  const mark = Number(await kv.get(key));
  if (!Number.isFinite(mark) || mark <= 0) return window;
  const firstWhole = Math.ceil(mark / MINUTE_MS) * MINUTE_MS;
  return { from: Math.max(window.from, firstWhole), to: window.to };
}

/** Records that the configs changed at `now` (the measure's next window starts after it). */
export async function markMeasured(kv: KeyValueStore, key: string, now: number): Promise<void> {
  await kv.set(key, String(now), MARK_TTL_MS);
}
