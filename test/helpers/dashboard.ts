// A running control plane with the demo organisation (examples/control.json), the ingestion server fetching from it, and
// demo traffic sent minute by minute (an injected clock moves the counts' minute buckets) with task runs in between.

import { readFileSync } from 'node:fs';
import path from 'node:path';

import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/control/control-plane';
import type { DefinitionsDocument } from '../../src/control/definitions/types';
import { transactionEnvelope, transactionEvent } from '../../src/demo/envelopes';
import { TrafficGenerator } from '../../src/demo/traffic';
import { createSampler, type Sampler } from '../../src/sampler';
import { SamplingEngine } from '../../src/engine/engine';
import { startServer, type RunningServer } from '../../src/server/server';
import type { StatsSnapshot } from '../../src/server/stats';
import { manualControlOptions, silentLogger, TestClock } from './control';
import { QUIET_SERVER } from './server';
import { EnvelopeSender } from './traffic';

export const DEMO_DEFINITIONS: DefinitionsDocument = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'examples', 'control.json'), 'utf8'));
export const CONFIG_TOKEN = 'dashboard-test-config-token';
const MINUTE_MS = 60_000;

/** Roots per simulated minute: a large, a middle and a small project (the small one gets boosted). */
const PER_MINUTE: ReadonlyArray<{ projectId: number; publicKey: string; roots: number; seed: number }> = [
  { projectId: 42, publicKey: 'abd0f232775f45feab79864e580d160b', roots: 160, seed: 1 },
  { projectId: 43, publicKey: 'e12d836b15bb49d7bbf99e64295d995b', roots: 50, seed: 2 },
  { projectId: 44, publicKey: '0c5b3c9f0b8e4a1e9a0d2f6d1c7e8b9a', roots: 6, seed: 3 },
];

export interface DashboardRig {
  plane: ControlPlane;
  server: RunningServer;
  sampler: Sampler;
  clock: TestClock;
  /** Sends one simulated minute of demo traffic, then moves the clock a minute on. */
  sendMinute(): Promise<number[]>;
  stats(): Promise<StatsSnapshot>;
  close(): Promise<void>;
}

export async function startDashboardRig(options: Partial<ControlPlaneOptions> = {}): Promise<DashboardRig> {
  // The history ends now: the simulated minutes lead up to the wall clock.
  const clock = new TestClock(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 20 * MINUTE_MS);
  const plane = await startControlPlane({
    definitions: structuredClone(DEMO_DEFINITIONS),
    tokens: [CONFIG_TOKEN],
    ...manualControlOptions(clock),
    // The tests compare the page with the classic tasks' stored rates (the per-org pass waits for whole minutes).
    pipeline: 'classic',
    ...options,
  });
  const sampler = createSampler({ upstream: { url: plane.url, token: CONFIG_TOKEN, batchInterval: 5 }, engine: new SamplingEngine({ reservoir: true }), logger: silentLogger });
  const server = await startServer({
    ...QUIET_SERVER,
    sampler,
    recorder: plane.recorder,
    onEnvelope: plane.dashboard.observeEnvelope,
  });
  // As npm start wires them: rebuilt configs are refetched, and the dashboard reads the server's /stats.
  plane.invalidator.onRun((record) => record.rebuilt.forEach((publicKey) => void sampler.configs.invalidate({ publicKey })));
  plane.dashboard.connectStats(async () => server.stats.snapshot());
  await sampler.configs.prefetch(PER_MINUTE.map((p) => p.publicKey), { noCache: true });

  const generators = PER_MINUTE.map((p) => ({ ...p, traffic: new TrafficGenerator({ seed: p.seed, publicKey: p.publicKey, transactionNames: 30 }) }));
  const sender = new EnvelopeSender(server.url, 16);
  return {
    plane,
    server,
    sampler,
    clock,
    async sendMinute() {
      const envelopes = [];
      for (const g of generators) {
        for (let i = 0; i < g.roots; i++) {
          const trace = g.traffic.next();
          envelopes.push({ projectId: g.projectId, publicKey: g.publicKey, body: transactionEnvelope(trace, transactionEvent(trace, g.traffic.random.hex32(), 2)) });
        }
      }
      const statuses = await sender.sendAll(envelopes);
      await plane.recorder.flush();
      clock.advance(MINUTE_MS);
      return statuses;
    },
    stats: async () => server.stats.snapshot(),
    async close() {
      sender.close();
      await server.close();
      await sampler.close();
      await plane.close();
    },
  };
}

/** The project rate the control plane's pipeline stored (per-org results, or the classic key), raw. */
export async function storedProjectRate(plane: ControlPlane, orgId: number, projectId: number): Promise<string | null> {
  return plane.perOrg ? (await plane.perOrg.store.rawProjectRate(orgId, projectId)).raw : plane.state.rawProjectRate(orgId, projectId);
}

/** The organisation's recalibration factor the pipeline stored (1.0 when none). */
export async function storedFactor(plane: ControlPlane, orgId: number): Promise<number> {
  return plane.perOrg ? plane.perOrg.store.factor(orgId) : plane.state.factor({ organizationId: orgId });
}
