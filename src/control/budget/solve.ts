// Solves for the organisation rate the rebalancing models are given so that the predicted kept share meets the target.

export interface SolveOptions {
  /** Lowest rate tried (default 1e-4). */
  min?: number;
  /** Bisection steps (default 40: far below any rate a config can tell apart). */
  steps?: number;
}

/**
 * The model rate `s` in [min, 1] with `predictedShare(s) = target`, by bisection: the predicted
 * share does not decrease with `s` (every rate the models hand out grows with it). When even the
 * lowest rate keeps more than the target (rules that keep whole classes, like boosted
 * environments), the lowest rate; when the whole budget keeps less, 1.0.
 */
export function solveModelRate(target: number, predictedShare: (rate: number) => number, options: SolveOptions = {}): number {
  if (!(target > 0)) return 0;
  if (target >= 1) return 1;
  let lo = options.min ?? 1e-4;
  let hi = 1;
  if (predictedShare(hi) <= target) return hi;
  if (predictedShare(lo) >= target) return lo;
  for (let i = 0; i < (options.steps ?? 40); i++) {
    const mid = (lo + hi) / 2;
    if (predictedShare(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
