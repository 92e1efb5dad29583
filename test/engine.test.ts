// The native engine: the project store, the envelope fast path against the convenient API,
// batches, malformed input, and loading in a worker thread.

import { Worker } from 'node:worker_threads';
import path from 'node:path';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { errorEnvelope, spanEnvelope, transactionEnvelope, transactionEvent, dscFor, type TraceShape } from '../src/demo/envelopes';
import { DROP, EnvelopeBatch, KEEP, NO_MATCH, OUT, SamplingEngine } from '../src/engine/engine';
import { EnvelopeError, SamplingConfigError, SamplingRequestError } from '../src/engine/errors';
import { evaluate } from '../src/engine/evaluate';
import type { SamplingConfigJson } from '../src/engine/types';
import { engineWith, FOREIGN_KEY, KEY, MIXED_CONFIG, mixedTraffic, NOW, OTHER_KEY } from './helpers/engine';

const CODES = ['keep', 'drop', 'noMatch'];

describe('project store', () => {
  it('keeps the previous config when a new one is rejected, with path and rule id', () => {
    const engine = engineWith({ version: 2, rules: [{ id: 9, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0 } }] });
    const trace = mixedTraffic(1)[0];
    const envelope = spanEnvelope(trace);
    expect(engine.sampleEnvelope(envelope, KEY)).toBe(DROP);

    const bad = { version: 2, rules: [{ id: 17, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'bogus', value: 1 } }] };
    let error: unknown;
    try {
      engine.putProject(KEY, { projectId: 1, organizationId: 1 }, bad as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SamplingConfigError);
    expect((error as SamplingConfigError).path).toBe('rules[0].samplingValue.type');
    expect((error as SamplingConfigError).ruleId).toBe(17);
    expect((error as SamplingConfigError).publicKey).toBe(KEY);
    // Still the old config in force.
    expect(engine.sampleEnvelope(envelope, KEY)).toBe(DROP);
    expect(engine.result[OUT.matchedCount]).toBe(1);
    expect(engine.matchedRuleIds[0]).toBe(9);
  });

  it('replaces and removes projects; unknown projects are kept and reported', () => {
    const engine = engineWith();
    expect(engine.projectCount).toBe(1);
    const envelope = spanEnvelope(mixedTraffic(1)[0]);
    engine.putProject(KEY, { projectId: 1, organizationId: 1 }, { version: 2, rules: [{ id: 1, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 1 } }] });
    expect(engine.decideEnvelope(envelope, KEY)).toMatchObject({ decision: 'keep', matchedRuleIds: [1], sampleRate: 1 });
    expect(engine.removeProject(KEY)).toBe(true);
    expect(engine.decideEnvelope(envelope, KEY)).toMatchObject({ decision: 'noMatch', keepReason: 'unknownProject' });
  });

  it('keeps engines independent of each other', () => {
    const a = engineWith({ version: 2, rules: [{ id: 1, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0 } }] });
    const b = engineWith({ version: 2, rules: [{ id: 2, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 1 } }] });
    const envelope = spanEnvelope(mixedTraffic(1)[0]);
    expect(a.sampleEnvelope(envelope, KEY)).toBe(DROP);
    expect(b.sampleEnvelope(envelope, KEY)).toBe(KEEP);
    expect(a.matchedRuleIds[0]).toBe(1);
    expect(b.matchedRuleIds[0]).toBe(2);
  });

  it('rejects malformed keys with a TypeError naming the argument', () => {
    const engine = new SamplingEngine();
    expect(() => engine.putProject('nope', { projectId: 1, organizationId: 1 }, null)).toThrow(/publicKey must be a project public key/);
    expect(() => engine.sampleEnvelope(Buffer.from('{}\n'), 'nope')).toThrow(TypeError);
  });

  it('treats a root project of another organisation as unknown', () => {
    const engine = engineWith({ version: 2, rules: [{ id: 7, type: 'project', condition: { op: 'and', inner: [] }, samplingValue: { type: 'factor', value: 1 } }] });
    const rootConfig: SamplingConfigJson = { version: 2, rules: [{ id: 8, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0 } }] };
    engine.putProject(FOREIGN_KEY, { projectId: 2, organizationId: 99 }, rootConfig);
    engine.putProject(OTHER_KEY, { projectId: 3, organizationId: 1 }, rootConfig);
    const base = mixedTraffic(1)[0];
    // Same organisation: the root's trace rule drops.
    expect(engine.sampleEnvelope(spanEnvelope({ ...base, publicKey: OTHER_KEY }), KEY)).toBe(DROP);
    // Another organisation: the span's own project becomes the root (no terminating rule: kept).
    expect(engine.sampleEnvelope(spanEnvelope({ ...base, publicKey: FOREIGN_KEY }), KEY)).toBe(NO_MATCH);
  });
});

