// Counting for the control plane: the trace root the engine found in an envelope (recordRoot), and the releases of kept transactions and segments (observeRelease).
//
// The engine finds them in the same pass as the decision (`SamplingEngine.setCounting`, see
// `crates/sampling-core/src/plan.rs`): roots are root transactions (a `transaction` item whose
// `contexts.trace` has no `parent_span_id`) and root segment spans of streamed traces (a span
// with `is_segment: true` and no `parent_span_id`). The name counted is the DSC's `transaction`
// (what the trace rules match, and what Relay tags `count_per_root_project` with), else the
// event's / segment's name, parametrized as the engine reads the DSC's name before rules match
// (`/api/report/12` → `/api/report/*`). At most one root per envelope: an envelope carries one
// DSC, one trace, and Relay takes one transaction per envelope (a second makes it invalid).
// Releases come from the event (the segment's `sentry.release` attribute), else, for a root, the
// DSC; only kept items are observed, as Sentry observes releases when it saves an event.

import type { Logger } from 'pino';

import type { TrafficRecorder } from '../control/traffic/recorder';
import { DROP } from '../engine/engine';
import { parametrizeTransactionName } from '../engine/evaluate';
import type { RootKind } from '../engine/plan';
import type { Decision } from './decision';
import type { ServerMetrics } from './metrics';

/** What the engine's plan says the control plane counts for one envelope. */
export interface RootCount {
  kind: RootKind;
  name: string | null;
  /** The DSC's release and environment of the root. */
  release: string | null;
  environment: string | null;
  releases: { release: string; environment: string | null }[];
}

export interface RootInput {
  count: RootCount | null;
  /** The final decision for the envelope (noMatch counts as keep). */
  decision: Decision;
  projectId: number;
  /** The project's organisation (null when its config could not be loaded: nothing is counted). */
  organizationId: number | null;
}

const ERROR_LOG_INTERVAL_MS = 10_000;

/** Parametrized names by raw name: a service sends few distinct names, each once per request. */
const PARAMETRIZED_CACHE_SIZE = 4096;
const parametrizedNames = new Map<string, string>();

/** Names with a `/` as rules see them (names without one are never changed: no native call). */
function parametrized(name: string | null): string | null {
  if (name === null || !name.includes('/')) return name;
  let result = parametrizedNames.get(name);
  if (result === undefined) {
    result = parametrizeTransactionName(name);
    // Bounded: raw URLs as names would otherwise grow it without end.
    if (parametrizedNames.size >= PARAMETRIZED_CACHE_SIZE) parametrizedNames.clear();
    parametrizedNames.set(name, result);
  }
  return result;
}

export class RootCounter {
  private lastErrorLog = 0;

  constructor(
    private readonly recorder: TrafficRecorder,
    private readonly logger: Logger,
    private readonly metrics: ServerMetrics | null = null,
  ) {}

  /** Counts the root and releases of an accepted envelope. Never throws. */
  record(input: RootInput): void {
    try {
      const count = input.count;
      if (input.organizationId === null || count === null) return;
      if (input.decision.kind !== 'transaction' && input.decision.kind !== 'spans') return;
      if (count.kind !== 'none') {
        const decision = input.decision.code === DROP ? 'drop' : 'keep';
        this.recorder.recordRoot({
          orgId: input.organizationId,
          projectId: input.projectId,
          transaction: parametrized(count.name),
          decision,
          kind: count.kind,
          release: count.release,
          environment: count.environment,
        });
        this.metrics?.roots.inc({ kind: count.kind, decision });
      }
      for (const seen of count.releases) {
        this.recorder.observeRelease({ projectId: input.projectId, release: seen.release, environment: seen.environment });
      }
    } catch (err) {
      const now = Date.now();
      if (now - this.lastErrorLog >= ERROR_LOG_INTERVAL_MS) {
        this.lastErrorLog = now;
        this.logger.warn({ err, projectId: input.projectId }, 'counting trace roots failed');
      }
    }
  }
}
