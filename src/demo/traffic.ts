// Seeded, realistic traffic: Zipf-distributed transaction names, a few releases and environments,
// and a share of health checks.

import { SeededRandom, Zipf } from './random';
import type { TraceShape } from './envelopes';

export interface TrafficOptions {
  seed?: number;
  publicKey: string;
  transactionNames?: number;
  releases?: readonly string[];
  environments?: readonly string[];
  /** Share of traces that are health checks (default 0.1). */
  healthCheckShare?: number;
}

export const HEALTH_CHECK_NAMES = ['/health', '/healthz', '/ready', '/live'];

/** An endless, reproducible stream of trace shapes for one project. */
export class TrafficGenerator {
  readonly random: SeededRandom;
  private readonly zipf: Zipf;
  private readonly names: string[];

  constructor(readonly options: TrafficOptions) {
    this.random = new SeededRandom(options.seed ?? 42);
    const n = options.transactionNames ?? 200;
    this.zipf = new Zipf(n);
    const resources = ['users', 'orders', 'products', 'carts', 'payments', 'search', 'reviews', 'invoices'];
    // Variants are spelled in letters: a segment with digits (`v10`) is an identifier that Relay's
    // normalization scrubs to `*` before rules match, which would merge the names.
    this.names = Array.from({ length: n }, (_, i) => `/api/${resources[i % resources.length]}/${i < 8 ? '' : `v${letters(i)}/`}{id}`);
  }

  next(): TraceShape {
    const r = this.random;
    const healthCheck = r.next() < (this.options.healthCheckShare ?? 0.1);
    return {
      traceId: r.hex32(),
      publicKey: this.options.publicKey,
      release: r.pick(this.options.releases ?? ['shop@1.0.0', 'shop@1.1.0', 'shop@1.2.0']),
      environment: r.pick(this.options.environments ?? ['production', 'production', 'production', 'staging', 'development']),
      transaction: healthCheck ? r.pick(HEALTH_CHECK_NAMES) : this.names[this.zipf.sample(r)],
      sampleRate: 1,
      sampled: true,
    };
  }
}

/** `i` in base 26, a–z (0 → a, 26 → ba): a distinct suffix per index that normalization leaves alone. */
export function letters(i: number): string {
  let out = '';
  do {
    out = String.fromCharCode(97 + (i % 26)) + out;
    i = Math.floor(i / 26);
  } while (i > 0);
  return out;
}