describe('envelope fast path agrees with the convenient API', () => {
  const engine = engineWith();
  const rootSame = { rootConfig: MIXED_CONFIG, config: MIXED_CONFIG, now: NOW };

  it('for transaction envelopes', () => {
    let decisions = 0;
    for (const trace of mixedTraffic(400)) {
      const event = transactionEvent(trace, trace.traceId.split('').reverse().join(''));
      const fast = engine.decideEnvelope(transactionEnvelope(trace, event), KEY);
      const slow = evaluate({ ...rootSame, dsc: dscFor(trace), event });
      expect(fast.kind).toBe('transaction');
      expect(fast.decision).toBe(slow.decision);
      expect(fast.sampleRate).toBe(slow.sampleRate);
      expect(fast.randomValue).toBe(slow.randomValue);
      expect(fast.matchedRuleIds).toEqual(slow.matchedRuleIds);
      decisions += fast.decision === 'drop' ? 1 : 0;
    }
    expect(decisions).toBeGreaterThan(0);
  });

  it('for streamed span envelopes', () => {
    for (const trace of mixedTraffic(400, 2)) {
      const fast = engine.decideEnvelope(spanEnvelope(trace, 3), KEY);
      const slow = evaluate({ ...rootSame, dsc: dscFor(trace), itemType: 'span' });
      expect(fast).toMatchObject({ kind: 'spans', spanCount: 3, decision: slow.decision, sampleRate: slow.sampleRate, matchedRuleIds: slow.matchedRuleIds });
    }
  });

  it('for error envelopes: never dropped, tagged with whether the trace was kept', () => {
    for (const trace of mixedTraffic(100, 3)) {
      const fast = engine.decideEnvelope(errorEnvelope(trace, trace.traceId), KEY);
      const slow = evaluate({ rootConfig: MIXED_CONFIG, dsc: dscFor(trace), now: NOW });
      expect(fast.kind).toBe('error');
      expect(fast.decision).toBe('noMatch');
      expect(fast.traceFullySampled).toBe(slow.decision !== 'drop');
    }
  });

  it('in batches, with the same results as one call per envelope', () => {
    const batch = new EnvelopeBatch(65);
    const traces = mixedTraffic(64, 4);
    const envelopes = traces.map((t, i) => (i % 2 === 0 ? spanEnvelope(t) : transactionEnvelope(t, transactionEvent(t, t.traceId))));
    envelopes.forEach((e) => batch.add(e, KEY));
    batch.add(Buffer.from('garbage'), KEY);
    engine.sampleEnvelopes(batch);
    envelopes.forEach((e, i) => {
      expect(batch.decision(i)).toEqual(engine.decideEnvelope(e, KEY));
    });
    expect(batch.decisionCode(64)).toBe(-2);
    expect(() => batch.decision(64)).toThrow(EnvelopeError);
  });
});

