// Rebalancing models: the conformance vectors plus ordering, tie-breaking, budget and floor properties.

import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { InvalidModelInputError } from '../src/control/errors';
import {
  compareClasses,
  fullRebalancing,
  rebalanceProjects,
  rebalanceTransactions,
  sortClassesDescending,
} from '../src/rules/models';
import type { ClassId, ModelClass, RebalancedItem } from '../src/rules/types';

// ---------------------------------------------------------------------------
// Conformance vectors
// ---------------------------------------------------------------------------

interface ProjectsCase {
  name: string;
  kind: 'rebalanceProjects';
  input: { classes: ModelClass[]; sampleRate: number };
  expected: { rates: Record<string, number> };
  tolerance: number;
}

interface TransactionsCase {
  name: string;
  kind: 'rebalanceTransactions';
  input: {
    classes: ModelClass[];
    sampleRate: number;
    totalNumClasses?: number | null;
    total?: number | null;
    intensity: number;
    minSampleRate?: number;
  };
  expected: { explicit?: Record<string, number>; implicitRate?: number; error?: string };
  toleranceRelative?: number;
}

type RebalancingCase = ProjectsCase | TransactionsCase;

const VECTORS = path.resolve(__dirname, 'vectors/rebalancing.json');
const cases = JSON.parse(readFileSync(VECTORS, 'utf8')) as RebalancingCase[];

function ratesById(items: RebalancedItem[]): Record<string, number> {
  return Object.fromEntries(items.map((i) => [String(i.id), i.newSampleRate]));
}

