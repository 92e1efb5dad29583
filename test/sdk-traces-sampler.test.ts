// The traces sampler inside the real @sentry/node SDK: the precedence table of sdk-sampling.md case
// by case, invalid results, a distributed trace across two services, and the error sampler.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Sentry from '@sentry/node';

import { createErrorSampler, createHeadRules, createTracesSampler, seededRandom, type HeadRules, type TracesSamplerOptions } from '../src/sdk';
import { parseEnvelope, startTestServer, waitFor, type TestServer } from './helpers/server';
import { APP_KEY, CHILD_KEY, memoryTransport, randomTraces, SDK_PROJECTS } from './helpers/sdk-traffic';
import type { EnvelopeObservation } from '../src/server/options';

// Environment `development`: rule 13 (trace, 0.45) decides. Values 0.0308 and 0.948.
const LOW = '0c314f63335a2eac5bbaf34e4dc8bf43';
const HIGH = '87b3a5527b73dd9115ed38794b92bd98';
const UNKNOWN_KEY = '9f1e3c2b4a5968778695a4b3c2d1e0f1';

let test: TestServer;
let rules: HeadRules;
const observed: EnvelopeObservation[] = [];
beforeAll(async () => {
  test = await startTestServer(SDK_PROJECTS, { onEnvelope: (o) => observed.push(o) });
  rules = createHeadRules({ file: `${test.dir}/projects.json` });
  await rules.prefetch([APP_KEY, CHILD_KEY]);
});
afterAll(async () => {
  await rules.close();
  await test.server.close();
});

interface Sent {
  traceIds: string[];
  dscs: Record<string, string>[];
}

type Start = { traceId: string; parent?: { sampled: boolean; sampleRate?: number }; attributes?: Record<string, unknown> };

/** Starts root spans with the SDK and this sampler; returns what the SDK sent (transactions). */
async function run(options: Partial<TracesSamplerOptions>, starts: Start[], dsnKey = APP_KEY): Promise<Sent> {
  const bodies: Uint8Array[] = [];
  const sampler = createTracesSampler({ rules, ...options });
  Sentry.init({ dsn: test.server.dsn(dsnKey, 1), tracesSampler: sampler, environment: 'development', defaultIntegrations: false, transport: memoryTransport(bodies) });
  for (const s of starts) {
    const span = () => Sentry.startSpan({ name: '/api/orders', op: 'http.server', attributes: s.attributes as Record<string, string> }, () => undefined);
    if (s.parent === undefined) {
      Sentry.withScope((scope) => {
        scope.setPropagationContext({ traceId: s.traceId, sampleRand: 0.5 });
        span();
      });
    } else {
      const baggage = [`sentry-trace_id=${s.traceId}`, `sentry-public_key=${APP_KEY}`, 'sentry-environment=development', `sentry-sampled=${s.parent.sampled}`];
      if (s.parent.sampleRate !== undefined) baggage.push(`sentry-sample_rate=${s.parent.sampleRate}`);
      Sentry.continueTrace({ sentryTrace: `${s.traceId}-${'1'.repeat(16)}-${s.parent.sampled ? 1 : 0}`, baggage: baggage.join(',') }, span);
    }
  }
  await Sentry.close(5000);
  await sampler.close();
  const sent: Sent = { traceIds: [], dscs: [] };
  for (const body of bodies) {
    const { header, items } = parseEnvelope(Buffer.from(body));
    // The default (stream) lifecycle sends span containers; the static one transactions.
    if (!items.some((i) => i.header.type === 'transaction' || i.header.type === 'span')) continue;
    sent.traceIds.push(header.trace.trace_id);
    sent.dscs.push(header.trace);
  }
  return sent;
}