describe('malformed envelopes', () => {
  const engine = engineWith();
  const trace = mixedTraffic(1)[0];
  const good = transactionEnvelope(trace, transactionEvent(trace, trace.traceId));

  it.each([
    ['empty', Buffer.from(''), 1],
    ['header not JSON', Buffer.from('not json\n{"type":"event"}\n{}\n'), 2],
    ['item header not JSON', Buffer.from('{}\n{type:event}\n{}\n'), 3],
    ['item without type', Buffer.from('{}\n{"length":2}\n{}\n'), 4],
    ['length past the end', Buffer.from('{}\n{"type":"attachment","length":99}\nabc'), 5],
    ['truncated envelope', good.subarray(0, good.length - 40), 5],
    ['payload longer than length', Buffer.from('{}\n{"type":"attachment","length":2}\nabc\n'), 6],
  ])('%s gets an error code', (_name, bytes, code) => {
    expect(engine.sampleEnvelope(bytes, KEY)).toBe(-code);
  });

  it('keeps a transaction whose event is not valid JSON, and says why', () => {
    const bytes = Buffer.from(`{"trace":${JSON.stringify(dscFor(trace))}}\n{"type":"transaction"}\n{"event_id": nope}\n`);
    expect(engine.decideEnvelope(bytes, KEY)).toMatchObject({ decision: 'noMatch', keepReason: 'invalidEvent' });
  });

  it('treats a DSC that does not parse as missing', () => {
    const dsc = { ...dscFor(trace), sample_rate: 0.5 };
    const bytes = Buffer.from(`{"trace":${JSON.stringify(dsc)}}\n{"type":"span"}\n{"items":[]}\n`);
    expect(engine.decideEnvelope(bytes, KEY)).toMatchObject({ invalidDsc: true, decision: 'noMatch' });
  });

  it('never crashes on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const code = engine.sampleEnvelope(bytes, KEY);
        expect([KEEP, DROP, NO_MATCH, -1, -2, -3, -4, -5, -6]).toContain(code);
      }),
      { numRuns: 2000 },
    );
  });

  it('never crashes on mutated real envelopes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const copy = Buffer.from(good);
        copy[at] = byte;
        const code = engine.sampleEnvelope(copy, KEY);
        expect(code).toBeGreaterThanOrEqual(-6);
        expect(code).toBeLessThanOrEqual(2);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('properties', () => {
  const rateConfig = (rate: number): SamplingConfigJson => ({ version: 2, rules: [{ id: 1, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: rate } }] });
  const traceId = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex'));
  const dsc = (id: string) => ({ trace_id: id, public_key: KEY });

  it('the same trace id and rate always give the same decision', () => {
    fc.assert(
      fc.property(traceId, fc.double({ min: 0, max: 1, noNaN: true }), (id, rate) => {
        const a = evaluate({ rootConfig: rateConfig(rate), dsc: dsc(id), now: NOW });
        const b = evaluate({ rootConfig: rateConfig(rate), dsc: dsc(id), now: NOW });
        expect(a).toEqual(b);
      }),
      { numRuns: 300 },
    );
  });

  it('a trace kept at rate r is kept at every rate above r', () => {
    fc.assert(
      fc.property(traceId, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (id, r1, r2) => {
        const [low, high] = r1 <= r2 ? [r1, r2] : [r2, r1];
        const atLow = evaluate({ rootConfig: rateConfig(low), dsc: dsc(id), now: NOW });
        const atHigh = evaluate({ rootConfig: rateConfig(high), dsc: dsc(id), now: NOW });
        if (atLow.decision === 'keep') expect(atHigh.decision).toBe('keep');
      }),
      { numRuns: 500 },
    );
  });

  it('every service of a trace agrees: the fast path decides like evaluate for random trace ids', () => {
    const engine = engineWith(rateConfig(0.5));
    fc.assert(
      fc.property(traceId, (id) => {
        const trace: TraceShape = { traceId: id, publicKey: KEY, transaction: '/x' };
        expect(CODES[engine.sampleEnvelope(spanEnvelope(trace), KEY)]).toBe(evaluate({ rootConfig: rateConfig(0.5), dsc: dsc(id), now: NOW, itemType: 'span' }).decision);
      }),
      { numRuns: 300 },
    );
  });
});

describe('loading', () => {
  it('works inside a worker thread (each worker has its own engine)', async () => {
    const script = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { SamplingEngine } = require(workerData.dist + '/engine/engine.js');
      const engine = new SamplingEngine();
      engine.putProject(workerData.key, { projectId: 1, organizationId: 1 }, { version: 2, rules: [{ id: 1, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0 } }] });
      const envelope = Buffer.from('{"trace":{"trace_id":"67e5504410b1426f9247bb680e5fe0c8","public_key":"' + workerData.key + '"}}\\n{"type":"span"}\\n{"items":[]}\\n');
      parentPort.postMessage(engine.sampleEnvelope(envelope, workerData.key));
    `;
    const worker = new Worker(script, { eval: true, workerData: { dist: path.resolve(__dirname, '../dist'), key: KEY } });
    const result = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(result).toBe(DROP);
  });
});
