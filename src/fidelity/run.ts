// The fidelity run: the real ingestion server and control plane on 127.0.0.1, skewed traffic over HTTP, tasks run by hand, kept envelopes counted from the sink.

import pino from 'pino';

import { startControlPlane, type ControlPlane } from '../control/control-plane';
import type { DefinitionsDocument } from '../control/definitions/types';
import { rebalanceProjects } from '../rules/models';
import { transactionRatesFor } from '../control/tasks/boost-low-volume-transactions';
import { DEFAULT_CONTROL_OPTIONS } from '../control/tasks/options';
import { spanEnvelope, transactionEnvelope, transactionEvent, type TraceShape } from '../demo/envelopes';
import { SeededRandom } from '../demo/random';
import { createSampler, type Sampler } from '../sampler';
import { SamplingEngine } from '../engine/engine';
import { startServer, type RunningServer } from '../server/server';
import type { EnvelopeObservation } from '../server/options';
import type { EnvelopeSink, KeptEnvelope } from '../server/sinks/types';
import { cycleRoots, FIDELITY_PROJECTS, type PlannedRoot } from './scenario';
import { EnvelopeSender } from './sender';
import { StratifiedTraceIds } from './trace-ids';

const MINUTE_MS = 60_000;
const TOKEN = 'fidelity-token';
const ORG_ID = 1;

export interface FidelityOptions {
  /** The control plane's rebalancing: `per-org` (Sentry's per-organization pipeline) or `classic` (the fleet-wide tasks). */
  pipeline: 'per-org' | 'classic';
  /** `predictive` (budget for what the rules add) or `feedback` (Sentry's recalibration only). */
  rateBudget: 'predictive' | 'feedback';
  /** Whether every project's traffic carries a release (new in cycle 1, boosted from cycle 2). */
  release: boolean;
  /** Minutes of traffic between task runs: 5 (one recalibration window) or 1 (back to back). */
  cycleMinutes: number;
  cycles: number;
  rootsPerCycle: number;
  target?: number;
  seed?: number;
  /** Envelopes in flight (default 32). */
  concurrency?: number;
}

/** Roots sent and kept (counted from the sink). */
export class Count {
  sent = 0;
  kept = 0;
  /** Sum of the sample rates the server applied. */
  rateSum = 0;
  get rate(): number {
    return this.sent === 0 ? Number.NaN : this.kept / this.sent;
  }
  get appliedRate(): number {
    return this.sent === 0 ? Number.NaN : this.rateSum / this.sent;
  }
  static sum(counts: Iterable<Count>): Count {
    const out = new Count();
    for (const c of counts) {
      out.sent += c.sent;
      out.kept += c.kept;
      out.rateSum += c.rateSum;
    }
    return out;
  }
}

export interface FidelityCycle {
  cycle: number;
  org: Count;
  projects: Map<number, Count>;
  healthTransactions: Count;
  healthSpans: Count;
  rare: Count;
  /** (kept rate - target) / target. */
  deviation: number;
}

export interface FidelityResult {
  options: Required<FidelityOptions>;
  cycles: FidelityCycle[];
  /** What the models give at the target without any bias: per project, and the big project's rare transactions. */
  ideal: { projects: Map<number, number>; rare: number };
}

interface Sent {
  root: PlannedRoot;
  cycle: FidelityCycle;
}

/** The ideal rates: the projects model at the target, and the transactions model at the big project's rate. */
export function idealRates(rootsPerCycle: number, target: number): FidelityResult['ideal'] {
  const roots = cycleRoots(rootsPerCycle);
  const perProject = new Map<number, Map<string, number>>();
  for (const r of roots) {
    let names = perProject.get(r.projectId);
    if (!names) perProject.set(r.projectId, (names = new Map()));
    names.set(r.transaction, (names.get(r.transaction) ?? 0) + 1);
  }
  const total = (names: Map<string, number>) => [...names.values()].reduce((a, b) => a + b, 0);
  const projects = new Map(
    rebalanceProjects({ classes: [...perProject].map(([id, names]) => ({ id, count: total(names) })), sampleRate: target }).map((i) => [i.id, i.newSampleRate]),
  );
  const big = FIDELITY_PROJECTS[0];
  const names = perProject.get(big.id)!;
  const rates = transactionRatesFor(projects.get(big.id)!, { keep: total(names), drop: 0, transactions: names }, DEFAULT_CONTROL_OPTIONS);
  const named = new Map(rates?.explicit.map((e) => [e.id, e.newSampleRate]) ?? []);
  let rareKept = 0;
  let rareTotal = 0;
  for (const r of roots) {
    if (!r.rare) continue;
    rareTotal += 1;
    rareKept += named.get(r.transaction) ?? rates?.implicitRate ?? projects.get(big.id)!;
  }
  return { projects, rare: rareKept / rareTotal };
}

