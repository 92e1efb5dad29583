// Parity with current Relay beyond the vectors: envelope seeds, span containers, legacy spans,
// mixed envelopes, error tagging, outcome reasons, the reservoir switch, full parse reports and
// argument errors.

import { describe, expect, it } from 'vitest';

import { generateSamplingConfig } from '../src/rules/generate';
import { EnvelopeBatch, SamplingEngine, unknownRootKey } from '../src/engine/engine';
import { startControlPlane } from '../src/control';
import { startServer } from '../src/server';
import { createSampler } from '../src/sampler';
import { SamplingConfigError } from '../src/engine/errors';
import { evaluate, isTraceFullySampled, matchCondition, parseReport, randomValue } from '../src/engine/evaluate';
import { ruleCategories, ruleCategory, sampledReason } from '../src/engine/outcome';
import type { SamplingConfigJson } from '../src/engine/types';
import { KEY, NOW, OTHER_KEY } from './helpers/engine';

// Random values: 89143b07… → 0.046 (kept at 0.5), 67e55044… → 0.812 (dropped at 0.5).
const LOW = '89143b0763095bd9c9955e8175d1fb23';
const HIGH = '67e5504410b1426f9247bb680e5fe0c8';
const all = { op: 'and', inner: [] } as const;
const rule = (id: number, type: string, value: number, kind = 'sampleRate') =>
  ({ id, type, condition: all, samplingValue: { type: kind, value } }) as SamplingConfigJson['rules'] extends (infer R)[] | undefined ? R : never;

function engineWith(own: SamplingConfigJson | null, root?: SamplingConfigJson | null, options = {}): SamplingEngine {
  const engine = new SamplingEngine(options);
  engine.setNow(NOW);
  engine.putProject(KEY, { projectId: 1, organizationId: 1 }, own);
  if (root !== undefined) engine.putProject(OTHER_KEY, { projectId: 2, organizationId: 1 }, root);
  return engine;
}

const lines = (...parts: unknown[]) => Buffer.from(parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('\n') + '\n');
const dsc = (traceId: string, key = KEY, extra: object = {}) => ({ trace_id: traceId, public_key: key, ...extra });
const transaction = (eventId?: string, traceId = HIGH) => ({
  ...(eventId ? { event_id: eventId } : {}),
  type: 'transaction',
  transaction: '/checkout',
  start_timestamp: 1714564800,
  timestamp: 1714564801,
  contexts: { trace: { trace_id: traceId, span_id: '0123456789abcdef' } },
});
const SPAN_V2 = 'application/vnd.sentry.items.span.v2+json';
const spanContainer = (...traceIds: string[]) => [
  { type: 'span', item_count: traceIds.length, content_type: SPAN_V2 },
  { items: traceIds.map((t, i) => ({ trace_id: t, span_id: `${i}123456789abcde`.slice(0, 16), name: 's' })) },
];

describe('the transaction stage is seeded by the envelope header event_id', () => {
  const engine = engineWith({ version: 2, rules: [rule(1, 'transaction', 0.5)] });

  it('the header id wins over the payload id', () => {
    const kept = engine.decideEnvelope(lines({ event_id: LOW }, { type: 'transaction' }, transaction(HIGH)), KEY);
    expect(kept).toMatchObject({ decision: 'keep', sampleRate: 0.5, matchedRuleIds: [1] });
    expect(kept.randomValue).toBe(randomValue(LOW));
    const dropped = engine.decideEnvelope(lines({ event_id: HIGH }, { type: 'transaction' }, transaction(LOW)), KEY);
    expect(dropped).toMatchObject({ decision: 'drop', randomValue: randomValue(HIGH) });
  });

  it('an id in the header only (as PHP sends it) runs the stage; the payload id serves when the header has none', () => {
    expect(engine.decideEnvelope(lines({ event_id: HIGH }, { type: 'transaction' }, transaction()), KEY).decision).toBe('drop');
    expect(engine.decideEnvelope(lines({}, { type: 'transaction' }, transaction(LOW)), KEY).randomValue).toBe(randomValue(LOW));
  });

  it('with no id anywhere the stage still runs (Relay gives the envelope a fresh id)', () => {
    const d = engine.decideEnvelope(lines({}, { type: 'transaction' }, transaction()), KEY);
    expect(d.matchedRuleIds).toEqual([1]);
    expect(d.sampleRate).toBe(0.5);
  });

  it('the convenient API takes the header id as envelopeEventId', () => {
    const config = { version: 2, rules: [rule(1, 'transaction', 0.5)] };
    const event = transaction(HIGH);
    expect(evaluate({ config, event, now: NOW }).decision).toBe('drop');
    expect(evaluate({ config, event, now: NOW, envelopeEventId: LOW }).decision).toBe('keep');
  });
});

