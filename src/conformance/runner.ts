// Runs conformance vectors (the format of shared/conformance/README.md) through the public API.

import { readFileSync } from 'node:fs';

import { InvalidModelInputError } from '../control/errors';
import { rebalanceProjects, rebalanceTransactions } from '../rules/models';
import { evaluate, evaluationOrder, isTraceFullySampled, matchCondition, parseReport, type ParseTarget } from '../engine/evaluate';

/** One vector: `{name, kind, ..., expected}`. */
export interface ConformanceCase {
  name: string;
  kind: string;
  expected: any;
  [field: string]: any;
}

export class ConformanceFailure extends Error {
  override name = 'ConformanceFailure';
}

export function loadCases(file: string): ConformanceCase[] {
  const cases = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(cases)) throw new TypeError(`${file}: a vector file must hold a JSON array`);
  return cases;
}

/** JSON equality where numbers compare by value and key order does not matter. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => sameJson((a as any)[k], (b as any)[k]));
  }
  return a === b;
}

function fail(message: string): never {
  throw new ConformanceFailure(message);
}

function expectSame(what: string, expected: unknown, actual: unknown): void {
  if (!sameJson(expected, actual)) fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

function checkEvaluation(expected: any, actual: any): void {
  expectSame('decision', expected.decision, actual.decision);
  if (typeof expected.sampleRate === 'number') {
    const tolerance = expected.sampleRateTolerance;
    const ok = typeof tolerance === 'number' ? Math.abs(actual.sampleRate - expected.sampleRate) <= tolerance : actual.sampleRate === expected.sampleRate;
    if (!ok) fail(`sampleRate: expected ${expected.sampleRate}, got ${actual.sampleRate}`);
  }
  if (expected.matchedRuleIds !== undefined) expectSame('matchedRuleIds', expected.matchedRuleIds, actual.matchedRuleIds);
}

/**
 * Whether a case describes behaviour current Relay removed (reservoir rules): such cases run with
 * the engine's reservoir option on, every other case with the defaults.
 */
export function isHistorical(c: ConformanceCase): boolean {
  return c.historical === true;
}

/** The `evaluate` input an `evaluate` case describes (optionally with carried reservoir counters). */
export function evaluateInput(c: ConformanceCase, reservoirCounters?: Record<string, number>) {
  const options = c.options ?? {};
  return {
    reservoir: isHistorical(c),
    config: c.config,
    rootConfig: c.rootConfig,
    dsc: c.dsc,
    event: c.event,
    now: c.now,
    itemType: options.itemType,
    rootProjectKnown: options.rootProjectKnown,
    reservoirCounters: reservoirCounters ?? options.reservoirCounters,
  };
}

function closeRelative(actual: number, expected: number, tolerance: number): boolean {
  return Math.abs(actual - expected) / Math.max(Math.abs(expected), Number.MIN_VALUE) <= tolerance;
}

/** Runs one case; throws `ConformanceFailure` saying what differs. */
export function runCase(c: ConformanceCase): void {
  const expected = c.expected;
  switch (c.kind) {
    case 'condition': {
      const target = 'dsc' in c ? { dsc: c.dsc } : 'event' in c ? { event: c.event } : { instance: c.instance };
      expectSame('match', expected, matchCondition(c.condition, target));
      return;
    }
    case 'evaluate': {
      if (c.options?.operation === 'isTraceFullySampled') {
        expectSame('traceFullySampled', expected.traceFullySampled, isTraceFullySampled(evaluateInput(c)));
        return;
      }
      if (Array.isArray(expected.sequence)) {
        let counters: Record<string, number> | undefined = c.options?.reservoirCounters ?? {};
        expected.sequence.forEach((step: unknown, i: number) => {
          const result = evaluate(evaluateInput(c, counters));
          try {
            checkEvaluation(step, result);
          } catch (error) {
            fail(`sequence[${i}]: ${(error as Error).message}`);
          }
          counters = result.reservoirCounters;
        });
        return;
      }
      checkEvaluation(expected, evaluate(evaluateInput(c)));
      return;
    }
    case 'merge':
      expectSame(
        'evaluationOrder',
        expected.evaluationOrder,
        evaluationOrder({ config: c.config, rootConfig: c.rootConfig, itemType: c.options?.itemType, reservoir: isHistorical(c) }),
      );
      return;
    case 'parse': {
      const report = parseReport(c.target as ParseTarget, c.input, { reservoir: isHistorical(c) });
      for (const [key, value] of Object.entries(expected)) expectSame(key, value, report[key]);
      return;
    }
    case 'rebalanceProjects': {
      const rates = Object.fromEntries(rebalanceProjects(c.input).map((i) => [String(i.id), i.newSampleRate]));
      expectSame('project ids', Object.keys(expected.rates).sort(), Object.keys(rates).sort());
      for (const [id, rate] of Object.entries<number>(expected.rates)) {
        if (Math.abs(rates[id] - rate) > c.tolerance) fail(`project ${id}: expected ${rate}, got ${rates[id]}`);
      }
      return;
    }
    case 'rebalanceTransactions': {
      if (expected.error !== undefined) {
        try {
          rebalanceTransactions(c.input);
        } catch (error) {
          if (error instanceof InvalidModelInputError && error.message.startsWith(expected.error)) return;
          fail(`expected error "${expected.error}", got ${(error as Error).message}`);
        }
        fail(`expected error "${expected.error}", got a result`);
      }
      const result = rebalanceTransactions(c.input);
      const tolerance = c.toleranceRelative ?? 0;
      const rates = Object.fromEntries(result.explicit.map((i) => [String(i.id), i.newSampleRate]));
      expectSame('transaction ids', Object.keys(expected.explicit).sort(), Object.keys(rates).sort());
      for (const [id, rate] of Object.entries<number>(expected.explicit)) {
        if (!closeRelative(rates[id], rate, tolerance)) fail(`transaction ${id}: expected ${rate}, got ${rates[id]}`);
      }
      if (!closeRelative(result.implicitRate, expected.implicitRate, tolerance)) {
        fail(`implicitRate: expected ${expected.implicitRate}, got ${result.implicitRate}`);
      }
      return;
    }
    default:
      fail(`unknown case kind "${c.kind}"`);
  }
}

export interface CaseResult {
  file: string;
  name: string;
  passed: boolean;
  message?: string;
}

/** Runs every case of the files; failures carry their message. */
export function runFiles(files: string[]): CaseResult[] {
  const results: CaseResult[] = [];
  for (const file of files) {
    for (const c of loadCases(file)) {
      try {
        runCase(c);
        results.push({ file, name: c.name, passed: true });
      } catch (error) {
        results.push({ file, name: c.name, passed: false, message: (error as Error).message });
      }
    }
  }
  return results;
}