function expectRelativelyClose(actual: number, expected: number, tolerance: number): void {
  const scale = Math.max(Math.abs(expected), Number.MIN_VALUE);
  expect(Math.abs(actual - expected) / scale, `${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance);
}

describe('conformance: rebalancing.json', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  for (const c of cases) {
    it(c.name, () => {
      if (c.kind === 'rebalanceProjects') {
        const rates = ratesById(rebalanceProjects(c.input));
        expect(Object.keys(rates).sort()).toEqual(Object.keys(c.expected.rates).sort());
        for (const [id, rate] of Object.entries(c.expected.rates)) {
          expect(Math.abs(rates[id] - rate), `project ${id}: ${rates[id]} vs ${rate}`).toBeLessThanOrEqual(c.tolerance);
        }
        return;
      }
      if (c.kind === 'rebalanceTransactions') {
        if (c.expected.error !== undefined) {
          let thrown: unknown;
          try {
            rebalanceTransactions(c.input);
          } catch (e) {
            thrown = e;
          }
          expect(thrown).toBeInstanceOf(InvalidModelInputError);
          expect((thrown as Error).message.startsWith(c.expected.error)).toBe(true);
          return;
        }
        const tolerance = c.toleranceRelative ?? 0;
        const result = rebalanceTransactions(c.input);
        const rates = ratesById(result.explicit);
        expect(Object.keys(rates).sort()).toEqual(Object.keys(c.expected.explicit ?? {}).sort());
        for (const [id, rate] of Object.entries(c.expected.explicit ?? {})) {
          expectRelativelyClose(rates[id], rate, tolerance);
        }
        expectRelativelyClose(result.implicitRate, c.expected.implicitRate!, tolerance);
        return;
      }
      throw new Error(`unknown case kind ${(c as { kind: string }).kind}`);
    });
  }
});

// ---------------------------------------------------------------------------
// Ordering and ties
// ---------------------------------------------------------------------------

const cls = <Id extends ClassId>(id: Id, count: number): ModelClass<Id> => ({ id, count });

describe('ordering', () => {
  it('sorts descending by count, then by id', () => {
    const sorted = sortClassesDescending([cls(1, 5), cls(3, 5), cls(2, 9), cls(4, 1)]);
    expect(sorted.map((c) => c.id)).toEqual([2, 3, 1, 4]);
  });

  it('compares string ids by code point, like Python', () => {
    // UTF-16 code unit order would put U+FF5E before U+1F600 (surrogate 0xD83D); code points do not.
    const astral = '\u{1F600}';
    const bmp = '\uFF5E';
    expect(compareClasses(cls(astral, 1), cls(bmp, 1))).toBe(1);
    expect(sortClassesDescending([cls(bmp, 1), cls(astral, 1)]).map((c) => c.id)).toEqual([astral, bmp]);
    expect(compareClasses(cls('a', 1), cls('ab', 1))).toBe(-1);
  });

  it('rejects ids of mixed types', () => {
    expect(() => rebalanceProjects({ classes: [cls<ClassId>(1, 3), cls<ClassId>('x', 3)], sampleRate: 0.5 })).toThrow(InvalidModelInputError);
  });

  it('full rebalancing consumes from the end: output is ascending by (count, id)', () => {
    const classes = sortClassesDescending([cls(1, 9), cls(2, 7), cls(3, 3), cls(4, 1)]);
    const { items } = fullRebalancing({ classes, sampleRate: 0.25, intensity: 1 });
    expect(items.map((i) => i.id)).toEqual([4, 3, 2, 1]);
  });

  it('projects rebalancing returns ascending (count, id) and breaks count ties by id', () => {
    const items = rebalanceProjects({ classes: [cls(2, 6), cls(1, 9), cls(3, 6), cls(4, 1)], sampleRate: 0.25 });
    expect(items.map((i) => i.id)).toEqual([4, 2, 3, 1]);
    // id 2 is consumed before id 3: with equal counts both get the same rate.
    expect(items[1].newSampleRate).toBe(items[2].newSampleRate);
  });

  it('equal counts are consumed by ascending id and share the freed budget equally', () => {
    // Budget 6.3, ideal 2.1: c saturates (uses 1), the 5.3 left is split between a and b.
    const items = rebalanceProjects({ classes: [cls('b', 10), cls('a', 10), cls('c', 1)], sampleRate: 0.3 });
    expect(items.map((i) => i.id)).toEqual(['c', 'a', 'b']);
    expect(items[0].newSampleRate).toBe(1.0);
    expect(items[1].newSampleRate).toBeCloseTo(0.265, 12);
    expect(items[2].newSampleRate).toBeCloseTo(0.265, 12);
  });

  it('does not mutate the caller classes', () => {
    const classes = [cls(1, 9), cls(2, 7)];
    const copy = JSON.parse(JSON.stringify(classes));
    rebalanceProjects({ classes, sampleRate: 0.5 });
    fullRebalancing({ classes, sampleRate: 0.5, intensity: 1 });
    rebalanceTransactions({ classes, sampleRate: 0.5, intensity: 1, total: 100, totalNumClasses: 5 });
    expect(classes).toEqual(copy);
  });
});

// ---------------------------------------------------------------------------
// Full rebalancing
// ---------------------------------------------------------------------------

describe('full rebalancing', () => {
  it('reproduces the four-project example exactly', () => {
    const { items, usedBudget } = fullRebalancing({
      classes: sortClassesDescending([cls(1, 9), cls(2, 7), cls(3, 3), cls(4, 1)]),
      sampleRate: 0.25,
      intensity: 1,
    });
    // ideal = 20 * 0.25 / 4 = 1.25: id 4 saturates (uses 1), the 0.25 left is shared by the rest.
    expect(items).toEqual([
      { id: 4, count: 1, newSampleRate: 1.0 },
      { id: 3, count: 3, newSampleRate: 0.4444444444444444 },
      { id: 2, count: 7, newSampleRate: 0.1904761904761905 },
      { id: 1, count: 9, newSampleRate: 0.14814814814814817 },
    ]); // bit-identical to Sentry's Python output
    expect(usedBudget).toBeCloseTo(5, 12);
  });

  it('intensity 0 keeps every class at the sample rate', () => {
    const { items } = fullRebalancing({ classes: sortClassesDescending([cls(1, 100), cls(2, 10)]), sampleRate: 0.2, intensity: 0 });
    expect(items.map((i) => i.newSampleRate)).toEqual([0.2, 0.2]);
  });

  it('intensity 0.5 moves half way to the ideal', () => {
    const { items } = fullRebalancing({ classes: sortClassesDescending([cls(1, 100), cls(2, 20)]), sampleRate: 0.1, intensity: 0.5 });
    // ideal = 6; class 2: sampled 2, desired 2 + 4*0.5 = 4 -> 0.2; class 1: sampled 10, ideal 6 (8 >= min budget 8? ideal*1=6 < 8 -> 8), desired 10 + (8-10)*0.5 = 9.
    expect(items[0]).toEqual({ id: 2, count: 20, newSampleRate: 0.2 });
    expect(items[1].newSampleRate).toBeCloseTo(0.09, 12);
  });

  it('a minimum budget raises the ideal', () => {
    const { items, usedBudget } = fullRebalancing({
      classes: sortClassesDescending([cls(1, 100), cls(2, 100)]),
      sampleRate: 0.1,
      intensity: 1,
      minBudget: 50,
    });
    expect(items.map((i) => i.newSampleRate)).toEqual([0.25, 0.25]);
    expect(usedBudget).toBe(50);
  });

  it('a minimum budget above the total is invalid', () => {
    expect(() => fullRebalancing({ classes: [cls(1, 10)], sampleRate: 0.1, intensity: 1, minBudget: 11 })).toThrow(
      InvalidModelInputError,
    );
  });

  it('a zero-count class saturates at 1.0', () => {
    const { items } = fullRebalancing({ classes: sortClassesDescending([cls(1, 10), cls(2, 0)]), sampleRate: 0.5, intensity: 1 });
    expect(items[0]).toEqual({ id: 2, count: 0, newSampleRate: 1.0 });
    expect(items[1].newSampleRate).toBeCloseTo(0.5, 12);
  });

  it('all-zero classes are a division by zero (invalid input)', () => {
    expect(() => fullRebalancing({ classes: [cls(1, 0)], sampleRate: 0.5, intensity: 1 })).toThrow(/division by zero/);
  });

  it('the floor keeps every class at least at minSampleRate', () => {
    const { items } = fullRebalancing({
      classes: sortClassesDescending([cls(1, 1_000_000), cls(2, 10)]),
      sampleRate: 0.01,
      intensity: 1,
      minSampleRate: 0.005,
    });
    const big = items.find((i) => i.id === 1)!;
    expect(big.newSampleRate).toBeGreaterThanOrEqual(0.005);
  });

  it.each([
    ['sampleRate above 1', { sampleRate: 1.5, intensity: 1 }],
    ['negative sampleRate', { sampleRate: -0.1, intensity: 1 }],
    ['NaN sampleRate', { sampleRate: Number.NaN, intensity: 1 }],
    ['intensity above 1', { sampleRate: 0.5, intensity: 2 }],
    ['minSampleRate above 1', { sampleRate: 0.5, intensity: 1, minSampleRate: 1.5 }],
  ])('rejects %s', (_name, params) => {
    expect(() => fullRebalancing({ classes: [cls(1, 10)], ...params })).toThrow(InvalidModelInputError);
    expect(() => fullRebalancing({ classes: [cls(1, 10)], ...params })).toThrow(/^invalid model input/);
  });

  it('rejects empty classes and bad counts', () => {
    expect(() => fullRebalancing({ classes: [], sampleRate: 0.5, intensity: 1 })).toThrow(InvalidModelInputError);
    expect(() => fullRebalancing({ classes: [cls(1, -1)], sampleRate: 0.5, intensity: 1 })).toThrow(InvalidModelInputError);
    expect(() => fullRebalancing({ classes: [cls(1, Infinity)], sampleRate: 0.5, intensity: 1 })).toThrow(InvalidModelInputError);
  });
});

// ---------------------------------------------------------------------------
// Projects rebalancing
// ---------------------------------------------------------------------------

describe('projects rebalancing', () => {
  it('empty input gives no rates', () => {
    expect(rebalanceProjects({ classes: [], sampleRate: 0.5 })).toEqual([]);
  });

  it('a single project gets the sample rate', () => {
    expect(rebalanceProjects({ classes: [cls(7, 1234)], sampleRate: 0.3 })).toEqual([{ id: 7, count: 1234, newSampleRate: 0.3 }]);
  });

  it('validates the sample rate', () => {
    expect(() => rebalanceProjects({ classes: [cls(1, 1)], sampleRate: 1.01 })).toThrow(InvalidModelInputError);
    expect(() => rebalanceProjects({ classes: [], sampleRate: -1 })).toThrow(InvalidModelInputError);
  });

  it('keeps the overall budget: sum(count * rate) = total * sampleRate', () => {
    const counts = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765, 10946];
    for (const sampleRate of [0.001, 0.01, 0.1, 0.25, 0.5, 0.9, 1.0]) {
      const classes = counts.map((count, i) => cls(i + 1, count));
      const items = rebalanceProjects({ classes, sampleRate });
      const total = counts.reduce((a, b) => a + b, 0);
      const kept = items.reduce((a, i) => a + i.count * i.newSampleRate, 0);
      expect(kept).toBeCloseTo(total * sampleRate, 6);
      for (const i of items) {
        expect(i.newSampleRate).toBeGreaterThanOrEqual(0);
        expect(i.newSampleRate).toBeLessThanOrEqual(1);
      }
    }
  });

  it('small projects saturate at 1.0 and the freed budget goes to larger ones', () => {
    const items = rebalanceProjects({ classes: [cls(1, 1000), cls(2, 1000), cls(3, 2)], sampleRate: 0.1 });
    const byId = Object.fromEntries(items.map((i) => [i.id, i.newSampleRate]));
    expect(byId[3]).toBe(1.0);
    // Budget 200.2; project 3 uses 2, the other two share 198.2 equally.
    expect(byId[1]).toBeCloseTo(99.1 / 1000, 12);
    expect(byId[2]).toBeCloseTo(99.1 / 1000, 12);
    // A plain proportional split would give everyone 0.1.
    expect(byId[1]).not.toBeCloseTo(0.1, 6);
  });
});

// ---------------------------------------------------------------------------
// Transactions rebalancing
// ---------------------------------------------------------------------------

describe('transactions rebalancing', () => {
  it('A: every class explicit -> full rebalancing, implicit rate = sample rate', () => {
    const r = rebalanceTransactions({ classes: [cls('a', 10), cls('b', 30)], sampleRate: 0.5, intensity: 1 });
    expect(r.implicitRate).toBe(0.5);
    expect(r.explicit).toEqual([
      { id: 'a', count: 10, newSampleRate: 1.0 },
      { id: 'b', count: 30, newSampleRate: 1 / 3 },
    ]);
  });

  it('B: implicit classes cannot use their budget -> implicit 1, the rest to explicit', () => {
    const r = rebalanceTransactions({
      classes: [cls('a', 100), cls('b', 50)],
      sampleRate: 0.5,
      total: 160,
      totalNumClasses: 10,
      intensity: 1,
    });
    expect(r.implicitRate).toBe(1);
    const rates = ratesById(r.explicit);
    expect(rates.b).toBeCloseTo(0.7, 12);
    expect(rates.a).toBeCloseTo(0.35, 12);
    expect(r.explicit.map((i) => i.id)).toEqual(['b', 'a']);
  });

  it('C: explicit classes cannot use their budget -> explicit 1.0, the rest to implicit', () => {
    const r = rebalanceTransactions({
      classes: [cls('a', 2), cls('b', 3)],
      sampleRate: 0.1,
      total: 1000,
      totalNumClasses: 3,
      intensity: 1,
    });
    expect(r.explicit).toEqual([
      { id: 'b', count: 3, newSampleRate: 1.0 },
      { id: 'a', count: 2, newSampleRate: 1.0 },
    ]);
    expect(r.implicitRate).toBe((1000 * 0.1 - 5) / 995);
  });

  it('D: general case balances explicit classes and gives the rest to the implicit rate', () => {
    const r = rebalanceTransactions({
      classes: [cls('a', 1000), cls('b', 500)],
      sampleRate: 0.1,
      total: 3000,
      totalNumClasses: 4,
      intensity: 1,
    });
    // budget 300, per class 75: a and b keep 75 each, the implicit classes get 150 of 1500.
    const rates = ratesById(r.explicit);
    expect(rates.a).toBeCloseTo(0.075, 12);
    expect(rates.b).toBeCloseTo(0.15, 12);
    expect(r.implicitRate).toBeCloseTo(0.1, 12);
  });

  it('D with a floor: the explicit class is raised to the floor', () => {
    const r = rebalanceTransactions({
      classes: [cls('big', 1_000_000)],
      sampleRate: 0.05,
      total: 2_000_000,
      totalNumClasses: 10,
      intensity: 1,
      minSampleRate: 0.04,
    });
    // budget 100000, per class 10000: big would keep 10000 but the floor makes it 40000.
    expect(ratesById(r.explicit).big).toBe(0.04);
    expect(r.implicitRate).toBe(60000 / 1_000_000);
  });

  it('D with a floor: the implicit rate never drops below the floor', () => {
    const input = {
      classes: [cls('big', 1_000_000), cls('small', 10)],
      sampleRate: 0.05,
      total: 2_000_010,
      totalNumClasses: 3,
      intensity: 1,
    };
    const floored = rebalanceTransactions({ ...input, minSampleRate: 0.05 });
    // big is floored at 50000; small saturates (10): the remaining 49990.5 is below 0.05 * 1e6.
    expect(ratesById(floored.explicit)).toEqual({ small: 1.0, big: 0.05 });
    expect(floored.implicitRate).toBe(0.05);
    const unfloored = rebalanceTransactions(input);
    expect(ratesById(unfloored.explicit).big).toBeCloseTo(0.0333335, 9);
  });

  it('the floor is capped at the sample rate', () => {
    const r = rebalanceTransactions({ classes: [cls('x', 100), cls('y', 1)], sampleRate: 0.1, intensity: 1, minSampleRate: 0.5 });
    // floor = min(0.5, 0.1) = 0.1: x cannot go below 0.1.
    expect(ratesById(r.explicit).x).toBeGreaterThanOrEqual(0.1 - 1e-12);
  });

  it('a totalNumClasses below the number of classes is raised to it', () => {
    const a = rebalanceTransactions({ classes: [cls('a', 10), cls('b', 30)], sampleRate: 0.5, intensity: 1, totalNumClasses: 1 });
    const b = rebalanceTransactions({ classes: [cls('a', 10), cls('b', 30)], sampleRate: 0.5, intensity: 1 });
    expect(a).toEqual(b);
  });

  it('validates its input', () => {
    const ok = { classes: [cls('a', 10)], sampleRate: 0.5, intensity: 1 };
    expect(() => rebalanceTransactions({ ...ok, classes: [] })).toThrow(InvalidModelInputError);
    expect(() => rebalanceTransactions({ ...ok, sampleRate: 2 })).toThrow(InvalidModelInputError);
    expect(() => rebalanceTransactions({ ...ok, intensity: -1 })).toThrow(InvalidModelInputError);
    expect(() => rebalanceTransactions({ ...ok, minSampleRate: -0.5 })).toThrow(InvalidModelInputError);
    expect(() => rebalanceTransactions({ ...ok, total: Number.NaN })).toThrow(InvalidModelInputError);
  });

  it('a zero sample rate with no implicit volume is a division by zero', () => {
    expect(() =>
      rebalanceTransactions({ classes: [cls('a', 0)], sampleRate: 0, intensity: 1, total: 0, totalNumClasses: 2 }),
    ).toThrow(InvalidModelInputError);
  });

  it('keeps the budget over a grid (intensity 1): explicit + implicit kept = total * rate', () => {
    const explicitSets: number[][] = [
      [1],
      [10, 1],
      [1000, 10, 1],
      [5000, 5000, 20],
      [100000, 2000, 300, 40, 5],
    ];
    let checked = 0;
    for (const counts of explicitSets) {
      const totalExplicit = counts.reduce((a, b) => a + b, 0);
      for (const extra of [0, 1, 100, 10_000, 1_000_000]) {
        for (const implicitClasses of [0, 1, 5, 100]) {
          if (extra > 0 && implicitClasses === 0) continue;
          if (extra === 0 && implicitClasses > 0) continue;
          for (const sampleRate of [0.01, 0.1, 0.5, 0.9]) {
            const classes = counts.map((count, i) => cls(`t${i}`, count));
            const total = totalExplicit + extra;
            const r = rebalanceTransactions({
              classes,
              sampleRate,
              total,
              totalNumClasses: counts.length + implicitClasses,
              intensity: 1,
            });
            const kept = r.explicit.reduce((a, i) => a + i.count * i.newSampleRate, 0) + r.implicitRate * extra;
            expect(kept / (total * sampleRate)).toBeCloseTo(1, 9);
            for (const i of r.explicit) expect(i.newSampleRate).toBeLessThanOrEqual(1);
            expect(r.implicitRate).toBeLessThanOrEqual(1);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });
});
