// Exponential backoff between failed upstream rounds (Relay's RetryBackoff: 0, then 1 s ×1.5 up to 60 s).

export interface BackoffOptions {
  /** First delay after a failure, ms (default 1000). */
  initial?: number;
  /** Growth factor per further failure (default 1.5). */
  multiplier?: number;
  /** Upper bound, ms (default 60000). */
  max?: number;
}

export class Backoff {
  private readonly initial: number;
  private readonly multiplier: number;
  private readonly max: number;
  private delay = 0;
  private failures = 0;

  constructor(options: BackoffOptions = {}) {
    this.initial = options.initial ?? 1000;
    this.multiplier = options.multiplier ?? 1.5;
    this.max = options.max ?? 60_000;
  }

  /** The delay to add before the next attempt, ms (0 until something failed). */
  get current(): number {
    return this.delay;
  }

  /** How many attempts failed in a row. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Records a failure and returns the new delay. */
  fail(): number {
    this.failures += 1;
    this.delay = Math.min(this.failures === 1 ? this.initial : this.delay * this.multiplier, this.max);
    return this.delay;
  }

  /** Records a success: the next attempt goes without delay. */
  reset(): void {
    this.failures = 0;
    this.delay = 0;
  }
}