describe('span containers and legacy spans', () => {
  const own: SamplingConfigJson = { version: 2, rules: [rule(10, 'transaction', 0), rule(11, 'project', 0.5, 'factor'), rule(12, 'trace', 1)] };

  it('rejects a span v2 container without a DSC (an outcome, not a sampling drop)', () => {
    const engine = engineWith(own);
    const d = engine.decideEnvelope(lines({}, ...spanContainer(HIGH)), KEY);
    expect(d).toMatchObject({ kind: 'spans', spanRejection: 'missingDsc', decision: 'noMatch', outcomeReason: null });
  });

  it('rejects a span v2 container holding a span of another trace', () => {
    const engine = engineWith(own);
    const d = engine.decideEnvelope(lines({ trace: dsc(LOW) }, ...spanContainer(LOW, HIGH)), KEY);
    expect(d.spanRejection).toBe('invalidDsc');
    expect(d.decision).toBe('noMatch');
    const ok = engine.decideEnvelope(lines({ trace: dsc(LOW) }, ...spanContainer(LOW, LOW)), KEY);
    expect(ok).toMatchObject({ spanRejection: 'none', decision: 'keep', sampleRate: 0.5, matchedRuleIds: [11, 12] });
  });

  it('legacy spans take the root config from the sampling project only: with an unknown root nothing matches', () => {
    const engine = engineWith(own);
    const unknownRoot = lines({ trace: dsc(LOW, '00000000000000000000000000000001') }, { type: 'span' }, { trace_id: LOW, span_id: '0123456789abcdef' });
    expect(engine.decideEnvelope(unknownRoot, KEY)).toMatchObject({ kind: 'spans', decision: 'noMatch', matchedRuleIds: [] });
    // Span v2 containers instead fall back to the own project's config.
    const v2 = lines({ trace: dsc(LOW, '00000000000000000000000000000001') }, ...spanContainer(LOW));
    expect(engine.decideEnvelope(v2, KEY)).toMatchObject({ decision: 'keep', matchedRuleIds: [11, 12] });
    const knownRoot = lines({ trace: dsc(LOW) }, { type: 'span' }, { trace_id: LOW, span_id: '0123456789abcdef' });
    expect(engine.decideEnvelope(knownRoot, KEY)).toMatchObject({ decision: 'keep', matchedRuleIds: [11, 12] });
    expect(evaluate({ config: own, rootConfig: own, dsc: dsc(HIGH), itemType: 'legacySpan', rootProjectKnown: false, now: NOW }).decision).toBe('noMatch');
  });

  it('spans next to a transaction get their own decision', () => {
    const engine = engineWith(own);
    const d = engine.decideEnvelope(lines({ event_id: LOW, trace: dsc(LOW) }, { type: 'transaction' }, transaction(LOW, LOW), ...spanContainer(LOW)), KEY);
    // The transaction rule (rate 0) drops the transaction; transaction rules never apply to spans.
    expect(d).toMatchObject({ kind: 'transaction', decision: 'drop', sampleRate: 0, matchedRuleIds: [10] });
    expect(d).toMatchObject({ spanDecision: 'keep', spanSampleRate: 0.5 });
    const alone = engine.decideEnvelope(lines({ event_id: LOW, trace: dsc(HIGH) }, { type: 'transaction' }, transaction(LOW)), KEY);
    expect(alone.spanDecision).toBeNull();
  });
});

describe('error tagging', () => {
  const root: SamplingConfigJson = { version: 2, rules: [rule(1000, 'trace', 0.5)] };
  const error = { type: 'event' };
  const errorEvent = { event_id: LOW, message: 'boom' };

  it('tags error events whatever shares their envelope', () => {
    const engine = engineWith(root);
    const withTransaction = lines({ event_id: LOW, trace: dsc(HIGH, KEY, { sampled: 'true' }) }, { type: 'transaction' }, transaction(LOW), error, errorEvent);
    const d = engine.decideEnvelope(withTransaction, KEY);
    expect(d.kind).toBe('transaction');
    expect(d.traceFullySampled).toBe(false); // the trace rule drops HIGH at 0.5
    expect(d.matchedRuleIds).toEqual([1000]);
    const withSpans = lines({ trace: dsc(LOW, KEY, { sampled: true }) }, ...spanContainer(LOW), error, errorEvent);
    expect(engine.decideEnvelope(withSpans, KEY)).toMatchObject({ kind: 'spans', traceFullySampled: true });
  });

  it('checks the root config before the sampled flag', () => {
    const absent = engineWith(null);
    const sampledFalse = lines({ trace: dsc(HIGH, KEY, { sampled: false }) }, error, errorEvent);
    expect(absent.decideEnvelope(sampledFalse, KEY).traceFullySampled).toBeNull();
    const unsupported = engineWith({ version: 2, rules: [{ id: 1, type: 'trace', condition: { op: 'someFutureOp' }, samplingValue: { type: 'sampleRate', value: 0.5 } }] });
    expect(unsupported.decideEnvelope(sampledFalse, KEY).traceFullySampled).toBeNull();
    expect(engineWith(root).decideEnvelope(sampledFalse, KEY).traceFullySampled).toBe(false);
    expect(isTraceFullySampled({ dsc: dsc(HIGH, KEY, { sampled: false }), now: NOW })).toBeNull();
  });
});

