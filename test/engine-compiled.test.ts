// Compiled sampling configs (`compileSamplingConfig`): the same answers as the engine's JSON route
// for objects, text and bytes; clear errors for bad configs and inputs; the object form as sugar.

import { describe, expect, it } from 'vitest';

import { dscFor, transactionEvent, type TraceShape } from '../src/demo/envelopes';
import { compileSamplingConfig, CompiledSamplingConfig } from '../src/engine/compiled-config';
import { SamplingConfigError, SamplingRequestError } from '../src/engine/errors';
import { evaluate, evaluationOrder, explain, isTraceFullySampled } from '../src/engine/evaluate';
import { native } from '../src/engine/native';
import type { SamplingConfigJson, SamplingRuleJson } from '../src/engine/types';
import { KEY, MIXED_CONFIG, mixedTraffic, NOW } from './helpers/engine';

const all = { op: 'and', inner: [] } as const;

/** The engine's JSON route (configs as text), the reference the compiled path must agree with. */
function jsonRoute(request: Record<string, unknown>, config: SamplingConfigJson | null, rootConfig: SamplingConfigJson | null) {
  const text = (c: SamplingConfigJson | null) => (c === null ? null : JSON.stringify(c));
  return JSON.parse(native.evaluateJson(JSON.stringify({ now: NOW.toISOString(), ...request }), text(config), text(rootConfig)));
}

