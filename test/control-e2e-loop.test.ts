// The closed loop end to end: envelopes over HTTP → the real ingestion server (configs from the control plane, roots counted into its recorder) → tasks → refetched configs, cycle after cycle.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startControlPlane, type ControlPlane } from '../src/control/control-plane';
import type { DefinitionsDocument } from '../src/control/definitions/types';
import { TrafficCounts } from '../src/control/traffic/counts';
import { UpstreamClient } from '../src/configs/upstream';
import { spanEnvelope, transactionEnvelope, transactionEvent, type TraceShape } from '../src/demo/envelopes';
import { createSampler, type Sampler } from '../src/sampler';
import { DROP, SamplingEngine } from '../src/engine/engine';
import { rebalanceProjects } from '../src/rules/models';
import { transactionRatesFor } from '../src/control/tasks/boost-low-volume-transactions';
import { DEFAULT_CONTROL_OPTIONS } from '../src/control/tasks/options';
import type { EnvelopeObservation } from '../src/server/options';
import { startServer, type RunningServer } from '../src/server/server';
import { keyFor, manualControlOptions, orgDef, projectDef, SeededRandom, silentLogger, TestClock } from './helpers/control';
import { QUIET_SERVER } from './helpers/server';
import { EnvelopeSender, expand, StratifiedTraceIds, Tally, type ProjectTraffic } from './helpers/traffic';

const TARGET = 0.1;
const CYCLE_MS = 10 * 60 * 1000;
const MINUTE_MS = 60_000;
const CYCLES = 12;
const NEW_RELEASE_CYCLE = 3;
const TOKEN = 'e2e-loop-token';
/**
 * Envelopes per cycle that are not trace roots: child transactions of api traces sent by worker
 * (Relay counts every transaction toward its root project: they count for api, as in Sentry's
 * measure of the organisation), child-only span containers of web (no segment: not counted).
 */
const CHILD_TRANSACTIONS = 150;
const CHILD_SPAN_CONTAINERS = 150;

/** Roots per cycle: api sends transactions (static lifecycle), web streams spans (segments), the others transactions. */
const TRAFFIC: ProjectTraffic[] = [
  {
    id: 101,
    slug: 'api',
    perCycle: 2400,
    transactions: [['/api/search', 40], ['/api/products', 25], ['/api/cart', 12], ['/api/checkout', 5], ['small:40:/api/report/', 8]],
    healthShare: 0.1,
    devShare: 0.03,
  },
  { id: 102, slug: 'web', perCycle: 1200, transactions: [['/home', 50], ['/products/:id', 30], ['small:20:/pages/', 20]], healthShare: 0, devShare: 0.03 },
  { id: 103, slug: 'worker', perCycle: 320, transactions: [['task.process', 70], ['task.cleanup', 30]], healthShare: 0, devShare: 0 },
  { id: 104, slug: 'billing', perCycle: 40, transactions: [['/invoice', 60], ['/refund', 40]], healthShare: 0, devShare: 0 },
  { id: 105, slug: 'admin', perCycle: 10, transactions: [['/admin', 100]], healthShare: 0, devShare: 0 },
];
const STREAMED = new Set([102]);
const ROOTS_PER_CYCLE = TRAFFIC.reduce((n, t) => n + t.perCycle, 0);

const definitions: DefinitionsDocument = {
  organizations: [orgDef(1, TRAFFIC.map((t) => projectDef(t.id, { slug: t.slug, platform: 'python' })), { targetSampleRate: TARGET })],
};

/**
 * What the models give at the target with no bias at all (no boosts, no health-check rule, no
 * development environment): per project, and api's small transactions at api's ideal rate.
 */
