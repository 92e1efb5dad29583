// Prometheus metrics of the server: outcomes per project, item type and reason, decisions, and latencies.

import { Counter, Histogram, type Registry } from 'prom-client';

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

export interface ServerMetrics {
  outcomes: Counter<'project_id' | 'item_type' | 'outcome' | 'reason'>;
  envelopes: Counter<'project_id' | 'kind' | 'decision'>;
  decisionSeconds: Histogram<'kind'>;
  requestSeconds: Histogram<'status'>;
  rejected: Counter<'status' | 'reason'>;
  /** Trace roots handed to the control plane's recorder (only with a recorder). */
  roots: Counter<'kind' | 'decision'>;
}

export function createServerMetrics(registry: Registry): ServerMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(P + name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    outcomes: get('outcomes_total', () => new Counter({
      name: `${P}outcomes_total`,
      help: 'Items by project, item type, outcome and reason (Sampled:<rule categories> for sampling drops, as Relay reports them); spans count one by one.',
      labelNames: ['project_id', 'item_type', 'outcome', 'reason'],
      registers,
    })),
    envelopes: get('envelopes_total', () => new Counter({
      name: `${P}envelopes_total`,
      help: 'Accepted envelopes by project, kind (transaction, spans, error, other) and decision (keep, drop, noMatch).',
      labelNames: ['project_id', 'kind', 'decision'],
      registers,
    })),
    decisionSeconds: get('decision_duration_seconds', () => new Histogram({
      name: `${P}decision_duration_seconds`,
      help: 'Time the engine takes to decide for one envelope (native fast path), by envelope kind.',
      labelNames: ['kind'],
      buckets: [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2],
      registers,
    })),
    requestSeconds: get('request_duration_seconds', () => new Histogram({
      name: `${P}request_duration_seconds`,
      help: 'Envelope requests from the first body byte to the answer (decompression, decision, sink), by status.',
      labelNames: ['status'],
      buckets: [1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 0.5, 2],
      registers,
    })),
    rejected: get('rejected_requests_total', () => new Counter({
      name: `${P}rejected_requests_total`,
      help: 'Envelope requests refused, by status and reason class.',
      labelNames: ['status', 'reason'],
      registers,
    })),
    roots: get('roots_recorded_total', () => new Counter({
      name: `${P}roots_recorded_total`,
      help: 'Trace roots counted for the control plane (root transactions, root segment spans), by kind and decision.',
      labelNames: ['kind', 'decision'],
      registers,
    })),
  };
}