describe('the traces sampler in @sentry/node: precedence (sdk-sampling.md)', () => {
  it('has the premise: rule 13 keeps LOW and drops HIGH', () => {
    expect(seededRandom(LOW)).toBeLessThan(0.45);
    expect(seededRandom(HIGH)).toBeGreaterThanOrEqual(0.45);
  });

  it('1. an explicit decision (sampling.priority) wins over the rules and the parent', async () => {
    const sent = await run({}, [
      { traceId: HIGH, attributes: { 'sampling.priority': 1 } },
      { traceId: LOW, attributes: { 'sampling.priority': 0 } },
      { traceId: LOW.replace('0c', '1c'), parent: { sampled: true }, attributes: { 'sampling.priority': false } },
    ]);
    expect(sent.traceIds).toEqual([HIGH]);
  });

  it('2. the sampler inherits a parent decision by default, keeping the parent rate in the DSC', async () => {
    const sent = await run({}, [
      { traceId: HIGH, parent: { sampled: true, sampleRate: 0.7 } },
      { traceId: LOW, parent: { sampled: false, sampleRate: 0.7 } },
    ]);
    expect(sent.traceIds).toEqual([HIGH]);
    expect(sent.dscs[0]).toMatchObject({ sampled: 'true', sample_rate: '0.7' });
  });

  it('2b. with parentPolicy "rules" it ignores the parent and the rules decide', async () => {
    const sent = await run({ parentPolicy: 'rules' }, [
      { traceId: HIGH, parent: { sampled: true } },
      { traceId: LOW, parent: { sampled: false } },
    ]);
    expect(sent.traceIds).toEqual([LOW]);
  });

  it('3. without a parent the rules decide with the trace-id value; the DSC carries the rule rate and that value', async () => {
    const sent = await run({}, [{ traceId: LOW }, { traceId: HIGH }]);
    expect(sent.traceIds).toEqual([LOW]);
    expect(sent.dscs[0]).toMatchObject({ public_key: APP_KEY, environment: 'development', transaction: '/api/orders', sampled: 'true', sample_rate: '0.45', sample_rand: String(seededRandom(LOW)) });
  });

  it('4. an unknown project falls back to fallbackRate', async () => {
    const own = createHeadRules({ file: `${test.dir}/projects.json`, fallbackRate: 0 });
    await own.prefetch([UNKNOWN_KEY]);
    expect((await run({ rules: own }, [{ traceId: LOW }], UNKNOWN_KEY)).traceIds).toEqual([]);
    await own.close();
    const keepAll = createHeadRules({ file: `${test.dir}/projects.json`, fallbackRate: 1 });
    await keepAll.prefetch([UNKNOWN_KEY]);
    expect((await run({ rules: keepAll }, [{ traceId: HIGH }], UNKNOWN_KEY)).traceIds).toEqual([HIGH]);
    await keepAll.close();
  });

  it('4b. a config not loaded yet falls back too, and the rules apply once it is', async () => {
    const fresh = createHeadRules({ file: `${test.dir}/projects.json`, fallbackRate: 0 });
    // LOW would be kept by the rules: while the config loads, the fallback (0) drops it.
    expect((await run({ rules: fresh }, [{ traceId: LOW }])).traceIds).toEqual([]);
    await fresh.prefetch([APP_KEY]);
    expect((await run({ rules: fresh }, [{ traceId: LOW }])).traceIds).toEqual([LOW]);
    await fresh.close();
  });

  it('invalid override results (NaN, negative, above 1, not a number or boolean) warn and drop', async () => {
    const warnings: string[] = [];
    const results: unknown[] = [NaN, -0.1, 1.5, '1', null, true, undefined];
    let i = 0;
    const traces = results.map((_, n) => LOW.slice(0, 30) + String(n).padStart(2, '0'));
    const sent = await run({ override: () => results[i++], warn: (m) => warnings.push(m) }, traces.map((traceId) => ({ traceId })));
    // true keeps; undefined falls through to the rules; the five invalid ones drop.
    const fallThrough = seededRandom(traces[6]) < 0.45 ? [traces[6]] : [];
    expect(sent.traceIds).toEqual([traces[5], ...fallThrough]);
    expect(warnings).toHaveLength(5);
    expect(warnings[0]).toMatch(/returned NaN: a sample rate must be a boolean or a number in \[0, 1\]; dropping/);
    expect(warnings[3]).toMatch(/returned "1" \(string\)/);
  });

  it('rejects bad options with a clear error', () => {
    expect(() => createTracesSampler({ rules, parentPolicy: 'never' as never })).toThrow(/parentPolicy must be 'inherit' or 'rules'/);
    expect(() => createTracesSampler({ file: 'x.json', fallbackRate: 2 })).toThrow(/fallbackRate must be a number in \[0, 1\]/);
    expect(() => createTracesSampler({})).toThrow(/exactly one of upstream, file or source/);
  });
});