describe('outcome reasons', () => {
  it("map rule ids to Relay's categories, de-duplicated, in Relay's order", () => {
    expect(ruleCategory(1003)).toBe('1003');
    expect(ruleCategory(1450)).toBe('1400');
    expect(ruleCategory(1599)).toBe('1500');
    expect(ruleCategory(4999)).toBe('3000');
    expect(ruleCategory(5000)).toBe('0');
    expect(ruleCategory(1006)).toBe('0');
    expect(ruleCategories([1401, 1400, 1004, 7, 1000])).toEqual(['1000', '1004', '1400', '0']);
    expect(sampledReason([5, 1000, 1500, 1501, 3001])).toBe('Sampled:1000,1500,3000,0');
  });

  it('come with evaluate() results of drops', () => {
    const config = { version: 2, rules: [rule(1401, 'transaction', 0)] };
    expect(evaluate({ config, event: transaction(LOW), now: NOW })).toMatchObject({ decision: 'drop', outcomeReason: 'Sampled:1400' });
    expect(evaluate({ config: { version: 2, rules: [rule(1, 'transaction', 1)] }, event: transaction(LOW), now: NOW }).outcomeReason).toBeNull();
  });

  it('are exposed next to the raw ids of a drop', () => {
    const engine = engineWith({ version: 2, rules: [rule(1401, 'project', 0.5, 'factor'), rule(1004, 'project', 1, 'factor'), rule(1000, 'trace', 0.5)] });
    const d = engine.decideEnvelope(lines({ trace: dsc(HIGH) }, ...spanContainer(HIGH)), KEY);
    expect(d).toMatchObject({ decision: 'drop', matchedRuleIds: [1401, 1004, 1000], outcomeReason: 'Sampled:1000,1004,1400' });
  });
});

describe('the reservoir switch', () => {
  const reservoir: SamplingConfigJson = { version: 2, rules: [{ id: 3001, type: 'transaction', condition: all, samplingValue: { type: 'reservoir', limit: 1 } }, rule(1000, 'trace', 0)] };

  it('rejects reservoir rules by default, as current Relay does, and keeps the previous config', () => {
    const engine = engineWith({ version: 2, rules: [rule(1000, 'trace', 0)] });
    expect(() => engine.putProject(KEY, { projectId: 1, organizationId: 1 }, reservoir)).toThrow(SamplingConfigError);
    expect(engine.decideEnvelope(lines({ trace: dsc(HIGH) }, ...spanContainer(HIGH)), KEY).matchedRuleIds).toEqual([1000]);
    expect(parseReport('samplingConfig', reservoir)).toMatchObject({ accepted: false, error: { path: 'rules[0].samplingValue.type', ruleId: 3001 } });
  });

  it('honours them with the option on', () => {
    const engine = engineWith(reservoir, undefined, { reservoir: true });
    const env = lines({ event_id: LOW, trace: dsc(HIGH) }, { type: 'transaction' }, transaction(LOW));
    expect(engine.decideEnvelope(env, KEY)).toMatchObject({ decision: 'keep', matchedRuleIds: [3001] });
    expect(engine.decideEnvelope(env, KEY)).toMatchObject({ decision: 'drop', matchedRuleIds: [1000] });
    expect(parseReport('samplingConfig', reservoir, { reservoir: true }).accepted).toBe(true);
  });
});

