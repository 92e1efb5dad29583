// Prometheus metrics of the server: outcomes per project, item type and reason, decisions, and latencies.

import { Counter, type Registry } from 'prom-client';

import { LabeledCounter, LabeledHistogram, registered } from './labeled-metrics';

const P = 'dynamic_sampling_server_';

/** Item types reported as themselves; anything else counts as `unknown` (labels stay bounded). */
const KNOWN_ITEM_TYPES = new Set([
  'transaction', 'span', 'otel_span', 'event', 'attachment', 'profile', 'profile_chunk', 'session', 'sessions',
  'client_report', 'check_in', 'log', 'otel_log', 'replay_event', 'replay_recording', 'replay_video', 'user_report',
  'feedback', 'statsd', 'metric_buckets', 'security', 'raw_security', 'nel', 'unreal_report', 'form_data', 'trace_metric',
]);

export function itemTypeLabel(type: string): string {
  return KNOWN_ITEM_TYPES.has(type) ? type : 'unknown';
}

/** The label (and `/stats` entry) shared by projects past the limit. */
export const OTHER_PROJECTS = 'other';

/**
 * Project ids as label values: the first `limit` distinct ids keep their own, later ones share
 * `other`. Clients choose the project id (and, while configs cannot be loaded, any key passes),
 * so without a bound every random id would add series and `/stats` entries for good.
 */
export class ProjectLabels {
  private readonly seen = new Set<number>();

  constructor(readonly limit: number) {}

  label(projectId: number): string {
    if (this.seen.has(projectId)) return String(projectId);
    if (this.seen.size >= this.limit) return OTHER_PROJECTS;
    this.seen.add(projectId);
    return String(projectId);
  }
}

/** Relay's outcome names: accepted, filtered by sampling, invalid, or refused for now. */
export type OutcomeName = 'accepted' | 'filtered_sampling' | 'invalid' | 'rate_limited';

/** The per-request ones are `Labeled*` (see `labeled-metrics.ts`); refusals stay prom-client's. */
export interface ServerMetrics {
  outcomes: LabeledCounter<'project_id' | 'item_type' | 'outcome' | 'reason'>;
  envelopes: LabeledCounter<'project_id' | 'kind' | 'decision'>;
  decisionSeconds: LabeledHistogram<'kind'>;
  requestSeconds: LabeledHistogram<'status'>;
  rejected: Counter<'status' | 'reason'>;
  /** Trace roots handed to the control plane's recorder (only with a recorder). */
  roots: LabeledCounter<'kind' | 'decision'>;
}

export function createServerMetrics(registry: Registry): ServerMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(P + name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    outcomes: registered(registry, `${P}outcomes_total`, () => new LabeledCounter(
      `${P}outcomes_total`,
      'Items by project, item type, outcome and reason (Sampled:<rule categories> for sampling drops, as Relay reports them); spans count one by one.',
      ['project_id', 'item_type', 'outcome', 'reason'],
    )),
    envelopes: registered(registry, `${P}envelopes_total`, () => new LabeledCounter(
      `${P}envelopes_total`,
      'Accepted envelopes by project, kind (transaction, spans, error, other) and decision (keep, drop, noMatch).',
      ['project_id', 'kind', 'decision'],
    )),
    decisionSeconds: registered(registry, `${P}decision_duration_seconds`, () => new LabeledHistogram(
      `${P}decision_duration_seconds`,
      'Time the engine takes to decide for one envelope (native fast path), by envelope kind.',
      ['kind'],
      [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2],
    )),
    requestSeconds: registered(registry, `${P}request_duration_seconds`, () => new LabeledHistogram(
      `${P}request_duration_seconds`,
      'Envelope requests from the first body byte to the answer (decompression, decision, sink), by status.',
      ['status'],
      [1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 0.5, 2],
    )),
    rejected: get('rejected_requests_total', () => new Counter({
      name: `${P}rejected_requests_total`,
      help: 'Envelope requests refused, by status and reason class.',
      labelNames: ['status', 'reason'],
      registers,
    })),
    roots: registered(registry, `${P}roots_recorded_total`, () => new LabeledCounter(
      `${P}roots_recorded_total`,
      'Trace roots counted for the control plane (root transactions, root segment spans), by kind and decision.',
      ['kind', 'decision'],
    )),
  };
}
