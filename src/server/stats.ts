// In-memory counts per project and per matched rule chain: the console summary, `/stats` and the demo read them.

import type { Decision } from './decision';

export interface RuleChainStats {
  kept: number;
  dropped: number;
}

export interface ProjectStats {
  /** Envelopes accepted for the project. */
  envelopes: number;
  /** Envelopes sampled (transaction or span envelopes) that were kept / dropped. */
  kept: number;
  dropped: number;
  /** Error envelopes (never dropped) and other envelopes (sessions, reports, ...). */
  errors: number;
  other: number;
  /** Spans in kept / dropped span envelopes. */
  spansKept: number;
  spansDropped: number;
  /** Sampled envelopes by matched rule ids (`"1004,1000"`, or `"none"`). */
  rules: Record<string, RuleChainStats>;
}

export interface StatsSnapshot {
  startedAt: string;
  /** Requests answered, by status code. */
  responses: Record<string, number>;
  projects: Record<string, ProjectStats>;
}

function emptyProject(): ProjectStats {
  return { envelopes: 0, kept: 0, dropped: 0, errors: 0, other: 0, spansKept: 0, spansDropped: 0, rules: {} };
}

export class ServerStats {
  private readonly startedAt = new Date().toISOString();
  private readonly responses = new Map<number, number>();
  /** Keyed by the project's label (`ProjectLabels`: bounded, `other` past the limit). */
  private readonly projects = new Map<string, ProjectStats>();

  recordResponse(status: number): void {
    this.responses.set(status, (this.responses.get(status) ?? 0) + 1);
  }

  recordDecision(project: string, decision: Decision): void {
    let p = this.projects.get(project);
    if (p === undefined) {
      p = emptyProject();
      this.projects.set(project, p);
    }
    p.envelopes++;
    if (decision.kind === 'error') p.errors++;
    else if (decision.kind === 'other') p.other++;
    else {
      const dropped = decision.decision === 'drop';
      if (dropped) p.dropped++;
      else p.kept++;
      if (decision.kind === 'spans') {
        if (dropped) p.spansDropped += decision.spanCount;
        else p.spansKept += decision.spanCount;
      }
      const chain = decision.matchedRuleIds.length === 0 ? 'none' : decision.matchedRuleIds.join(',');
      const r = (p.rules[chain] ??= { kept: 0, dropped: 0 });
      if (dropped) r.dropped++;
      else r.kept++;
    }
  }

  snapshot(): StatsSnapshot {
    const projects: Record<string, ProjectStats> = {};
    for (const [id, p] of this.projects) projects[id] = structuredClone(p);
    return { startedAt: this.startedAt, responses: Object.fromEntries(this.responses), projects };
  }
}

/** Sums snapshots of several processes (the cluster's primary merges its workers'). */
export function mergeSnapshots(snapshots: readonly StatsSnapshot[]): StatsSnapshot {
  const out: StatsSnapshot = { startedAt: snapshots.map((s) => s.startedAt).sort()[0] ?? new Date().toISOString(), responses: {}, projects: {} };
  for (const s of snapshots) {
    for (const [status, n] of Object.entries(s.responses)) out.responses[status] = (out.responses[status] ?? 0) + n;
    for (const [id, p] of Object.entries(s.projects)) {
      const t = (out.projects[id] ??= emptyProject());
      t.envelopes += p.envelopes;
      t.kept += p.kept;
      t.dropped += p.dropped;
      t.errors += p.errors;
      t.other += p.other;
      t.spansKept += p.spansKept;
      t.spansDropped += p.spansDropped;
      for (const [chain, r] of Object.entries(p.rules)) {
        const tr = (t.rules[chain] ??= { kept: 0, dropped: 0 });
        tr.kept += r.kept;
        tr.dropped += r.dropped;
      }
    }
  }
  return out;
}
