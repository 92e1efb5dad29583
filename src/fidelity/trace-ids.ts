// Trace ids whose engine random values follow a low-discrepancy sequence per traffic class (closed-loop tests, the fidelity tool).

import { randomValue } from '../engine/evaluate';

const GOLDEN = (Math.sqrt(5) - 1) / 2;

/**
 * Trace ids whose engine random value (Relay's seeded random of the id, `randomValue`) follows a
 * low-discrepancy sequence per traffic class: the k-th root of a class gets a value near
 * frac(offset + k·φ). A few thousand roots then keep what millions would (the kept share of
 * every class tracks its sample rate instead of binomial noise), while each id stays an ordinary
 * random trace id the engine hashes as usual.
 */
export class StratifiedTraceIds {
  private readonly bins: string[][];
  private readonly counters = new Map<string, number>();

  constructor(
    private readonly random: { next(): number; hex32(): string },
    private readonly binCount = 2000,
    poolSize = 100_000,
  ) {
    this.bins = Array.from({ length: binCount }, () => []);
    for (let i = 0; i < poolSize; i++) this.addToPool();
  }

  private addToPool(): void {
    const id = this.random.hex32();
    this.bins[Math.min(this.binCount - 1, Math.floor(randomValue(id) * this.binCount))].push(id);
  }

  /** The next id of `klass`. */
  next(klass: string): string {
    let k = this.counters.get(klass);
    if (k === undefined) k = Math.floor(this.random.next() * 1_000_000);
    this.counters.set(klass, k + 1);
    const u = (k * GOLDEN) % 1;
    const target = Math.floor(u * this.binCount);
    // The bin of u, else its nearest non-empty neighbour (refilling when the pool runs dry).
    for (let d = 0; ; d++) {
      for (const b of [target - d, target + d]) {
        const bin = this.bins[b];
        if (bin !== undefined && bin.length > 0) return bin.pop()!;
      }
      if (d > 8) {
        for (let i = 0; i < this.binCount * 20; i++) this.addToPool();
        d = -1;
      }
    }
  }
}