describe('parse reports hold the whole normalized config', () => {
  it('time ranges, decaying functions and support per rule', () => {
    const report = parseReport('samplingConfig', {
      version: 2,
      rules: [
        { ...rule(1, 'trace', 0.5), timeRange: { start: '2024-01-01 00:00:00+02:00' }, decayingFn: { type: 'linear', decayedValue: 0.2 } },
        { ...rule(2, 'future', 0.5) },
        { id: 3, type: 'trace', condition: { op: 'not', inner: { op: 'matches' } }, samplingValue: { type: 'factor', value: 2 } },
      ],
    });
    expect(report).toMatchObject({ accepted: true, unsupported: true, declaredVersion: 2, normalizedVersion: 2, ruleIds: [1, 2, 3], unsupportedRuleIds: [2, 3] });
    expect(report.rules![0]).toMatchObject({ timeRange: { start: '2023-12-31T22:00:00Z', end: null }, decayingFn: { type: 'linear', decayedValue: 0.2 }, unsupported: false });
    expect(report.rules![1]).toMatchObject({ type: 'unsupported', unsupportedReason: 'ruleType', typeUnsupported: true });
    expect(report.rules![2]).toMatchObject({ unsupportedReason: 'condition', conditionUnsupported: true, decayingFn: { type: 'constant' } });
  });

  it('what a legacy rulesV2 became, and which rules a project config carries', () => {
    const legacy = { rules: [], rulesV2: [rule(7, 'trace', 0.5)] };
    expect(parseReport('samplingConfig', legacy)).toMatchObject({ declaredVersion: 1, normalizedVersion: 2, ruleIds: [7], legacyRules: { count: 1, appended: true } });
    expect(parseReport('samplingConfig', { ...legacy, version: 2 })).toMatchObject({ ruleIds: [], legacyRules: { count: 1, appended: false } });
    expect(parseReport('projectConfig', { config: { dynamicSampling: legacy } })).toMatchObject({ projectAccepted: true, samplingKey: 'dynamicSampling', ruleIds: [7] });
    expect(parseReport('projectConfig', { config: {} })).toMatchObject({ accepted: true, sampling: null, ruleIds: [] });
  });
});

describe('public functions name a bad argument in a TypeError', () => {
  it.each([
    ['parseReport input', () => parseReport('samplingConfig', undefined), /input must be JSON text or a JSON value/],
    ['parseReport target', () => parseReport('nope' as never, {}), /target must be one of/],
    ['evaluate input', () => evaluate(undefined as never), /input must be an object, got undefined/],
    ['evaluate input.config', () => evaluate({ config: 'x' as never }), /input\.config must be an object/],
    ['evaluate input.now', () => evaluate({ now: 'soon' }), /input\.now must be a Date/],
    ['evaluate input.itemType', () => evaluate({ itemType: 'log' as never }), /input\.itemType must be one of/],
    ['isTraceFullySampled input', () => isTraceFullySampled(null as never), /input must be an object, got null/],
    ['matchCondition condition', () => matchCondition(undefined as never, { dsc: {} }), /condition must be an object/],
    ['matchCondition target', () => matchCondition(all as never, {} as never), /target must hold one of/],
    ['randomValue id', () => randomValue(5 as never), /id must be a string, got number 5/],
    ['SamplingEngine options', () => new SamplingEngine({ reservoir: 'yes' as never }), /options\.reservoir must be a boolean/],
    ['putProject publicKey', () => new SamplingEngine().putProject(undefined as never, { projectId: 1, organizationId: 1 }, null), /publicKey must be a string, got undefined/],
    ['putProject info', () => new SamplingEngine().putProject(KEY, undefined as never, null), /info must be an object/],
    ['putProject info.projectId', () => new SamplingEngine().putProject(KEY, { projectId: -1, organizationId: 1 }, null), /info\.projectId must be a non-negative integer/],
    ['sampleEnvelope envelope', () => new SamplingEngine().sampleEnvelope('x' as never, KEY), /envelope must be a Uint8Array/],
    ['setNow now', () => new SamplingEngine().setNow('later'), /now must be a Date/],
    ['generateSamplingConfig project', () => generateSamplingConfig(undefined as never), /project must be an object, got undefined/],
    ['createSampler options', () => createSampler(undefined as never), /options must be an object, got undefined/],
    ['unknownRootKey out', () => unknownRootKey(undefined as never), /out must be a Float64Array/],
    ['EnvelopeBatch capacity', () => new EnvelopeBatch('x' as never), /capacity must be a non-negative integer/],
    ['sampledReason ruleIds', () => sampledReason(undefined as never), /ruleIds must be an iterable/],
  ])('%s', (_name, call, message) => {
    expect(call).toThrow(TypeError);
    expect(call).toThrow(message);
  });

  it('startServer and startControlPlane reject a missing options object with a TypeError', async () => {
    await expect(startServer(undefined as never)).rejects.toThrow(/options must be an object, got undefined/);
    await expect(startControlPlane(undefined as never)).rejects.toThrow(TypeError);
  });
});