const isTrace = (o: EnvelopeObservation) => o.decision.kind === 'transaction' || o.decision.kind === 'spans';

describe('a distributed trace across two services with the sampler', () => {
  it('the child inherits: each trace is kept or dropped whole, and the server keeps everything sent', async () => {
    observed.length = 0;
    const traces = randomTraces(300, 77);
    const headers: { traceId: string; sentryTrace: string; baggage: string }[] = [];
    // Parent service (project APP_KEY).
    const parentSampler = createTracesSampler({ rules });
    Sentry.init({ dsn: test.server.dsn(APP_KEY, 1), tracesSampler: parentSampler, environment: 'production', release: 'shop@2.0.0', defaultIntegrations: false });
    for (const t of traces) {
      Sentry.withScope((scope) => {
        scope.setPropagationContext({ traceId: t.traceId, sampleRand: Math.random() });
        Sentry.startSpan({ name: t.name, op: 'http.server' }, () => {
          const data = Sentry.getTraceData();
          headers.push({ traceId: t.traceId, sentryTrace: data['sentry-trace']!, baggage: data.baggage! });
        });
      });
      if (headers.length % 50 === 0) await Sentry.flush(5000);
    }
    await Sentry.close(5000);
    // Child service (project CHILD_KEY), continuing each trace from the headers it received.
    const childSampler = createTracesSampler({ rules });
    Sentry.init({ dsn: test.server.dsn(CHILD_KEY, 2), tracesSampler: childSampler, environment: 'production', defaultIntegrations: false });
    for (const [n, h] of headers.entries()) {
      Sentry.continueTrace({ sentryTrace: h.sentryTrace, baggage: h.baggage }, () => Sentry.startSpan({ name: 'process-order', op: 'queue.process' }, () => undefined));
      if (n % 50 === 49) await Sentry.flush(5000);
    }
    await Sentry.close(5000);

    const byProject = (key: string) => new Set(observed.filter((o) => isTrace(o) && parseEnvelope(o.body).header.trace?.public_key === APP_KEY && o.publicKey === key).map((o) => parseEnvelope(o.body).header.trace.trace_id as string));
    await waitFor(() => observed.filter((o) => isTrace(o)).length >= 2 * byProject(APP_KEY).size && byProject(APP_KEY).size > 0, 10_000, 'both services');
    const parentSent = byProject(APP_KEY);
    const childSent = byProject(CHILD_KEY);
    expect([...childSent].sort()).toEqual([...parentSent].sort());
    expect(parentSent.size).toBeGreaterThan(30);
    expect(parentSent.size).toBeLessThan(270);
    // The server keeps every transaction of both services (the child's with the root's trace rules).
    for (const o of observed.filter((x) => isTrace(x))) expect(o.decision.decision).toBe('keep');
    // The child's DSC is the parent's: the root rule's rate travels with the trace.
    const childDsc = observed.filter((o) => o.publicKey === CHILD_KEY && isTrace(o)).map((o) => parseEnvelope(o.body).header.trace);
    for (const dsc of childDsc) expect(Number(dsc.sample_rate)).toBeLessThan(1);
  }, 60_000);
});

