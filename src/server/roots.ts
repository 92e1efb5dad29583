// Counting for the control plane: what Relay counts as `count_per_root_project` for an envelope (recordRoot), and the releases of kept transactions and segments (observeRelease).
//
// The engine counts in the same pass as the decision (`SamplingEngine.setCounting`, see
// `crates/sampling-core/src/plan.rs`), as Relay does: every transaction event, root or not
// (`c:transactions/count_per_root_project`), and every segment span (`is_segment: true`, root or
// not: `c:spans/count_per_root_project` with `is_segment:true`, what Sentry's per-org pipeline
// reads), each with its own decision (spans next to a transaction have theirs), attributed to the
// trace's root project (the DSC's, when the engine holds its config; else the envelope's). An
// envelope of 500 segments counts 500; one of several transactions counts none (Relay rejects it
// as `duplicate_item`). The name is the DSC's `transaction` (Relay's tag; without a DSC, a
// transaction's own name, as Relay builds the DSC from the event then), parametrized as the engine
// reads the DSC's name before rules match (`/api/report/12` → `/api/report/*`). Releases come
// from the event (a segment's `sentry.release` attribute), else, for a root, the DSC; only kept
// items are observed, as Sentry observes releases when it saves an event.

import type { Logger } from 'pino';

import type { Decision as CountedDecision, RootKind } from '../control/traffic/counts';
import type { TrafficRecorder } from '../control/traffic/recorder';
import { DROP } from '../engine/engine';
import { parametrizeTransactionName } from '../engine/evaluate';
import type { Decision } from './decision';
import type { ServerMetrics } from './metrics';

/** What the engine's plan says the control plane counts for one envelope. */
export interface RootCount {
  /** Transaction events and segment spans to count. */
  transactions: number;
  segments: number;
  /** The root project they belong to (null: the envelope's own). */
  rootProjectId: number | null;
  /** The names they are counted under (before parametrization). */
  transactionName: string | null;
  segmentName: string | null;
  /** The DSC's release and environment. */
  release: string | null;
  environment: string | null;
  releases: { release: string; environment: string | null }[];
}

export interface RootInput {
  count: RootCount | null;
  /** The final decision for the envelope (noMatch counts as keep; spans next to a transaction have their own). */
  decision: Decision;
  /** The envelope's project (counts go to the root project when the plan names one). */
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

  /** Counts the transactions and segments of an accepted envelope, and its releases. Never throws. */
  record(input: RootInput): void {
    try {
      const { count, organizationId: orgId, decision: final } = input;
      if (orgId === null || count === null) return;
      if (final.kind !== 'transaction' && final.kind !== 'spans') return;
      const projectId = count.rootProjectId ?? input.projectId;
      const dropped = final.code === DROP;
      const spansDropped = final.kind === 'transaction' ? final.spanDecision === 'drop' : dropped;
      this.recordKind(orgId, projectId, count, 'transaction', count.transactions, count.transactionName, dropped ? 'drop' : 'keep');
      this.recordKind(orgId, projectId, count, 'segment', count.segments, count.segmentName, spansDropped ? 'drop' : 'keep');
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

  private recordKind(orgId: number, projectId: number, count: RootCount, kind: RootKind, n: number, name: string | null, decision: CountedDecision): void {
    if (n === 0) return;
    this.recorder.recordRoot({
      orgId,
      projectId,
      transaction: parametrized(name),
      decision,
      kind,
      count: n,
      release: count.release,
      environment: count.environment,
    });
    this.metrics?.roots.inc({ kind, decision }, n);
  }
}
