// Generators of the closed-loop tests: skewed per-project traffic shapes, per-cycle tallies, stratified trace ids, and a bounded HTTP sender.

import http from 'node:http';

import { letters } from '../../src/demo/traffic';
import { randomValue } from '../../src/engine/evaluate';
import { SeededRandom } from './control';

export interface ProjectTraffic {
  id: number;
  slug: string;
  perCycle: number;
  /** [name, weight]; `small:N:prefix` expands to N small transactions sharing the weight. */
  transactions: Array<[string, number]>;
  healthShare: number;
  devShare: number;
}

/** The names and weights of a project's transactions, and which are the small ones. */
export function expand(t: ProjectTraffic): { names: string[]; weights: number[]; small: Set<string> } {
  const names: string[] = [];
  const weights: number[] = [];
  const small = new Set<string>();
  for (const [name, weight] of t.transactions) {
    const m = /^small:(\d+):(.*)$/.exec(name);
    if (!m) {
      names.push(name);
      weights.push(weight);
      continue;
    }
    const n = Number(m[1]);
    for (let i = 0; i < n; i++) {
      // Letters, not numbers: Relay scrubs numeric segments (`/api/report/12` → `/api/report/*`)
      // before rules match, which would merge the small transactions into one.
      const name = `${m[2]}${letters(i)}`;
      names.push(name);
      weights.push(weight / n);
      small.add(name);
    }
  }
  return { names, weights, small };
}

/** Kept count and applied-rate sum of a set of roots. */
export class Tally {
  total = 0;
  kept = 0;
  rateSum = 0;
  add(kept: boolean, rate: number): void {
    this.total += 1;
    if (kept) this.kept += 1;
    this.rateSum += rate;
  }
  get keptRate(): number {
    return this.total === 0 ? Number.NaN : this.kept / this.total;
  }
  get meanRate(): number {
    return this.total === 0 ? Number.NaN : this.rateSum / this.total;
  }
  static sum(tallies: Iterable<Tally>): Tally {
    const out = new Tally();
    for (const t of tallies) {
      out.total += t.total;
      out.kept += t.kept;
      out.rateSum += t.rateSum;
    }
    return out;
  }
}

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
    private readonly random: SeededRandom,
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

/** POSTs envelopes over keep-alive connections with at most `concurrency` requests in flight. */
export class EnvelopeSender {
  private readonly agent: http.Agent;

  constructor(private readonly baseUrl: string, private readonly concurrency = 32) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  }

  private post(projectId: number, publicKey: string, body: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${this.baseUrl}/api/${projectId}/envelope/`,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': 'application/x-sentry-envelope',
            'content-length': body.length,
            'x-sentry-auth': `Sentry sentry_version=7, sentry_key=${publicKey}, sentry_client=e2e/1.0`,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Sends every envelope; resolves with the statuses in order. */
  async sendAll(envelopes: ReadonlyArray<{ projectId: number; publicKey: string; body: Buffer }>): Promise<number[]> {
    const statuses = new Array<number>(envelopes.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < envelopes.length) {
        const i = next++;
        statuses[i] = await this.post(envelopes[i].projectId, envelopes[i].publicKey, envelopes[i].body);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, envelopes.length) }, worker));
    return statuses;
  }

  close(): void {
    this.agent.destroy();
  }
}