describe('the error sampler', () => {
  const event = (type: string, extra: Record<string, unknown> = {}) => ({ type: undefined, exception: { values: [{ type: 'Cause' }, { type }] }, ...extra }) as never;

  it('rates by exception type, then logger, then level, then the default; booleans as 1 and 0', () => {
    const sampler = createErrorSampler({ exceptionTypes: { TypeError: 0.5, AbortError: false }, loggers: { noisy: 0.1 }, levels: { warning: true }, defaultRate: 0.9 });
    expect(sampler.rateFor(event('TypeError'), {})).toBe(0.5);
    expect(sampler.rateFor(event('AbortError', { logger: 'noisy' }), {})).toBe(0);
    expect(sampler.rateFor(event('Error', { logger: 'noisy' }), {})).toBe(0.1);
    expect(sampler.rateFor(event('Error', { level: 'warning' }), {})).toBe(1);
    expect(sampler.rateFor(event('Error'), {})).toBe(0.9);
    // The cause's type does not count: the thrown error is the last value.
    expect(sampler.rateFor(event('Cause2', {}), {})).toBe(0.9);
    expect(() => createErrorSampler({ exceptionTypes: { X: 2 } })).toThrow(/exceptionTypes.X must be a boolean or a number in \[0, 1\], got 2/);
  });

  it('drops errors through beforeSend in @sentry/node, and warns and drops on invalid callback results', async () => {
    const warnings: string[] = [];
    const sampler = createErrorSampler({ exceptionTypes: { AbortError: 0 }, sampler: (e) => ((e.exception?.values?.at(-1)?.value ?? '').includes('weird') ? NaN : undefined), warn: (m) => warnings.push(m) });
    const bodies: Uint8Array[] = [];
    Sentry.init({ dsn: test.server.dsn(APP_KEY, 1), beforeSend: sampler.beforeSend, defaultIntegrations: false, transport: memoryTransport(bodies) });
    const abort = new Error('stop');
    abort.name = 'AbortError';
    Sentry.captureException(abort);
    Sentry.captureException(new Error('weird thing'));
    Sentry.captureException(new Error('kept'));
    await Sentry.close(5000);
    const messages = bodies.map((b) => parseEnvelope(Buffer.from(b))).flatMap((e) => e.items.filter((i) => i.header.type === 'event').map((i) => JSON.parse(i.payload.toString()).exception.values.at(-1).value));
    expect(messages).toEqual(['kept']);
    expect(warnings).toEqual(['the error sampler callback returned NaN: a sample rate must be a boolean or a number in [0, 1]; dropping']);
  });

  it('tags contexts.trace.sampled as the server would (sampling.md §7.3)', async () => {
    const sampler = createErrorSampler({ rules, publicKey: APP_KEY });
    const bodies: Uint8Array[] = [];
    Sentry.init({ dsn: test.server.dsn(APP_KEY, 1), beforeSend: sampler.beforeSend, tracesSampleRate: 1, environment: 'development', defaultIntegrations: false, transport: memoryTransport(bodies) });
    for (const traceId of [LOW, HIGH]) {
      Sentry.continueTrace({ sentryTrace: `${traceId}-${'2'.repeat(16)}-1`, baggage: `sentry-trace_id=${traceId},sentry-public_key=${APP_KEY},sentry-environment=development,sentry-sampled=true` }, () =>
        Sentry.startSpan({ name: 'x' }, () => Sentry.captureException(new Error(traceId))),
      );
    }
    // No sampled flag in the DSC: no tag.
    Sentry.continueTrace({ sentryTrace: `${LOW.replace('0c', '2c')}-${'2'.repeat(16)}`, baggage: `sentry-trace_id=${LOW.replace('0c', '2c')},sentry-public_key=${APP_KEY},sentry-environment=development` }, () => Sentry.captureException(new Error('untagged')));
    await Sentry.close(5000);
    const tags = new Map<string, unknown>();
    for (const b of bodies) {
      for (const item of parseEnvelope(Buffer.from(b)).items.filter((i) => i.header.type === 'event')) {
        const e = JSON.parse(item.payload.toString());
        tags.set(e.exception.values.at(-1).value, e.contexts.trace.sampled);
      }
    }
    expect(tags).toEqual(new Map<string, unknown>([[LOW, true], [HIGH, false], ['untagged', undefined]]));
  });
});
