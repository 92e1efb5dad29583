// Counters and histograms with fixed label names for the per-request path: a label set is found by its values joined, without prom-client's per-call validation, label hashing and closures; they register in a prom-client Registry and export as its own metrics do.

import type { Registry } from 'prom-client';

type Labels<L extends string> = Readonly<Record<L, string>>;

/** What a prom-client Registry reads of a metric (`get()` for the text and JSON formats, `reset()`). */
interface ExportedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface Entry<L extends string> {
  labels: Labels<L>;
  value: number;
}

abstract class LabeledMetric<L extends string> {
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
  ) {}

  /** The entry's key: the label values in `labelNames` order (values never hold U+0000). */
  protected key(labels: Labels<L>): string {
    const names = this.labelNames;
    let key = labels[names[0]];
    for (let i = 1; i < names.length; i++) key += `\u0000${labels[names[i]]}`;
    return key;
  }

  /** A copy of the label values that were passed (callers may reuse their objects). */
  protected copy(labels: Labels<L>): Labels<L> {
    const out = {} as Record<L, string>;
    for (const name of this.labelNames) out[name] = labels[name];
    return out;
  }

  abstract get(): Promise<{ name: string; help: string; type: string; values: ExportedValue[]; aggregator: string }>;
  abstract reset(): void;
}

export class LabeledCounter<L extends string> extends LabeledMetric<L> {
  readonly type = 'counter';
  private entries = new Map<string, Entry<L>>();

  inc(labels: Labels<L>, value = 1): void {
    const key = this.key(labels);
    const entry = this.entries.get(key);
    if (entry === undefined) this.entries.set(key, { labels: this.copy(labels), value });
    else entry.value += value;
  }

  get() {
    const values = [...this.entries.values()].map((e) => ({ labels: { ...e.labels }, value: e.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    this.entries = new Map();
  }
}

interface HistogramEntry<L extends string> {
  labels: Labels<L>;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

export class LabeledHistogram<L extends string> extends LabeledMetric<L> {
  readonly type = 'histogram';
  private entries = new Map<string, HistogramEntry<L>>();

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    readonly upperBounds: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  observe(labels: Labels<L>, value: number): void {
    const key = this.key(labels);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { labels: this.copy(labels), buckets: new Float64Array(this.upperBounds.length + 1), sum: 0, count: 0 };
      this.entries.set(key, entry);
    }
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    entry.buckets[i]++;
    entry.sum += value;
    entry.count++;
  }

  get() {
    const values: ExportedValue[] = [];
    for (const e of this.entries.values()) {
      let cumulative = 0;
      this.upperBounds.forEach((le, i) => {
        cumulative += e.buckets[i];
        values.push({ labels: { le, ...e.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...e.labels }, value: e.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...e.labels }, value: e.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...e.labels }, value: e.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    this.entries = new Map();
  }
}

/** The metric of that name in `registry` if there is one (a registry shared by several servers), else `make()` registered. */
export function registered<M extends LabeledMetric<string>>(registry: Registry, name: string, make: () => M): M {
  const existing = registry.getSingleMetric(name) as unknown;
  if (existing !== undefined) return existing as M;
  const metric = make();
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  return metric;
}
