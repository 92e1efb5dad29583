// The OpenTelemetry sampler inside a real @opentelemetry/sdk-trace-base tracer provider: its
// decisions against the server's own sampler, ParentBased inheritance, and the `ot` tracestate.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, createTraceState, trace, TraceFlags, type Attributes } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, SamplingDecision } from '@opentelemetry/sdk-trace-base';

import { createOtelSampler, seededRandom, type DynamicSamplingOtelSampler } from '../src/sdk';
import { passes, parseOtEntry, randomnessFromValue, thresholdFor } from '../src/sdk/otel-threshold';
import { KEEP, DROP } from '../src/engine/engine';
import { spanEnvelope } from '../src/demo/envelopes';
import { startTestServer, type TestServer } from './helpers/server';
import { APP_KEY, randomTraces, SDK_PROJECTS, seeded } from './helpers/sdk-traffic';

let test: TestServer;
let sampler: DynamicSamplingOtelSampler;
beforeAll(async () => {
  test = await startTestServer(SDK_PROJECTS);
  sampler = createOtelSampler({ publicKey: APP_KEY, file: `${test.dir}/projects.json`, release: 'shop@1.0.0' });
  await sampler.rules.prefetch([APP_KEY]);
});
afterAll(async () => {
  await sampler.close();
  await test.server.close();
});

