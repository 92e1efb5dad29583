// Fuzzing through the napi binding: mutated envelopes through the hot path (sampleEnvelope, and
// sampleEnvelopes in batches), mutated configs through putProject, mutated requests through the
// JSON entry points. Nothing may throw but the documented errors, every envelope gets a defined
// result code, and no panic crosses into JavaScript: the binding catches panics (catch_unwind)
// and reports them as status 102 / "internal error in the sampling engine", which fails here. A
// crash of the process (abort, stack overflow) would end the test's worker and fail the run.
//
// Seeded: FUZZ_SEED=<n> replays a run; FUZZ_NATIVE_ENVELOPES, FUZZ_NATIVE_CONFIGS scale it.
// The bulk (1,000,000 envelopes, 100,000 configs) runs in Rust: crates/sampling-core/tests/fuzz_engine.rs.

import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { EnvelopeBatch, OUT, SamplingEngine, STRIDE } from '../src/engine/engine';
import { SamplingConfigError } from '../src/engine/errors';
import { native } from '../src/engine/native';
import { fuzzCount, fuzzSeed, mutatedEnvelope, mutateOnce, Prng, sdkEnvelopes } from './helpers/fuzz';

const SEED = fuzzSeed();
const ENVELOPES = fuzzCount('FUZZ_NATIVE_ENVELOPES', 100_000);
const CONFIGS = fuzzCount('FUZZ_NATIVE_CONFIGS', 10_000);

const OWN = 'abd0f232775f45feab79864e580d160b';
const ROOT = 'e12d836b15bb49d7bbf99e64295d995b';
const FOREIGN = '0c5b3c9f0b8e4a1e9a0d2f6d1c7e8b9a';
const NO_CONFIG = '7a8b9c0d1e2f30415263748596a7b8c9';
const UNKNOWN = '9f1e3c2b4a5968778695a4b3c2d1e0f1';
const KEYS = [OWN, ROOT, FOREIGN, NO_CONFIG, UNKNOWN];

const corpus = sdkEnvelopes();
const seeds = corpus.envelopes;
const projects = JSON.parse(readFileSync(path.join(__dirname, '..', 'examples', 'projects.json'), 'utf8')) as {
  configs: Record<string, { config?: { sampling?: unknown } }>;
};
const configSeeds = Object.values(projects.configs)
  .map((p) => p.config?.sampling)
  .filter((s) => s !== undefined)
  .map((s) => Buffer.from(JSON.stringify(s)));

/** The reservoir option is on: the seed configs hold historical reservoir rules, whose counters are fuzzed too. */
function engineWithProjects(): SamplingEngine {
  const engine = new SamplingEngine({ reservoir: true });
  engine.setNow('2026-12-03T12:00:00Z');
  engine.putProject(OWN, { projectId: 42, organizationId: 1 }, configSeeds[0].toString());
  engine.putProject(ROOT, { projectId: 43, organizationId: 1 }, configSeeds[configSeeds.length - 1].toString());
  engine.putProject(FOREIGN, { projectId: 44, organizationId: 2 }, { version: 2, rules: [{ id: 1, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0 } }] });
  engine.putProject(NO_CONFIG, { projectId: 45, organizationId: 1 }, null);
  return engine;
}

/** What is wrong with the result row, or null when it is a defined answer. */
function badRow(out: Float64Array, row: number): string | null {
  const at = (slot: number) => out[row * STRIDE + slot];
  const decision = at(OUT.decision);
  if (![0, 1, 2].includes(decision)) return `decision ${decision}`;
  if (![0, 1, 2, 3].includes(at(OUT.kind))) return `kind ${at(OUT.kind)}`;
  if (![0, 1, 2, 3].includes(at(OUT.keepReason))) return `keep reason ${at(OUT.keepReason)}`;
  if (![0, 1, 2].includes(at(OUT.traceFullySampled))) return `traceFullySampled ${at(OUT.traceFullySampled)}`;
  const random = at(OUT.randomValue);
  if (!Number.isNaN(random) && !(random >= 0 && random < 1)) return `random value ${random}`;
  const matched = at(OUT.matchedCount);
  if (!Number.isInteger(matched) || matched < 0) return `matched count ${matched}`;
  const spans = at(OUT.spanCount);
  if (!Number.isInteger(spans) || spans < 0 || spans > 0xffffffff) return `span count ${spans}`;
  return null;
}