describe('evaluate() with compiled configs', () => {
  const compiled = compileSamplingConfig(MIXED_CONFIG);

  it('decides as the JSON route, with the DSC and event as objects, JSON text or bytes', () => {
    let drops = 0;
    for (const trace of mixedTraffic(300, 11)) {
      const dsc = dscFor(trace);
      const event = transactionEvent(trace, trace.traceId.split('').reverse().join(''));
      const reference = jsonRoute({ dsc, event }, MIXED_CONFIG, MIXED_CONFIG);
      const forms = [
        { dsc, event },
        { dsc: JSON.stringify(dsc), event: JSON.stringify(event) },
        { dsc: Buffer.from(JSON.stringify(dsc)), event: new TextEncoder().encode(JSON.stringify(event)) },
      ];
      for (const form of forms) {
        const result = evaluate({ config: compiled, rootConfig: compiled, now: NOW, ...form });
        expect(result).toMatchObject({
          decision: reference.decision,
          sampleRate: reference.sampleRate,
          randomValue: reference.randomValue,
          matchedRuleIds: reference.matchedRuleIds,
          stage: reference.stage,
          notes: [],
        });
      }
      // The object form compiles the config object once and answers the same.
      expect(evaluate({ config: MIXED_CONFIG, rootConfig: MIXED_CONFIG, now: NOW, dsc, event }).decision).toBe(reference.decision);
      drops += reference.decision === 'drop' ? 1 : 0;
    }
    expect(drops).toBeGreaterThan(0);
  });

  it('decides spans, legacy spans and foreign roots as the JSON route', () => {
    for (const trace of mixedTraffic(100, 12)) {
      const dsc = dscFor(trace);
      for (const request of [{ itemType: 'span' as const }, { itemType: 'legacySpan' as const }, { rootProjectKnown: false }]) {
        const reference = jsonRoute({ dsc, ...request }, MIXED_CONFIG, MIXED_CONFIG);
        const result = evaluate({ config: compiled, rootConfig: compiled, now: NOW, dsc: JSON.stringify(dsc), ...request });
        expect([result.decision, result.sampleRate, result.matchedRuleIds]).toEqual([reference.decision, reference.sampleRate, reference.matchedRuleIds]);
      }
    }
  });

  it('reports every matched rule, however many', () => {
    const rules: SamplingRuleJson[] = Array.from({ length: 150 }, (_, i) => ({ id: 10 + i, type: 'trace', condition: all, samplingValue: { type: 'factor', value: 1 } }));
    rules.push({ id: 1000, type: 'trace', condition: all, samplingValue: { type: 'sampleRate', value: 0.5 } });
    const many = compileSamplingConfig({ version: 2, rules });
    const result = evaluate({ rootConfig: many, dsc: { trace_id: '89143b0763095bd9c9955e8175d1fb23', public_key: KEY }, now: NOW });
    expect(result.matchedRuleIds).toEqual(rules.map((r) => r.id));
  });

  it('explains, tags errors and orders stages with compiled configs as with objects', () => {
    for (const trace of mixedTraffic(40, 13)) {
      const dsc = { ...dscFor(trace), sampled: true };
      const withObjects = { config: MIXED_CONFIG, rootConfig: MIXED_CONFIG, dsc, now: NOW };
      const withCompiled = { config: compiled, rootConfig: compiled, dsc: JSON.stringify(dsc), now: NOW };
      expect(explain(withCompiled)).toEqual(explain(withObjects));
      expect(isTraceFullySampled(withCompiled)).toBe(isTraceFullySampled(withObjects));
      expect(isTraceFullySampled(withCompiled)).toBe(jsonRoute({ dsc, operation: 'isTraceFullySampled' }, null, MIXED_CONFIG).traceFullySampled);
    }
    expect(evaluationOrder({ config: compiled, rootConfig: compiled })).toEqual(evaluationOrder({ config: MIXED_CONFIG, rootConfig: MIXED_CONFIG }));
    expect(isTraceFullySampled({ rootConfig: compiled, dsc: { trace_id: '89143b0763095bd9c9955e8175d1fb23', public_key: KEY }, now: NOW })).toBeNull();
  });

  it('counts reservoir rules with a config compiled with the reservoir option', () => {
    const config: SamplingConfigJson = {
      version: 2,
      rules: [
        { id: 3001, type: 'trace', condition: all, samplingValue: { type: 'reservoir', limit: 2 } },
        { id: 1000, type: 'trace', condition: all, samplingValue: { type: 'sampleRate', value: 0 } },
      ],
    };
    expect(() => compileSamplingConfig(config)).toThrow(SamplingConfigError);
    const reservoir = compileSamplingConfig(config, { reservoir: true });
    expect(reservoir.reservoir).toBe(true);
    const dsc = { trace_id: '89143b0763095bd9c9955e8175d1fb23', public_key: KEY };
    let counters: Record<string, number> = {};
    const decisions = [];
    for (let i = 0; i < 3; i++) {
      const result = evaluate({ rootConfig: reservoir, dsc, now: NOW, reservoirCounters: counters });
      decisions.push(result.decision);
      counters = result.reservoirCounters!;
    }
    expect(decisions).toEqual(['keep', 'keep', 'drop']);
    // An exhausted reservoir stops counting.
    expect(counters).toEqual({ 3001: 2 });
  });
});