/** A provider whose next root span gets the trace id we set. */
function provider(): { tracer: ReturnType<BasicTracerProvider['getTracer']>; exporter: InMemorySpanExporter; nextTraceId: (id: string) => void } {
  let traceId = '';
  const exporter = new InMemorySpanExporter();
  const p = new BasicTracerProvider({
    sampler,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    idGenerator: { generateTraceId: () => traceId, generateSpanId: () => Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0') + '00c0ffee' },
  });
  return { tracer: p.getTracer('test'), exporter, nextTraceId: (id) => (traceId = id) };
}

describe('the OpenTelemetry sampler', () => {
  it('keeps exactly the traces the server keeps, out of 10,000 random traces', () => {
    const { tracer, nextTraceId } = provider();
    const traces = randomTraces(10_000, 7);
    let disagreements = 0;
    let kept = 0;
    for (const [i, t] of traces.entries()) {
      const route = i % 3 === 0 ? t.name : undefined;
      const attributes: Attributes = { 'service.version': t.release, 'deployment.environment.name': t.environment };
      if (route !== undefined) attributes['http.route'] = route;
      nextTraceId(t.traceId);
      const span = tracer.startSpan(route === undefined ? t.name : `GET ${route}`, { attributes }, context.active());
      const otelKeep = span.isRecording() && (span.spanContext().traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
      span.end();
      // What the server decides for these spans (a span v2 container with the mapped DSC).
      const envelope = spanEnvelope({ traceId: t.traceId, publicKey: APP_KEY, release: t.release, environment: t.environment, transaction: t.name });
      const code = test.server.sampler.sampleEnvelope(envelope, APP_KEY);
      expect(code === KEEP || code === DROP).toBe(true);
      if (otelKeep !== (code === KEEP)) disagreements++;
      if (otelKeep) {
        kept++;
        // The decision travels as a consistent-probability threshold and the randomness that decided.
        const ot = parseOtEntry(span.spanContext().traceState?.get('ot'))!;
        const threshold = thresholdFor(test.server.sampler.engine.result[1])!;
        expect(ot.th).toBe(threshold.th);
        expect(ot.rv).toBe(randomnessFromValue(seededRandom(t.traceId)));
        expect(passes(ot.rv!, threshold)).toBe(true);
      }
    }
    expect(disagreements).toBe(0);
    expect(kept).toBeGreaterThan(1500);
    expect(kept).toBeLessThan(8500);
  });

  it('follows the parent (ParentBased): children of kept roots are kept with the same tracestate, children of dropped roots dropped', () => {
    const { tracer, nextTraceId } = provider();
    const seen = { kept: 0, dropped: 0 };
    for (const t of randomTraces(200, 99)) {
      nextTraceId(t.traceId);
      const root = tracer.startSpan(t.name, { attributes: { 'deployment.environment.name': t.environment } });
      const child = tracer.startSpan('db.query', {}, trace.setSpan(context.active(), root));
      expect(child.spanContext().traceFlags).toBe(root.spanContext().traceFlags);
      expect(child.spanContext().traceState?.serialize()).toBe(root.spanContext().traceState?.serialize());
      seen[root.isRecording() ? 'kept' : 'dropped']++;
    }
    expect(seen.kept).toBeGreaterThan(10);
    expect(seen.dropped).toBeGreaterThan(10);
  });

  it('maps http.route, service.version, deployment.environment.name to the fields rules read', () => {
    const traceId = 'f'.repeat(31) + '1';
    const decide = (name: string, attributes: Attributes) => sampler.shouldSample(context.active(), traceId, name, 0, attributes, []);
    // Rule 11 (trace.transaction /api/users/*, 0.2) through http.route; rule 13 (0.45) otherwise.
    const byRoute = decide('GET', { 'http.route': '/api/users/:id', 'deployment.environment.name': 'development' });
    const byName = decide('/api/orders', { 'deployment.environment.name': 'development' });
    // Rule 12 (production, 0.3) with the 1.5 factor of release shop@2.0.0 (rule 10).
    const byRelease = decide('/api/orders', { 'deployment.environment.name': 'production', 'service.version': 'shop@2.0.0' });
    const th = (r: { traceState?: { get(k: string): string | undefined } }) => parseOtEntry(r.traceState?.get('ot'))?.th;
    const value = seededRandom(traceId);
    for (const [result, rate] of [[byRoute, 0.2], [byName, 0.45], [byRelease, 0.3 * 1.5]] as const) {
      expect(result.decision).toBe(value < rate ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD);
      if (value < rate) expect(th(result)).toBe(thresholdFor(rate)!.th);
    }
  });

  it('respects an incoming rv when it re-decides a remote parent (parentPolicy rules)', async () => {
    const rules = createOtelSampler({ publicKey: APP_KEY, rules: sampler.rules, parentPolicy: 'rules' });
    const remote = (ot: string) =>
      trace.setSpanContext(context.active(), { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED, isRemote: true, traceState: createTraceState(`ot=${ot},vendor=x`) });
    // development environment: rule 13, rate 0.45, threshold (1 - 0.45) * 2^56.
    const threshold = thresholdFor(0.45)!;
    const above = (BigInt('0x' + threshold.padded) + 1n).toString(16).padStart(14, '0');
    const below = (BigInt('0x' + threshold.padded) - 1n).toString(16).padStart(14, '0');
    const attributes = { 'deployment.environment.name': 'development' };
    const keep = rules.shouldSample(remote(`rv:${above};p:3`), 'a'.repeat(32), '/x', 0, attributes, []);
    expect(keep.decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(keep.traceState?.get('ot')).toBe(`th:${threshold.th};rv:${above};p:3`);
    expect(keep.traceState?.get('vendor')).toBe('x');
    const drop = rules.shouldSample(remote(`rv:${below}`), 'a'.repeat(32), '/x', 0, attributes, []);
    expect(drop.decision).toBe(SamplingDecision.NOT_RECORD);
    // With the default policy the remote parent's decision stands.
    const inherit = sampler.shouldSample(remote(`rv:${below}`), 'a'.repeat(32), '/x', 0, attributes, []);
    expect(inherit.decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    await rules.close();
  });
});

describe('the ot threshold', () => {
  it('rv from the engine value passes th from a rate exactly when the value is below the rate', () => {
    const random = seeded(5);
    const rates = [1e-9, 2 ** -53, 0.001, 0.1, 0.2, 0.3 * 1.5, 0.5, 0.999999, 1 - 2 ** -53];
    for (let i = 0; i < 5_000; i++) {
      const rate = i < rates.length ? rates[i] : random();
      // Values at, just below and just above the rate, and random ones.
      const k = Math.ceil(rate * 2 ** 53);
      for (const value of [random(), (k - 1) / 2 ** 53, k / 2 ** 53, Math.min(k + 1, 2 ** 53 - 1) / 2 ** 53, 0]) {
        expect(passes(randomnessFromValue(value), thresholdFor(rate)!), `rate ${rate} value ${value}`).toBe(value < rate);
      }
    }
    expect(randomnessFromValue(0)).toBe('fffffffffffff8');
    expect(randomnessFromValue(0.5)).toBe('7ffffffffffff8');
    expect(randomnessFromValue(1 - 2 ** -53)).toBe('00000000000000');
    expect(thresholdFor(1)!.th).toBe('0');
    expect(thresholdFor(0.5)!.th).toBe('8');
    expect(thresholdFor(0.25)!.th).toBe('c');
    expect(thresholdFor(0)).toBeNull();
  });
});
