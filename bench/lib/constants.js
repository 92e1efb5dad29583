'use strict';
// Fixed inputs shared by the benchmark, the envelope capture and the memory probe.

/** The benchmarked project (the DSN key of the captured envelopes). */
const BENCH_PUBLIC_KEY = 'abd0f232775f45feab79864e580d160b';
const BENCH_PROJECT_ID = 42;
const BENCH_ORGANIZATION_ID = 1;

/** The engines' pinned clock: release boosts and time ranges are generated relative to it. */
const NOW_MS = Date.parse('2025-06-02T12:00:00Z');

/** Seeded traffic: Zipf-distributed names over a large name space, releases, environments, 10% health checks. */
const TRAFFIC = Object.freeze({
  seed: 42,
  publicKey: BENCH_PUBLIC_KEY,
  transactionNames: 20_000,
  releases: ['shop@1.0.0', 'shop@1.1.0', 'shop@1.2.0', 'shop@1.2.0', 'shop@1.3.0', 'shop@1.3.0'],
  environments: ['production', 'production', 'production', 'production', 'staging', 'development'],
  healthCheckShare: 0.1,
});

module.exports = { BENCH_PUBLIC_KEY, BENCH_PROJECT_ID, BENCH_ORGANIZATION_ID, NOW_MS, TRAFFIC };
