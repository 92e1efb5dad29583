// A small seeded PRNG (mulberry32) and helpers, so generated traffic is reproducible.

export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** 32 lowercase hex digits (a trace id, an event id). */
  hex32(): string {
    let out = '';
    for (let i = 0; i < 4; i++) out += (this.next() * 0x100000000 >>> 0).toString(16).padStart(8, '0');
    return out;
  }

  hex16(): string {
    return this.hex32().slice(0, 16);
  }
}

/** Zipf-distributed ranks in [0, n): rank k has weight 1 / (k + 1)^s. */
export class Zipf {
  private readonly cumulative: Float64Array;

  constructor(n: number, s = 1.1) {
    this.cumulative = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) {
      total += 1 / Math.pow(k + 1, s);
      this.cumulative[k] = total;
    }
    for (let k = 0; k < n; k++) this.cumulative[k] /= total;
  }

  sample(random: SeededRandom): number {
    const u = random.next();
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
