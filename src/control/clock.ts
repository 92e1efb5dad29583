// Injectable clocks of the control plane: wall time (ms since the epoch) and a monotonic clock for time budgets.

/** Milliseconds since the Unix epoch. */
export type Clock = () => number;

/** Monotonic milliseconds (only differences matter). */
export type MonotonicClock = () => number;

export const systemClock: Clock = () => Date.now();
export const systemMonotonic: MonotonicClock = () => performance.now();

/** A time given as a `Date` or ms since the epoch, resolved against `clock` when absent. */
export function toMillis(at: Date | number | undefined, clock: Clock): number {
  if (at === undefined) return clock();
  return at instanceof Date ? at.getTime() : at;
}