function idealRates(): { projects: Map<number, number>; small: number } {
  const projects = new Map(rebalanceProjects({ classes: TRAFFIC.map((t) => ({ id: t.id, count: t.perCycle })), sampleRate: TARGET }).map((i) => [i.id, i.newSampleRate]));
  const api = TRAFFIC[0];
  const shape = expand(api);
  const health = Math.round(api.perCycle * api.healthShare);
  const counts = new Map<string, number>(apportion(shape.weights, api.perCycle - health).map((n, i) => [shape.names[i], n]));
  counts.set('/health', health);
  const rates = transactionRatesFor(projects.get(api.id)!, { keep: api.perCycle, drop: 0, transactions: counts }, DEFAULT_CONTROL_OPTIONS)!;
  const named = new Map(rates.explicit.map((e) => [e.id, e.newSampleRate]));
  let kept = 0;
  let total = 0;
  for (const name of shape.small) {
    total += counts.get(name)!;
    kept += counts.get(name)! * (named.get(name) ?? rates.implicitRate);
  }
  return { projects, small: kept / total };
}

/** What the test knows of an envelope it sent (looked up by trace id when the server reports its decision). */
interface Sent {
  projectId: number;
  root: boolean;
  /** The root project the control plane counts it for (Relay's count_per_root_project), or null. */
  countedFor: number | null;
  transaction: string;
  environment: string;
  release: string | null;
  health: boolean;
  small: boolean;
}

interface Outgoing {
  projectId: number;
  publicKey: string;
  body: Buffer;
  at: number;
}

interface CycleFigures {
  cycle: number;
  org: Tally;
  projects: Map<number, Tally>;
  big: Tally;
  small: Tally;
  health: Tally;
  dev: Tally;
  children: Tally;
  /** What the control plane should have counted, per root project (roots and child transactions). */
  countable: Map<number, Tally>;
  releaseOld: Tally;
  releaseNew: Tally;
  apiBase: number;
  factor: number;
  /** Roots the control plane counted for the cycle: total and kept, per project. */
  counted: Map<number, { total: number; keep: number }>;
  envelopes: number;
  seconds: number;
}

/** Splits `total` over `weights` (largest remainder): the counts sum to `total`. */
function apportion(weights: readonly number[], total: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (w / sum) * total);
  const counts = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  const missing = total - counts.reduce((a, b) => a + b, 0);
  for (let k = 0; k < missing; k++) counts[order[k][1]]++;
  return counts;
}

function shuffle<T>(items: T[], random: SeededRandom): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

const fmt = (x: number, digits = 4): string => (Number.isNaN(x) ? '   -  ' : x.toFixed(digits));
const hex16 = (random: SeededRandom): string => random.hex32().slice(0, 16);

/** A span v2 container of child spans only (a streamed trace's spans flushed before its segment ends). */
function childSpanEnvelope(t: TraceShape, random: SeededRandom, now: number): Buffer {
  const parent = hex16(random);
  const items = [0, 1].map(() => ({
    trace_id: t.traceId,
    span_id: hex16(random),
    parent_span_id: parent,
    is_segment: false,
    name: 'db.query',
    status: 'ok',
    start_timestamp: now,
    end_timestamp: now + 0.01,
    attributes: { 'sentry.op': { type: 'string', value: 'db' } },
  }));
  const header = JSON.stringify({ trace: { trace_id: t.traceId, public_key: t.publicKey, transaction: t.transaction, environment: t.environment } });
  const itemHeader = JSON.stringify({ type: 'span', item_count: items.length, content_type: 'application/vnd.sentry.items.span.v2+json' });
  return Buffer.from(`${header}\n${itemHeader}\n${JSON.stringify({ items })}\n`);
}

