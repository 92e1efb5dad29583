// OpenTelemetry consistent probability sampling in the `ot` tracestate entry: `th` (rejection
// threshold) and `rv` (randomness), both 56-bit values as hex. A span is kept when rv >= th.

const DIGITS = 14;
const MAX = 'ffffffffffffff';
const TWO_POW_53 = 2 ** 53;

/** Hex of a non-negative integer below 2^56 (exact in a double when a multiple of 8 above 2^53), padded to 14 digits. */
function hex56(value: number): string {
  return value >= 2 ** 56 ? MAX : value.toString(16).padStart(DIGITS, '0');
}

/**
 * The threshold for a rate, as `th` (trailing zeros dropped) and padded to 14 digits for comparison;
 * null when nothing is kept (rate <= 0). Chosen so that with `randomnessFromValue(v)` the test
 * rv >= th holds exactly when v < rate, the engine's own test.
 */
export function thresholdFor(rate: number): { th: string; padded: string } | null {
  if (Number.isNaN(rate) || rate >= 1) return { th: '0', padded: '0'.repeat(DIGITS) };
  if (!(rate > 0)) return null;
  // v = k / 2^53 is kept iff k < ceil(rate * 2^53) = c, iff 8 * (2^53 - 1 - k) >= 8 * (2^53 - c):
  // the usual (1 - rate) * 2^56 whenever rate * 2^53 is whole (0.5 gives th:8).
  const c = Math.ceil(rate * TWO_POW_53);
  const padded = hex56(8 * (TWO_POW_53 - c));
  return { th: padded.replace(/0+$/, '') || '0', padded };
}

/** The randomness `rv` standing for the engine's value v = k / 2^53 in [0, 1): 8 * (2^53 - 1 - k), so a lower value is a higher rv. */
export function randomnessFromValue(value: number): string {
  // As two 28-bit halves (small integers print faster than a 56-bit double).
  const m = TWO_POW_53 - 1 - value * TWO_POW_53;
  const high = Math.floor(m / 0x200_0000);
  const low = (m - high * 0x200_0000) * 8;
  return high.toString(16).padStart(7, '0') + low.toString(16).padStart(7, '0');
}

export interface OtEntry {
  /** `rv` as 14 hex digits, when the entry holds a valid one. */
  rv: string | undefined;
  th: string | undefined;
  /** Other sub-keys, kept as they are. */
  rest: string[];
}

/** Reads an `ot` tracestate value (`th:...;rv:...;...`). */
export function parseOtEntry(raw: string | undefined): OtEntry | undefined {
  if (raw === undefined) return undefined;
  const entry: OtEntry = { rv: undefined, th: undefined, rest: [] };
  for (const part of raw.split(';')) {
    if (part.startsWith('rv:') && /^[0-9a-f]{14}$/.test(part.slice(3))) entry.rv = part.slice(3);
    else if (part.startsWith('th:') && /^[0-9a-f]{1,14}$/.test(part.slice(3))) entry.th = part.slice(3);
    else if (part !== '') entry.rest.push(part);
  }
  return entry;
}

/** Writes an `ot` value with the threshold, the randomness and any other sub-keys. */
export function formatOtEntry(th: string, rv: string, rest?: readonly string[]): string {
  const entry = `th:${th};rv:${rv}`;
  return rest === undefined || rest.length === 0 ? entry : `${entry};${rest.join(';')}`;
}

/** Whether randomness `rv` (14 hex digits) passes the threshold (padded hex compare = numeric compare). */
export function passes(rv: string, threshold: { padded: string }): boolean {
  return rv >= threshold.padded;
}