describe('compileSamplingConfig', () => {
  it('throws SamplingConfigError with the path and rule id of a rejected config, and earlier handles keep working', () => {
    const good = compileSamplingConfig(JSON.stringify(MIXED_CONFIG));
    const dsc = { trace_id: '89143b0763095bd9c9955e8175d1fb23', public_key: KEY };
    const before = evaluate({ rootConfig: good, dsc, now: NOW });
    const bad = { version: 2, rules: [{ id: 7, type: 'trace', condition: all, samplingValue: { type: 'sampleRate', value: 'high' } }] };
    let error: unknown;
    try {
      compileSamplingConfig(bad as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SamplingConfigError);
    expect(error).toMatchObject({ path: 'rules[0].samplingValue.value', ruleId: 7 });
    expect(() => compileSamplingConfig('{"version": 2, "rules": [')).toThrow(/invalid sampling config at the config: not valid JSON/);
    expect(evaluate({ rootConfig: good, dsc, now: NOW })).toEqual(before);
  });

  it('marks configs using what the engine does not know as unsupported; evaluate notes and ignores them', () => {
    const unknownOp = compileSamplingConfig({ version: 2, rules: [{ id: 1, type: 'trace', condition: { op: 'teleport', name: 'x' } as never, samplingValue: { type: 'sampleRate', value: 0 } }] });
    expect(unknownOp.unsupported).toBe(true);
    expect(unknownOp.ruleIds).toEqual([1]);
    const result = evaluate({ rootConfig: unknownOp, dsc: { trace_id: '89143b0763095bd9c9955e8175d1fb23', public_key: KEY }, now: NOW });
    expect(result).toMatchObject({ decision: 'noMatch', notes: [{ config: 'rootConfig', unsupported: true }] });
  });

  it('rejects arguments that are not configs with a TypeError naming them', () => {
    expect(() => compileSamplingConfig(42 as never)).toThrow(/config must be an object, got number 42/);
    expect(() => compileSamplingConfig(MIXED_CONFIG, { reservoir: 'yes' as never })).toThrow(/options.reservoir must be a boolean/);
    const compiled = compileSamplingConfig(MIXED_CONFIG);
    expect(() => compileSamplingConfig(compiled as never)).toThrow(TypeError);
    expect(compiled).toBeInstanceOf(CompiledSamplingConfig);
    expect(Object.keys(compiled)).not.toContain('handle');
  });
});

describe('evaluate() inputs', () => {
  const compiled = compileSamplingConfig(MIXED_CONFIG);
  const dsc = { trace_id: '89143b0763095bd9c9955e8175d1fb23', public_key: KEY };

  it('reports a rejected config object in notes (it samples as absent), as before', () => {
    const bad = { version: 2, rules: [{ id: 7, type: 'trace', condition: all, samplingValue: { type: 'nope', value: 1 } }] };
    const result = evaluate({ rootConfig: bad as never, dsc, now: NOW });
    expect(result.decision).toBe('noMatch');
    expect(result.notes).toEqual([{ config: 'rootConfig', rejected: jsonRoute({ dsc }, null, bad as never).notes[0].rejected }]);
  });

  it('ignores a DSC it cannot read, with the same reason for objects, text and bytes', () => {
    const broken = { trace_id: 'not-a-trace-id', public_key: KEY };
    const reference = jsonRoute({ dsc: broken }, null, MIXED_CONFIG).notes;
    expect(reference[0]).toMatchObject({ dsc: 'ignored' });
    for (const form of [broken, JSON.stringify(broken), Buffer.from(JSON.stringify(broken))]) {
      expect(evaluate({ rootConfig: compiled, dsc: form, now: NOW }).notes).toEqual(reference);
    }
    // The next evaluation does not inherit the note.
    expect(evaluate({ rootConfig: compiled, dsc, now: NOW }).notes).toEqual([]);
  });

  it('throws SamplingRequestError naming the event when it is not a JSON object', () => {
    expect(() => evaluate({ config: compiled, dsc, event: '[1, 2', now: NOW })).toThrow(SamplingRequestError);
    expect(() => evaluate({ config: compiled, dsc, event: Buffer.from('[1, 2'), now: NOW })).toThrow(/event/);
  });

  it('rejects wrong argument types with a TypeError naming the field', () => {
    expect(() => evaluate({ rootConfig: compiled, dsc: 42 as never })).toThrow(/input.dsc must be an object, JSON text or UTF-8 bytes, got number 42/);
    expect(() => evaluate({ rootConfig: compiled, event: [] as never })).toThrow(/input.event must be an object, JSON text or UTF-8 bytes, got an array/);
    expect(() => evaluate({ rootConfig: 'config' as never })).toThrow(/input.rootConfig must be an object/);
  });

  it('reads now as a Date, epoch milliseconds or RFC 3339 text alike', () => {
    // Rule 4 decays linearly over 2024-05-01: its factor depends on the time.
    const release = { ...dsc, release: 'shop@1.2.0' };
    const at = (now: Date | number | string) => evaluate({ rootConfig: compiled, dsc: release, now }).sampleRate;
    const t = new Date('2024-05-01T18:00:00Z');
    expect(at(t.getTime())).toBe(at(t));
    expect(at('2024-05-01T18:00:00Z')).toBe(at(t));
    expect(at(t)).not.toBe(at(NOW));
  });
});