describe.each(['per-org', 'classic'] as const)('closed loop end to end (%s pipeline): HTTP envelopes → ingestion server → recorder → tasks → configs', (pipeline) => {
  const clock = new TestClock(Date.UTC(2024, 4, 1, 10, 0, 0));
  const random = new SeededRandom(7);
  let ids: StratifiedTraceIds;
  let plane: ControlPlane;
  let sampler: Sampler;
  let server: RunningServer;
  let sender: EnvelopeSender;
  let client: UpstreamClient;
  const figures: CycleFigures[] = [];
  const sent = new Map<string, Sent>();
  let current: CycleFigures | null = null;
  const statuses = new Map<number, number>();
  const revs: Array<string | null | undefined> = [];
  const keys = TRAFFIC.map((t) => keyFor(t.id));
  const started = Date.now();

  const observe = (o: EnvelopeObservation): void => {
    const header = JSON.parse(o.body.subarray(0, o.body.indexOf(10)).toString('utf8')) as { trace: { trace_id: string } };
    const meta = sent.get(header.trace.trace_id);
    const fig = current;
    if (!meta || !fig) return;
    sent.delete(header.trace.trace_id);
    const kept = o.decision.code !== DROP;
    const rate = o.decision.sampleRate ?? 1;
    if (meta.countedFor !== null) {
      // The organisation's kept rate as Sentry measures it: over every counted transaction and segment.
      fig.org.add(kept, rate);
      let c = fig.countable.get(meta.countedFor);
      if (!c) fig.countable.set(meta.countedFor, (c = new Tally()));
      c.add(kept, rate);
    }
    if (!meta.root) return fig.children.add(kept, rate);
    let p = fig.projects.get(meta.projectId);
    if (!p) fig.projects.set(meta.projectId, (p = new Tally()));
    p.add(kept, rate);
    // Development traffic is kept whole (boost dev environments), except health checks (a transaction rule comes first).
    if (meta.environment !== 'production') return meta.health ? undefined : fig.dev.add(kept, rate);
    if (meta.projectId !== 101) return;
    if (meta.health) fig.health.add(kept, rate);
    else if (meta.small) fig.small.add(kept, rate);
    else if (meta.transaction === '/api/search') {
      fig.big.add(kept, rate);
      (meta.release === '2.0' ? fig.releaseNew : fig.releaseOld).add(kept, rate);
    }
  };

  /**
   * The cycle's envelopes, in time order: roots of every project, and the non-root envelopes.
   * Each project's mix is apportioned exactly (largest remainder over the weights, health and
   * development shares, half of api's traffic on release 2.0 once it is out), shuffled, and spread
   * evenly over the cycle: the skew is the same every cycle, so what moves is the loop, not the draw.
   */
  function cycleTraffic(cycle: number, start: number): Outgoing[] {
    const out: Outgoing[] = [];
    const shapes = new Map(TRAFFIC.map((t) => [t.id, expand(t)]));
    for (const t of TRAFFIC) {
      const shape = shapes.get(t.id)!;
      const health = Math.round(t.perCycle * t.healthShare);
      const names = [...apportion(shape.weights, t.perCycle - health).flatMap((n, i) => Array<string>(n).fill(shape.names[i])), ...Array<string>(health).fill('/health')];
      shuffle(names, random);
      const dev = Math.round(t.perCycle * t.devShare);
      names.forEach((transaction, i) => {
        const at = start + Math.floor(((i + random.next()) * CYCLE_MS) / names.length);
        // Every (n/dev)-th root in development, every other api root on release 2.0 once it is out.
        const environment = dev > 0 && Math.floor(((i + 1) * dev) / names.length) > Math.floor((i * dev) / names.length) ? 'development' : 'production';
        const release = t.id === 101 ? (cycle >= NEW_RELEASE_CYCLE && i % 2 === 1 ? '2.0' : '1.0') : null;
        // Small transactions share one sequence (each has only a handful of roots a cycle).
        const traceId = ids.next(`${t.id}|${shape.small.has(transaction) ? 'small' : transaction}|${environment}|${release}`);
        const publicKey = keyFor(t.id);
        const shapeOf: TraceShape = { traceId, publicKey, transaction, environment, ...(release ? { release } : {}) };
        const body = STREAMED.has(t.id) ? spanEnvelope(shapeOf, 3, at / 1000) : transactionEnvelope(shapeOf, transactionEvent(shapeOf, traceId, 3, at / 1000));
        sent.set(traceId, { projectId: t.id, root: true, countedFor: t.id, transaction, environment, release, health: transaction === '/health', small: shape.small.has(transaction) });
        out.push({ projectId: t.id, publicKey, body, at });
      });
    }
    const api = shapes.get(101)!;
    // Child transactions count for api like its roots: apportioned over its names, with trace ids of the same stratified sequences.
    const childNames = apportion(api.weights, CHILD_TRANSACTIONS).flatMap((n, i) => Array<string>(n).fill(api.names[i]));
    shuffle(childNames, random);
    for (const name of childNames) {
      // A worker transaction continuing an api trace: sampled by api's trace rules, not a root.
      const at = start + Math.floor(random.next() * CYCLE_MS);
      const traceId = ids.next(`101|${api.small.has(name) ? 'small' : name}|production|1.0`);
      const dsc: TraceShape = { traceId, publicKey: keyFor(101), transaction: name, environment: 'production', release: '1.0' };
      const event = transactionEvent({ ...dsc, transaction: 'task.process' }, traceId, 2, at / 1000);
      (event.contexts as { trace: Record<string, unknown> }).trace.parent_span_id = hex16(random);
      sent.set(traceId, { projectId: 103, root: false, countedFor: 101, transaction: 'task.process', environment: 'production', release: '1.0', health: false, small: false });
      out.push({ projectId: 103, publicKey: keyFor(103), body: transactionEnvelope(dsc, event), at });
    }
    for (let i = 0; i < CHILD_SPAN_CONTAINERS; i++) {
      const at = start + Math.floor(random.next() * CYCLE_MS);
      const traceId = random.hex32();
      const t: TraceShape = { traceId, publicKey: keyFor(102), transaction: '/home', environment: 'production' };
      sent.set(traceId, { projectId: 102, root: false, countedFor: null, transaction: '/home', environment: 'production', release: null, health: false, small: false });
      out.push({ projectId: 102, publicKey: keyFor(102), body: childSpanEnvelope(t, random, at / 1000), at });
    }
    return out.sort((a, b) => a.at - b.at);
  }

  beforeAll(async () => {
    ids = new StratifiedTraceIds(random);
    plane = await startControlPlane({
      definitions,
      pipeline,
      tokens: [TOKEN],
      ...manualControlOptions(clock),
    });
    const engine = new SamplingEngine({ reservoir: true });
    engine.setNow(clock.now());
    // Configs stay as fetched for a whole cycle; they are refetched (noCache) after each task run.
    sampler = createSampler({ upstream: { url: plane.url, token: TOKEN, batchInterval: 5 }, engine, now: clock.now, logger: silentLogger, cache: { expiry: 3 * CYCLE_MS } });
    server = await startServer({
      ...QUIET_SERVER,
      sampler,
      recorder: plane.recorder,
      onEnvelope: observe,
    });
    sender = new EnvelopeSender(server.url, 32);
    client = new UpstreamClient({ url: plane.url, token: TOKEN });
    // The current release was first seen five hours ago: its boost is long over.
    plane.recorder.observeRelease({ projectId: 101, release: '1.0', environment: 'production', at: clock.now() - 5 * 3600_000 });
    await plane.recorder.flush();
    const counts = new TrafficCounts(plane.kv);

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const start = clock.now();
      const wall = Date.now();
      await sampler.configs.prefetch(keys, { noCache: true });
      revs.push(sampler.configs.get(keyFor(101)).rev);
      const answer = await client.fetchConfigs([keyFor(101)], [null]);
      const state = answer.configs.get(keyFor(101)) as unknown as { raw: { config: { sampling: { rules: Array<{ id: number; samplingValue: { value: number } }> } } } };
      const apiBase = state.raw.config.sampling.rules.find((r) => r.id === 1000)!.samplingValue.value;
      const fig: CycleFigures = {
        cycle,
        org: new Tally(),
        projects: new Map(),
        big: new Tally(),
        small: new Tally(),
        health: new Tally(),
        dev: new Tally(),
        children: new Tally(),
        countable: new Map(),
        releaseOld: new Tally(),
        releaseNew: new Tally(),
        apiBase,
        factor: Number.NaN,
        counted: new Map(),
        envelopes: 0,
        seconds: 0,
      };
      current = fig;
      const traffic = cycleTraffic(cycle, start);
      fig.envelopes = traffic.length;
      // One minute at a time: the clock (recorder buckets, engine time) follows the traffic.
      for (let minute = 0; minute < CYCLE_MS / MINUTE_MS; minute++) {
        clock.t = start + minute * MINUTE_MS;
        sampler.engine.setNow(clock.t);
        const slice = traffic.filter((e) => e.at >= clock.t && e.at < clock.t + MINUTE_MS);
        for (const status of await sender.sendAll(slice)) statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      current = null;
      clock.t = start + CYCLE_MS;
      sampler.engine.setNow(clock.t);
      await plane.runTasks();
      fig.factor = plane.perOrg ? await plane.perOrg.store.factor(1) : await plane.state.factor({ organizationId: 1 });
      for (const v of await counts.projectVolumes({ from: start, to: start + CYCLE_MS })) fig.counted.set(v.projectId, { total: v.keep + v.drop, keep: v.keep });
      fig.seconds = (Date.now() - wall) / 1000;
      figures.push(fig);
    }
  }, 600_000);

  afterAll(async () => {
    sender?.close();
    client?.close();
    await server?.close();
    await sampler?.close();
    await plane?.close();
    const lines: string[] = [];
    const total = figures.reduce((n, f) => n + f.envelopes, 0);
    lines.push(
      `target ${TARGET}; per cycle ${ROOTS_PER_CYCLE} roots (api transactions, web span segments, worker, billing, admin) + ${CHILD_TRANSACTIONS} child transactions (counted for api) + ${CHILD_SPAN_CONTAINERS} child-only span containers; new release 2.0 from cycle ${NEW_RELEASE_CYCLE}`,
    );
    lines.push(`${total} envelopes over HTTP in ${((Date.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    lines.push('cycle | org kept (expected) | factor | api base | kept rate: api   web   worker billing admin | /api/search small-tx | health rate (÷ base) | dev  | 2.0 boost | counted (kept)');
    for (const f of figures) {
      const p = (id: number) => fmt(f.projects.get(id)?.keptRate ?? Number.NaN, 3);
      const counted = [...f.counted.values()].reduce((a, c) => ({ total: a.total + c.total, keep: a.keep + c.keep }), { total: 0, keep: 0 });
      lines.push(
        `${String(f.cycle).padStart(5)} | ${fmt(f.org.keptRate)} (${fmt(f.org.meanRate)})  | ${fmt(f.factor, 3)}  | ${fmt(f.apiBase)}   |           ${p(101)} ${p(102)} ${p(103)}  ${p(104)}   ${p(105)} | ${fmt(f.big.keptRate, 3)}       ${fmt(f.small.keptRate, 3)}    | ${fmt(f.health.meanRate)} (${fmt(f.health.meanRate / f.apiBase, 3)})     | ${fmt(f.dev.keptRate, 2)} | ${fmt(f.releaseNew.meanRate / f.releaseOld.meanRate, 3)}     | ${counted.total} (${counted.keep})`,
      );
    }
    const ideal = idealRates();
    const settled = figures.slice(1);
    const applied = (id: number) => Tally.sum(settled.map((f) => f.projects.get(id)!)).meanRate;
    lines.push(
      `cycles 1..: mean applied rate (ideal): ${TRAFFIC.map((t) => `${t.slug} ${fmt(applied(t.id), 3)} (${fmt(ideal.projects.get(t.id)!, 3)})`).join(', ')}; small transactions ${fmt(Tally.sum(settled.map((f) => f.small)).meanRate, 3)} (${fmt(ideal.small, 3)})`,
    );
    console.log(`\nend-to-end loop figures (${pipeline} pipeline)\n${lines.join('\n')}\n`);
  });

  const converged = (): CycleFigures[] => figures.slice(3);

  it('answers every envelope with 200 and counts exactly what Relay counts (roots, and child transactions toward api), with the server decisions', () => {
    expect(figures).toHaveLength(CYCLES);
    expect([...statuses.keys()]).toEqual([200]);
    for (const f of figures) {
      expect(f.org.total).toBe(ROOTS_PER_CYCLE + CHILD_TRANSACTIONS);
      expect(f.children.total).toBe(CHILD_TRANSACTIONS + CHILD_SPAN_CONTAINERS);
      for (const t of TRAFFIC) {
        const tally = f.countable.get(t.id)!;
        expect(tally.total).toBe(t.perCycle + (t.id === 101 ? CHILD_TRANSACTIONS : 0));
        expect(f.counted.get(t.id)).toEqual({ total: tally.total, keep: tally.kept });
      }
    }
    // The server refetched what the tasks changed.
    expect(new Set(revs).size).toBeGreaterThan(3);
  });

  it('keeps the organisation within 2% of its target from the first task run on, the new release boost included', () => {
    expect(Math.abs(figures[0].org.keptRate - TARGET) / TARGET).toBeGreaterThan(0.1); // before any rebalancing
    // Issue 14's bar is from the third cycle on, issue 16's (with a release boost) from the second: both hold from the first run.
    for (const f of figures.slice(1)) expect(Math.abs(f.org.keptRate - TARGET) / TARGET).toBeLessThan(0.02);
    expect(Math.abs(Tally.sum(converged().map((f) => f.org)).keptRate - TARGET) / TARGET).toBeLessThan(0.01);
  });

  it('keeps the small projects at their ideal share: whole', () => {
    const ideal = idealRates();
    const small = TRAFFIC.filter((t) => ideal.projects.get(t.id) === 1);
    expect(small.map((t) => t.slug)).toEqual(['billing', 'admin']);
    for (const t of small) for (const f of figures.slice(1)) expect(f.projects.get(t.id)!.meanRate).toBe(1);
    // Not asserted (printed): worker and api's small transactions stay below the bias-free ideal, in
    // both budget modes: development traffic kept whole (about a quarter of the kept roots here) and
    // the release boost are paid from every rate below 1.0.
  });

  it('keeps small projects and small transactions at higher rates than large ones', () => {
    const kept = (id: number) => Tally.sum(converged().map((f) => f.projects.get(id)!)).keptRate;
    expect(kept(104)).toBe(1);
    expect(kept(105)).toBe(1);
    expect(kept(103)).toBeGreaterThan(kept(102));
    expect(kept(102)).toBeGreaterThan(kept(101));
    expect(Tally.sum(converged().map((f) => f.small)).keptRate).toBeGreaterThan(20 * Tally.sum(converged().map((f) => f.big)).keptRate);
    // The development environment is always kept (boost dev environments).
    for (const f of figures) expect(f.dev.keptRate).toBe(1);
  });

  it('keeps health checks at a fifth of the base rate', () => {
    for (const f of figures) expect(f.health.meanRate / f.apiBase).toBeCloseTo(0.2, 9);
    // api sends transactions only: its health checks stay on the transaction rule.
    const health = Tally.sum(figures.map((f) => f.health));
    expect(health.keptRate / health.meanRate).toBeGreaterThan(0.8);
    expect(health.keptRate / health.meanRate).toBeLessThan(1.2);
  });

  it('boosts the new release while its window lasts', () => {
    const boost = (f: CycleFigures) => f.releaseNew.meanRate / f.releaseOld.meanRate;
    expect(boost(figures[NEW_RELEASE_CYCLE])).toBeCloseTo(1, 9); // configs fetched before the release appeared
    expect(boost(figures[NEW_RELEASE_CYCLE + 1])).toBeGreaterThan(1.3);
    // Decaying linearly while the boost lasts (python: 4358 s; the boosted-release hash lives 1 h after its last add), then gone.
    for (let c = NEW_RELEASE_CYCLE + 2; c <= NEW_RELEASE_CYCLE + 5; c++) expect(boost(figures[c])).toBeLessThan(boost(figures[c - 1]));
    for (let c = NEW_RELEASE_CYCLE + 1; c <= NEW_RELEASE_CYCLE + 5; c++) expect(boost(figures[c])).toBeGreaterThan(1.05);
    for (let c = CYCLES - 2; c < CYCLES; c++) expect(boost(figures[c])).toBeCloseTo(1, 9);
  });
});
