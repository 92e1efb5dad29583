// The benchmark's pure-TypeScript peer (bench/peers) against the conformance vectors (test/vectors; every
// `evaluate` and `condition` case, each its own test) and against the native engine on the same
// envelope bytes, so the benchmark compares the same work.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, isTraceFullySampled, matchCondition, PeerEngine, randomValue, type PeerMatchTarget } from '../bench/peers';
import { evaluateInput } from '../src/conformance/runner';
import { demoSamplingConfig } from '../src/demo/config';
import { errorEnvelope, spanEnvelope, transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { SeededRandom } from '../src/demo/random';
import { TrafficGenerator } from '../src/demo/traffic';
import { OUT, SamplingEngine } from '../src/engine/engine';
import type { SamplingConfigJson } from '../src/engine/types';

const VECTORS = path.resolve(__dirname, 'vectors');
const FILES = ['relay.json', 'seed-examples.json'];

interface Case {
  name: string;
  kind: string;
  expected: any;
  [field: string]: any;
}

function checkEvaluation(expected: any, actual: ReturnType<typeof evaluate>): void {
  expect(actual.decision).toBe(expected.decision);
  if (typeof expected.sampleRate === 'number') {
    if (typeof expected.sampleRateTolerance === 'number') {
      expect(Math.abs(actual.sampleRate! - expected.sampleRate)).toBeLessThanOrEqual(expected.sampleRateTolerance);
    } else {
      expect(actual.sampleRate).toBe(expected.sampleRate);
    }
  }
  if (expected.matchedRuleIds !== undefined) expect(actual.matchedRuleIds).toEqual(expected.matchedRuleIds);
}


function run(c: Case): void {
  if (c.seed !== undefined) expect(randomValue(c.seed.uuid)).toBe(c.seed.random);
  if (c.kind === 'condition') {
    const target: PeerMatchTarget = 'dsc' in c ? { dsc: c.dsc } : 'event' in c ? { event: c.event } : { instance: c.instance };
    expect(matchCondition(c.condition, target)).toBe(c.expected);
    return;
  }
  if (c.options?.operation === 'isTraceFullySampled') {
    expect(isTraceFullySampled(evaluateInput(c))).toBe(c.expected.traceFullySampled);
    return;
  }
  if (Array.isArray(c.expected.sequence)) {
    let counters: Record<string, number> = c.options?.reservoirCounters ?? {};
    c.expected.sequence.forEach((step: unknown) => {
      const result = evaluate(evaluateInput(c, counters));
      checkEvaluation(step, result);
      counters = result.reservoirCounters!;
    });
    return;
  }
  checkEvaluation(c.expected, evaluate(evaluateInput(c)));
}

for (const file of FILES) {
  const cases: Case[] = JSON.parse(readFileSync(path.join(VECTORS, file), 'utf8'));
  describe(`typescript peer: ${file}`, () => {
    for (const c of cases.filter((x) => x.kind === 'evaluate' || x.kind === 'condition')) {
      it(`${c.kind}: ${c.name}`, () => run(c));
    }
  });
}

// The envelope path: the peer must decide exactly like the native engine on the same bytes.
describe('typescript peer: envelope path agrees with the native engine', () => {
  const KEY = 'abd0f232775f45feab79864e580d160b';
  const OTHER = '0c5b3c9f0b8e4a1e9a0d2f6d1c7e8b9a';
  const FOREIGN = 'e12d836b15bb49d7bbf99e64295d995b';
  const NOW = new Date('2024-06-01T12:00:00Z');
  const projectConfig: SamplingConfigJson = {
    version: 2,
    rules: [
      { id: 7, type: 'project', condition: { op: 'glob', name: 'trace.release', value: ['*@1.1.*'] }, samplingValue: { type: 'factor', value: 0.5 } },
      { id: 8, type: 'project', condition: { op: 'eq', name: 'trace.environment', value: 'staging' }, samplingValue: { type: 'sampleRate', value: 0.3 } },
    ],
  };

  function engines() {
    const native = new SamplingEngine();
    const peer = new PeerEngine();
    for (const engine of [native, peer]) {
      engine.putProject(KEY, { projectId: 42, organizationId: 1 }, demoSamplingConfig(NOW));
      engine.putProject(OTHER, { projectId: 43, organizationId: 1 }, projectConfig);
      engine.putProject(FOREIGN, { projectId: 44, organizationId: 2 }, projectConfig);
      engine.setNow(NOW.getTime());
    }
    return { native, peer };
  }

  it('decides the same on generated transactions, spans and errors, for own, other and foreign roots', () => {
    const { native, peer } = engines();
    const gen = new TrafficGenerator({ publicKey: KEY, seed: 5, transactionNames: 40, healthCheckShare: 0.2 });
    const random = new SeededRandom(9);
    let checked = 0;
    for (let i = 0; i < 600; i++) {
      const shape = { ...gen.next(), publicKey: [KEY, OTHER, FOREIGN][i % 3] };
      if (i % 7 === 0) shape.sampled = false;
      const sentTo = i % 5 === 0 ? OTHER : KEY;
      const envelopes = [
        transactionEnvelope(shape, transactionEvent(shape, random.hex32(), 2)),
        spanEnvelope(shape, 2),
        errorEnvelope(shape, random.hex32()),
      ];
      for (const envelope of envelopes) {
        const code = native.sampleEnvelope(envelope, sentTo);
        expect(peer.sampleEnvelope(envelope, sentTo)).toBe(code);
        // Error envelopes are never sampled; their matched ids are not compared (the native
        // engine can report the previous envelope's ids when the tag needs no evaluation).
        if (native.result[OUT.kind] !== 3) {
          expect(peer.matchedRuleIds).toEqual(Array.from(native.matchedRuleIds.subarray(0, native.result[OUT.matchedCount])));
        }
        const rate = native.result[OUT.sampleRate];
        if (Number.isNaN(rate)) expect(peer.sampleRate).toBeNaN();
        else expect(peer.sampleRate).toBeCloseTo(rate, 12);
        expect(peer.kind).toBe(native.result[OUT.kind]);
        expect(peer.traceFullySampled).toBe(native.decideEnvelope(envelope, sentTo).traceFullySampled);
        checked++;
      }
    }
    expect(checked).toBe(1800);
  });

  it('reports the same envelope errors and keep reasons', () => {
    const { native, peer } = engines();
    const dsc = `{"trace":{"trace_id":"67e5504410b1426f9247bb680e5fe0c8","public_key":"${KEY}"}}`;
    const cases = [
      '',
      '  \n',
      'not json\n{"type":"span"}\n{}\n',
      `${dsc}\n[1]\n{}\n`,
      `${dsc}\n{"length":2}\n{}\n`,
      `${dsc}\n{"type":"transaction","length":500}\n{}\n`,
      `${dsc}\n{"type":"transaction","length":1}\n{}\n`,
      `${dsc}\n{"type":"transaction"}\nnot an event\n`,
      `${dsc}\n{"type":"attachment","length":3}\nabc\n`,
      `{"trace":{"trace_id":"nope","public_key":"${KEY}"}}\n{"type":"span","item_count":3}\n{}\n`,
      `${dsc}\n\n{"type":"span","item_count":0}\n{}\n`,
    ];
    for (const text of cases) {
      const envelope = Buffer.from(text);
      for (const key of [KEY, 'ffffffffffffffffffffffffffffffff']) {
        const code = native.sampleEnvelope(envelope, key);
        expect(peer.sampleEnvelope(envelope, key), JSON.stringify(text)).toBe(code);
        if (code >= 0) {
          expect(peer.keepReason).toBe(native.result[OUT.keepReason]);
          expect(peer.invalidDsc).toBe(native.result[OUT.invalidDsc] === 1);
          expect(peer.spanCount).toBe(native.result[OUT.spanCount]);
        }
      }
    }
  });
});