function definitions(target: number): DefinitionsDocument {
  return {
    organizations: [
      {
        id: ORG_ID,
        slug: 'fidelity',
        createdAt: '2022-01-01T00:00:00Z',
        targetSampleRate: target,
        projects: FIDELITY_PROJECTS.map((p) => ({ id: p.id, slug: p.slug, platform: 'node', createdAt: '2023-01-01T00:00:00Z', publicKeys: [keyOf(p.id)] })),
      },
    ],
  };
}

const keyOf = (projectId: number): string => `${projectId.toString(16).padStart(8, '0')}`.padEnd(32, 'f');

function shuffle<T>(items: T[], random: SeededRandom): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
}

/** Runs the scenario and returns the per-cycle figures. */
export async function runFidelity(input: FidelityOptions): Promise<FidelityResult> {
  const options: Required<FidelityOptions> = { target: 0.25, seed: 16, concurrency: 32, ...input };
  const cycleMs = options.cycleMinutes * MINUTE_MS;
  const logger = pino({ level: 'silent' });
  const random = new SeededRandom(options.seed);
  const ids = new StratifiedTraceIds(random);
  let now = Date.UTC(2026, 11, 1, 10, 0, 0);
  const clock = (): number => now;
  const sent = new Map<string, Sent>();
  const cycles: FidelityCycle[] = [];

  const countKept = (kept: KeptEnvelope): void => {
    const header = JSON.parse(kept.envelope.subarray(0, kept.envelope.indexOf(10)).toString('utf8')) as { trace?: { trace_id?: string } };
    const entry = sent.get(header.trace?.trace_id ?? '');
    if (!entry) return;
    sent.delete(header.trace!.trace_id!);
    const { root, cycle } = entry;
    cycle.org.kept += 1;
    cycle.projects.get(root.projectId)!.kept += 1;
    if (root.health && root.projectId === FIDELITY_PROJECTS[0].id) (root.kind === 'segment' ? cycle.healthSpans : cycle.healthTransactions).kept += 1;
    if (root.rare) cycle.rare.kept += 1;
  };
  const applied = new Map<string, Sent>();
  const observeRate = (o: EnvelopeObservation): void => {
    const header = JSON.parse(o.body.subarray(0, o.body.indexOf(10)).toString('utf8')) as { trace?: { trace_id?: string } };
    const entry = applied.get(header.trace?.trace_id ?? '');
    if (!entry) return;
    applied.delete(header.trace!.trace_id!);
    const rate = o.decision.sampleRate ?? 1;
    const { root, cycle } = entry;
    cycle.org.rateSum += rate;
    cycle.projects.get(root.projectId)!.rateSum += rate;
    if (root.health && root.projectId === FIDELITY_PROJECTS[0].id) (root.kind === 'segment' ? cycle.healthSpans : cycle.healthTransactions).rateSum += rate;
    if (root.rare) cycle.rare.rateSum += rate;
  };
  const sink: EnvelopeSink = { description: 'fidelity counter', accept: async (kept) => countKept(kept), flush: async () => true, close: async () => {} };

  let plane: ControlPlane | null = null;
  let sampler: Sampler | null = null;
  let server: RunningServer | null = null;
  let sender: EnvelopeSender | null = null;
  try {
    plane = await startControlPlane({
      definitions: definitions(options.target),
      pipeline: options.pipeline,
      tokens: [TOKEN],
      schedule: 'none',
      taskIntervalMs: cycleMs,
      clock,
      monotonic: clock,
      logger,
      recorderFlushIntervalMs: 0,
      // Invalidations run when the task run flushes them, not on a wall-clock countdown mid-cycle.
      invalidationCountdownMs: 3_600_000,
      options: { rateBudget: options.rateBudget },
    });
    const engine = new SamplingEngine({ reservoir: true });
    engine.setNow(now);
    sampler = createSampler({ upstream: { url: plane.url, token: TOKEN, batchInterval: 5 }, engine, now: clock, logger, cache: { expiry: 24 * 3600_000 } });
    server = await startServer({ host: '127.0.0.1', port: 0, sampler, recorder: plane.recorder, sink, summaryInterval: 0, logger, processMetrics: false, onEnvelope: observeRate });
    sender = new EnvelopeSender(server.url, options.concurrency);
    const keys = FIDELITY_PROJECTS.map((p) => keyOf(p.id));

    for (let c = 1; c <= options.cycles; c++) {
      const start = now;
      await sampler.configs.prefetch(keys, { noCache: true });
      const cycle: FidelityCycle = {
        cycle: c,
        org: new Count(),
        projects: new Map(FIDELITY_PROJECTS.map((p) => [p.id, new Count()])),
        healthTransactions: new Count(),
        healthSpans: new Count(),
        rare: new Count(),
        deviation: Number.NaN,
      };
      const roots = cycleRoots(options.rootsPerCycle);
      shuffle(roots, random);
      const envelopes = roots.map((root, i) => {
        const at = start + Math.floor(((i + random.next()) * cycleMs) / roots.length);
        const traceId = ids.next(`${root.projectId}|${root.rare ? 'rare' : root.transaction}|${root.kind}`);
        const shape: TraceShape = {
          traceId,
          publicKey: keyOf(root.projectId),
          transaction: root.transaction,
          environment: 'production',
          ...(options.release ? { release: `${FIDELITY_PROJECTS.find((p) => p.id === root.projectId)!.slug}@1.0.0` } : {}),
        };
        sent.set(traceId, { root, cycle });
        applied.set(traceId, { root, cycle });
        cycle.org.sent += 1;
        cycle.projects.get(root.projectId)!.sent += 1;
        if (root.health && root.projectId === FIDELITY_PROJECTS[0].id) (root.kind === 'segment' ? cycle.healthSpans : cycle.healthTransactions).sent += 1;
        if (root.rare) cycle.rare.sent += 1;
        const body = root.kind === 'segment' ? spanEnvelope(shape, 2, at / 1000) : transactionEnvelope(shape, transactionEvent(shape, random.hex32(), 2, at / 1000));
        return { projectId: root.projectId, publicKey: shape.publicKey, body, at };
      });
      // One minute at a time: the clock (count buckets, engine time, release boosts) follows the traffic.
      for (let minute = 0; minute < options.cycleMinutes; minute++) {
        now = start + minute * MINUTE_MS;
        engine.setNow(now);
        const slice = envelopes.filter((e) => e.at >= now && e.at < now + MINUTE_MS);
        const statuses = await sender.sendAll(slice);
        const failed = statuses.filter((s) => s !== 200).length;
        if (failed > 0) throw new Error(`fidelity: ${failed} envelopes were not accepted (statuses ${[...new Set(statuses)].join(', ')})`);
      }
      now = start + cycleMs;
      engine.setNow(now);
      cycle.deviation = (cycle.org.rate - options.target) / options.target;
      cycles.push(cycle);
      // The operator's manual run: every task, then the invalidations they scheduled.
      const response = await fetch(`${plane.url}/api/control/tasks/run`, { method: 'POST' });
      if (response.status !== 200) throw new Error(`fidelity: POST /api/control/tasks/run answered ${response.status}`);
      await response.arrayBuffer();
    }
  } finally {
    sender?.close();
    await server?.close();
    await sampler?.close();
    await plane?.close();
  }
  return { options, cycles, ideal: idealRates(options.rootsPerCycle, options.target) };
}

/** `+2.1%`. */
export const percent = (x: number): string => (Number.isNaN(x) ? '-' : `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}%`);

/** The per-cycle table of one or more runs (rows: label → run). */
export function formatTable(rows: ReadonlyArray<[string, FidelityResult]>): string {
  const cycles = Math.max(...rows.map(([, r]) => r.cycles.length));
  const header = `| cycle | ${Array.from({ length: cycles }, (_, i) => i + 1).join(' | ')} |`;
  const lines = [header, `|---|${'---|'.repeat(cycles)}`];
  for (const [label, result] of rows) lines.push(`| ${label} | ${result.cycles.map((c) => percent(c.deviation)).join(' | ')} |`);
  return lines.join('\n');
}