function shown(input: Buffer): string {
  return JSON.stringify(input.subarray(0, 400).toString('latin1'));
}

describe(`native fuzzing (FUZZ_SEED=${SEED})`, () => {
  it(`${ENVELOPES} mutated envelopes through sampleEnvelope get a defined result code`, () => {
    const rng = new Prng(SEED);
    const engine = engineWithProjects();
    const codes = new Map<number, number>();
    const failures: string[] = [];
    for (let i = 0; i < ENVELOPES; i++) {
      const input = mutatedEnvelope(rng, seeds);
      const key = rng.oneIn(4) ? rng.pick(KEYS) : OWN;
      let code: number;
      try {
        code = engine.sampleEnvelope(input, key);
      } catch (error) {
        failures.push(`#${i} threw ${String(error)} for ${shown(input)}`);
        continue;
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (code < 0 ? code < -6 : code > 2 || !Number.isInteger(code)) failures.push(`#${i} code ${code} for ${shown(input)}`);
      else if (code >= 0) {
        const problem = badRow(engine.result, 0);
        if (problem !== null || engine.result[OUT.decision] !== code) failures.push(`#${i} ${problem ?? 'result row disagrees with the code'} for ${shown(input)}`);
      }
      if (failures.length >= 5) break;
    }
    console.log(`native fuzz: FUZZ_SEED=${SEED} ${ENVELOPES} envelopes, result codes ${JSON.stringify(Object.fromEntries([...codes].sort((a, b) => a[0] - b[0])))}`);
    expect(failures, `FUZZ_SEED=${SEED}`).toEqual([]);
    // Both sides were reached: decisions (keep and drop) and every refusal code.
    for (const code of [0, 1, -1, -2, -3, -4, -5, -6]) expect(codes.get(code) ?? 0, `code ${code}`).toBeGreaterThan(0);
  });

  it('mutated envelopes in batches (sampleEnvelopes) agree with one by one', () => {
    const rng = new Prng(SEED + 1);
    const engine = engineWithProjects();
    const single = engineWithProjects();
    const batch = new EnvelopeBatch(256, 16);
    const failures: string[] = [];
    let total = 0;
    for (let round = 0; round < Math.ceil(ENVELOPES / 10 / 256); round++) {
      batch.clear();
      const inputs: Array<[Buffer, string]> = [];
      for (let i = 0; i < 256; i++) {
        const input = mutatedEnvelope(rng, seeds);
        const key = rng.oneIn(4) ? rng.pick(KEYS) : OWN;
        inputs.push([input, key]);
        batch.add(input, key);
      }
      expect(() => engine.sampleEnvelopes(batch)).not.toThrow();
      inputs.forEach(([input, key], i) => {
        total++;
        const code = batch.decisionCode(i);
        const expected = single.sampleEnvelope(input, key);
        if (code !== expected) failures.push(`batch row ${i}: ${code}, alone: ${expected} for ${shown(input)}`);
        else if (code >= 0 && badRow(batch.out, i) !== null) failures.push(`batch row ${i}: ${badRow(batch.out, i)}`);
      });
      if (failures.length >= 5) break;
    }
    console.log(`native fuzz: FUZZ_SEED=${SEED + 1} ${total} envelopes in batches of 256`);
    expect(failures, `FUZZ_SEED=${SEED + 1}`).toEqual([]);
  });

  it(`${CONFIGS} mutated configs through putProject are installed or rejected with SamplingConfigError`, () => {
    const rng = new Prng(SEED + 2);
    const engine = engineWithProjects();
    const failures: string[] = [];
    let installed = 0;
    let rejected = 0;
    for (let i = 0; i < CONFIGS; i++) {
      let bytes: Buffer = rng.pick(configSeeds);
      for (let n = 1 + rng.below(4); n > 0; n--) bytes = mutateOnce(bytes, rng, configSeeds);
      const text = bytes.toString('utf8');
      try {
        engine.putProject(OWN, { projectId: 42, organizationId: 1 }, text);
        installed++;
      } catch (error) {
        if (error instanceof SamplingConfigError) rejected++;
        else failures.push(`#${i} threw ${String(error)} for ${JSON.stringify(text.slice(0, 400))}`);
      }
      // Envelopes decided with whatever config is now in force.
      const input = mutatedEnvelope(rng, seeds);
      try {
        const code = engine.sampleEnvelope(input, OWN);
        if (code >= 0 && badRow(engine.result, 0) !== null) failures.push(`#${i} ${badRow(engine.result, 0)} after config ${JSON.stringify(text.slice(0, 400))}`);
      } catch (error) {
        failures.push(`#${i} sampleEnvelope threw ${String(error)} after config ${JSON.stringify(text.slice(0, 400))}`);
      }
      if (failures.length >= 5) break;
    }
    console.log(`native fuzz: FUZZ_SEED=${SEED + 2} ${CONFIGS} configs, ${installed} installed, ${rejected} rejected`);
    expect(failures, `FUZZ_SEED=${SEED + 2}`).toEqual([]);
    expect(installed).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });

  it('mutated requests through the JSON entry points answer or refuse with InvalidArg, never an internal error', () => {
    const rng = new Prng(SEED + 3);
    const failures: string[] = [];
    const request = (dsc: unknown, event: unknown) =>
      Buffer.from(JSON.stringify({ now: '2026-12-03T12:00:00Z', dsc, event, options: { explain: true }, reservoirCounters: { 1: 3 } }));
    const requests = [
      request({ trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', public_key: OWN, release: 'shop@1.2.0', environment: 'production', transaction: '/api/checkout' }, { event_id: '9ec79c33ec9942ab8353589fcb2e04dc', type: 'transaction', transaction: '/api/checkout', contexts: { trace: { op: 'http.server' } } }),
      request({ trace_id: 'x', public_key: ROOT, sample_rate: '0.5', sampled: 'true' }, null),
    ];
    let answered = 0;
    const calls = Math.max(1, Math.floor(CONFIGS / 2));
    for (let i = 0; i < calls; i++) {
      const config = rng.oneIn(3) ? mutateOnce(rng.pick(configSeeds), rng, configSeeds).toString('utf8') : rng.pick(configSeeds).toString('utf8');
      let req: Buffer = rng.pick(requests);
      for (let n = rng.below(4); n > 0; n--) req = mutateOnce(req, rng, requests);
      const text = req.toString('utf8');
      const calls: Array<() => unknown> = [
        () => native.evaluateJson(text, config, rng.oneIn(2) ? config : null),
        () => native.evaluationOrderJson(text),
        () => native.parseJsonReport(rng.pick(['samplingConfig', 'samplingRule', 'ruleCondition', 'dsc', 'projectConfig']), rng.oneIn(2) ? config : text),
        () => native.matchConditionJson(config, rng.pick(['event', 'dsc', 'instance']), text),
        () => native.randomValueFor(text.slice(rng.below(40), 40 + rng.below(40))),
      ];
      try {
        rng.pick(calls)();
        answered++;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== 'InvalidArg') failures.push(`#${i} ${code}: ${String(error)} for ${JSON.stringify(text.slice(0, 300))}`);
      }
      if (failures.length >= 5) break;
    }
    console.log(`native fuzz: FUZZ_SEED=${SEED + 3} ${calls} JSON calls, ${answered} answered`);
    expect(failures, `FUZZ_SEED=${SEED + 3}`).toEqual([]);
    expect(answered).toBeGreaterThan(0);
  });
});
