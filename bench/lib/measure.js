'use strict';
// benchmark.js runs, reported per decision: each benchmarked call makes `perCall` decisions.

const Benchmark = require('benchmark');

/** Measurement settings: the full run, or the CI smoke run (`BENCH_QUICK=1`). */
function settings(quick) {
  return quick ? { maxTime: 0.2, minSamples: 5, minTime: 0.02 } : { maxTime: 2.5, minSamples: 40, minTime: 0.05 };
}

/**
 * Times `fn` (no `setup` option: benchmark.js would decompile the function and lose its closure),
 * and returns decisions per second, ns per decision and the relative margin of error (%).
 */
function measure(name, fn, perCall, options) {
  const bench = new Benchmark(name, fn, { ...options, async: false, defer: false });
  bench.run();
  if (bench.error) throw bench.error;
  const perSec = bench.hz * perCall;
  return {
    decisionsPerSec: Math.round(perSec),
    nsPerDecision: Number((1e9 / perSec).toFixed(1)),
    rme: Number(bench.stats.rme.toFixed(2)),
    samples: bench.stats.sample.length,
  };
}

module.exports = { measure, settings };
