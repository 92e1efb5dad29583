// The console summary: one line every few seconds with envelopes/s and kept, dropped and effective rate per project.

import type { ProjectStats, StatsSnapshot } from './stats';

function delta(now: ProjectStats, before: ProjectStats | undefined): { envelopes: number; kept: number; dropped: number; errors: number } {
  return {
    envelopes: now.envelopes - (before?.envelopes ?? 0),
    kept: now.kept - (before?.kept ?? 0),
    dropped: now.dropped - (before?.dropped ?? 0),
    errors: now.errors - (before?.errors ?? 0),
  };
}

/** The summary line for the interval between two snapshots (null when nothing happened). */
export function summaryLine(now: StatsSnapshot, before: StatsSnapshot | null, seconds: number, at = new Date()): string | null {
  const parts: string[] = [];
  let envelopes = 0;
  const ids = Object.keys(now.projects).sort((a, b) => Number(a) - Number(b));
  for (const id of ids) {
    const d = delta(now.projects[id], before?.projects[id]);
    if (d.envelopes === 0) continue;
    envelopes += d.envelopes;
    const sampled = d.kept + d.dropped;
    const rate = sampled === 0 ? '-' : `${((100 * d.kept) / sampled).toFixed(1)}%`;
    parts.push(`project ${id}: kept ${d.kept}, dropped ${d.dropped}, rate ${rate}${d.errors > 0 ? `, errors ${d.errors}` : ''}`);
  }
  const refused = Object.entries(now.responses)
    .filter(([status]) => status !== '200')
    .reduce((sum, [status, n]) => sum + n - (before?.responses[status] ?? 0), 0);
  if (envelopes === 0 && refused === 0) return null;
  const time = at.toISOString().slice(11, 19);
  const rate = (envelopes / Math.max(seconds, 1e-9)).toFixed(1);
  return `[${time}] ${rate} envelopes/s${refused > 0 ? `, ${refused} refused` : ''} | ${parts.join(' | ') || 'no accepted envelopes'}`;
}

/** Prints `summaryLine` every `intervalMs` from snapshots it collects. */
export class SummaryPrinter {
  private previous: StatsSnapshot | null = null;
  private previousAt = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly collect: () => Promise<StatsSnapshot>,
    private readonly write: (line: string) => void,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      const snapshot = await this.collect();
      const now = Date.now();
      const line = summaryLine(snapshot, this.previous, (now - this.previousAt) / 1000);
      this.previous = snapshot;
      this.previousAt = now;
      if (line !== null) this.write(line);
    } catch {
      // A missed summary is not worth failing for (a worker restarting, say).
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
