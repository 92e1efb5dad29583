// The per-request counters and histograms: exposed exactly as prom-client's own would be for the same increments and observations.

import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import { LabeledCounter, LabeledHistogram, registered } from '../src/server/labeled-metrics';

const BUCKETS = [1e-6, 2.5e-6, 1e-5, 1e-3, 0.5];

describe('labeled metrics', () => {
  it('a counter exposes what a prom-client Counter exposes for the same increments, in text and JSON', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const counter = registered(ours, 'x_total', () => new LabeledCounter('x_total', 'Help text.', ['project_id', 'item_type', 'reason'] as const));
    const reference = new Counter({ name: 'x_total', help: 'Help text.', labelNames: ['project_id', 'item_type', 'reason'], registers: [theirs] });
    const incs: [Record<'project_id' | 'item_type' | 'reason', string>, number][] = [
      [{ project_id: '42', item_type: 'transaction', reason: 'Sampled:1000' }, 1],
      [{ project_id: '42', item_type: 'span', reason: '' }, 7],
      [{ project_id: '42', item_type: 'transaction', reason: 'Sampled:1000' }, 2],
      // Label values with quotes, backslashes and newlines are escaped by the registry.
      [{ project_id: 'other', item_type: 'unknown', reason: 'a "b" \\ c\nd' }, 1],
    ];
    for (const [labels, n] of incs) {
      // The same object reused with other values must not change what was counted.
      const reused = { ...labels };
      counter.inc(reused, n);
      reused.project_id = 'changed';
      reference.inc(labels, n);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    // Merged with other registries (the server's /metrics) and reset.
    expect(await Registry.merge([ours, new Registry()]).metrics()).toBe(await theirs.metrics());
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('a histogram exposes what a prom-client Histogram exposes for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const histogram = registered(ours, 'd_seconds', () => new LabeledHistogram('d_seconds', 'Durations.', ['kind'] as const, BUCKETS));
    const reference = new Histogram({ name: 'd_seconds', help: 'Durations.', labelNames: ['kind'], buckets: BUCKETS, registers: [theirs] });
    // Values on bucket bounds (a bound is inclusive), between them, and past the last one.
    const values = [0, 1e-6, 2e-6, 2.5e-6, 3e-6, 1e-5, 0.0009, 1e-3, 0.2, 0.5, 0.75, 12];
    values.forEach((v, i) => {
      const labels = { kind: i % 3 === 0 ? 'transaction' : i % 3 === 1 ? 'spans' : 'error' };
      histogram.observe(labels, v);
      reference.observe(labels, v);
    });
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('a registry that already holds the metric gives it back (several servers on one registry)', () => {
    const registry = new Registry();
    const first = registered(registry, 'y_total', () => new LabeledCounter('y_total', 'Y.', ['a'] as const));
    const second = registered(registry, 'y_total', () => new LabeledCounter('y_total', 'Y.', ['a'] as const));
    expect(second).toBe(first);
  });
});
