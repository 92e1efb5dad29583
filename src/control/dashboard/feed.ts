// What the ingestion server hands the dashboard: its /stats snapshot and the last sampled envelopes (for "explain").

import type { EnvelopeObservation } from '../../server/options';
import type { StatsSnapshot } from '../../server/stats';

/** How many sampled envelopes the dashboard keeps to pick from. */
export const RECENT_ENVELOPES = 50;
/** Larger envelopes are not kept (50 of them at most 12.5 MiB). */
export const MAX_RECENT_ENVELOPE_BYTES = 256 * 1024;

/** A sampled envelope as the server decided it: the body is read only when someone asks to explain it. */
export interface RecentEnvelope {
  /** Increasing number, to pick it again. */
  seq: number;
  at: number;
  projectId: number;
  publicKey: string;
  body: Buffer;
  decision: string;
  matchedRuleIds: number[];
}

export class DashboardFeed {
  private statsSource: (() => Promise<StatsSnapshot>) | null = null;
  private readonly recent: RecentEnvelope[] = [];
  private seq = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  /** The server's `/stats` (one process or the merged snapshot of a cluster). */
  connectStats(source: () => Promise<StatsSnapshot>): void {
    this.statsSource = source;
  }

  get statsConnected(): boolean {
    return this.statsSource !== null;
  }

  async stats(): Promise<StatsSnapshot | null> {
    return this.statsSource === null ? null : this.statsSource();
  }

  /**
   * The server's `onEnvelope`: keeps a reference to the last sampled envelopes (transactions and
   * span containers). Nothing is parsed here: this runs for every envelope.
   */
  readonly observeEnvelope = (observation: EnvelopeObservation): void => {
    const kind = observation.decision.kind;
    if ((kind !== 'transaction' && kind !== 'spans') || observation.body.length > MAX_RECENT_ENVELOPE_BYTES) return;
    if (this.recent.length >= RECENT_ENVELOPES) this.recent.shift();
    this.recent.push({
      seq: ++this.seq,
      at: this.clock(),
      projectId: observation.projectId,
      publicKey: observation.publicKey,
      body: observation.body,
      decision: observation.decision.decision,
      matchedRuleIds: observation.decision.matchedRuleIds,
    });
  };

  /** Newest first. */
  recentEnvelopes(): readonly RecentEnvelope[] {
    return [...this.recent].reverse();
  }

  recentEnvelope(seq: number): RecentEnvelope | undefined {
    return this.recent.find((e) => e.seq === seq);
  }
}
