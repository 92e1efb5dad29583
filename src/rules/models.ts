// Rebalancing models (full, projects, transactions): deterministic budget splits as Sentry computes them.

import { InvalidModelInputError } from '../control/errors';
import type { ClassId, ModelClass, RebalancedItem } from './types';

// ---------------------------------------------------------------------------
// Ordering
// ---------------------------------------------------------------------------

/** Compares strings by Unicode code point, like Python's `str` ordering. */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done || cb.done) return ca.done ? (cb.done ? 0 : -1) : 1;
    const pa = ca.value.codePointAt(0)!;
    const pb = cb.value.codePointAt(0)!;
    if (pa !== pb) return pa < pb ? -1 : 1;
  }
}

function compareIds(model: string, a: ClassId, b: ClassId): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  throw new InvalidModelInputError(model, `class ids of different types cannot be ordered (${typeof a}, ${typeof b})`);
}

/** Orders classes by `(count, id)` ascending; Python tuple comparison. */
export function compareClasses(a: ModelClass, b: ModelClass, model = 'model'): number {
  if (a.count !== b.count) return a.count < b.count ? -1 : 1;
  return compareIds(model, a.id, b.id);
}

/** Returns a copy sorted descending by `(count, id)`, the order the models consume from the end. */
export function sortClassesDescending<Id extends ClassId>(classes: readonly ModelClass<Id>[], model = 'model'): ModelClass<Id>[] {
  return [...classes].sort((a, b) => compareClasses(b, a, model));
}

// ---------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------

function inUnitInterval(x: unknown): x is number {
  return typeof x === 'number' && x >= 0 && x <= 1;
}

function requireUnit(model: string, name: string, value: unknown): void {
  if (!inUnitInterval(value)) throw new InvalidModelInputError(model, `${name} must be in [0, 1], got ${String(value)}`);
}

function requireClasses(model: string, classes: readonly ModelClass[], allowEmpty: boolean): void {
  if (!Array.isArray(classes)) throw new InvalidModelInputError(model, 'classes must be an array');
  if (!allowEmpty && classes.length === 0) throw new InvalidModelInputError(model, 'classes must not be empty');
  for (const c of classes) {
    if (c === null || typeof c !== 'object') throw new InvalidModelInputError(model, 'every class must be an object');
    if (typeof c.id !== 'number' && typeof c.id !== 'string') {
      throw new InvalidModelInputError(model, `class id must be a number or a string, got ${String(c.id)}`);
    }
    if (typeof c.count !== 'number' || !Number.isFinite(c.count) || c.count < 0) {
      throw new InvalidModelInputError(model, `class ${String(c.id)} has an invalid count ${String(c.count)}`);
    }
  }
}

/** Python float division: dividing by zero is an error, never Infinity or NaN. */
function divide(model: string, what: string, numerator: number, denominator: number): number {
  if (denominator === 0) throw new InvalidModelInputError(model, `division by zero computing ${what}`);
  return numerator / denominator;
}

function sumCounts(classes: readonly ModelClass[]): number {
  let total = 0;
  for (const c of classes) total += c.count;
  return total;
}

// ---------------------------------------------------------------------------
// Full rebalancing
// ---------------------------------------------------------------------------

export interface FullRebalancingInput<Id extends ClassId = ClassId> {
  /** Classes sorted descending by `(count, id)` (see `sortClassesDescending`); consumed from the end. */
  classes: readonly ModelClass<Id>[];
  /** Overall rate to keep, in [0, 1]. */
  sampleRate: number;
  /** 0 keeps every class at `sampleRate`, 1 moves every class to the ideal count. */
  intensity: number;
  /** Budget that must be used at least; defaults to `total * sampleRate`. */
  minBudget?: number | null;
  /** Floor for every class rate, in [0, 1]; default 0. */
  minSampleRate?: number;
}

export interface FullRebalancingResult<Id extends ClassId = ClassId> {
  /** Rates in consumption order: ascending by `(count, id)` for sorted input. */
  items: RebalancedItem<Id>[];
  /** Number of samples the rates keep in total. */
  usedBudget: number;
}

const FULL = 'full rebalancing';

/**
 * Gives every class the same number of kept samples where possible: classes are consumed from
 * the smallest; a class that cannot use its share is sampled at 1.0 and the rest of its share
 * goes to the larger classes.
 */
export function fullRebalancing<Id extends ClassId>(input: FullRebalancingInput<Id>): FullRebalancingResult<Id> {
  const { classes, sampleRate, intensity } = input;
  const minSampleRate = input.minSampleRate ?? 0;
  requireUnit(FULL, 'sampleRate', sampleRate);
  requireUnit(FULL, 'intensity', intensity);
  requireUnit(FULL, 'minSampleRate', minSampleRate);
  requireClasses(FULL, classes, false);
  if (input.minBudget !== undefined && input.minBudget !== null && !Number.isFinite(input.minBudget)) {
    throw new InvalidModelInputError(FULL, `minBudget must be finite, got ${String(input.minBudget)}`);
  }

  const total = sumCounts(classes);
  let numClasses = classes.length;
  let minBudget = input.minBudget ?? total * sampleRate;
  if (!(total >= minBudget)) {
    throw new InvalidModelInputError(FULL, `minimum budget ${minBudget} exceeds the total count ${total}`);
  }
  let ideal = (total * sampleRate) / numClasses;
  let usedBudget = 0;
  const items: RebalancedItem<Id>[] = [];

  for (let i = classes.length - 1; i >= 0; i--) {
    const { id, count } = classes[i];
    if (ideal * numClasses < minBudget) {
      // Keeping to the ideal would not use the minimum budget: raise the target.
      ideal = minBudget / numClasses;
    }
    const sampled = count * sampleRate;
    const delta = ideal - sampled;
    const correction = delta * intensity;
    let desired = sampled + correction;
    desired = Math.max(desired, count * minSampleRate);

    let newSampleRate: number;
    let used: number;
    if (desired > count) {
      newSampleRate = 1.0;
      used = count;
    } else {
      newSampleRate = divide(FULL, `the rate of class ${String(id)}`, desired, count);
      used = desired;
    }
    items.push({ id, count, newSampleRate });
    minBudget -= used;
    usedBudget += used;
    numClasses -= 1;
  }
  return { items, usedBudget };
}

// ---------------------------------------------------------------------------
// Projects rebalancing
// ---------------------------------------------------------------------------

export interface ProjectsRebalancingInput<Id extends ClassId = ClassId> {
  /** Every project of the organisation with its root volume (0 for projects without traffic). */
  classes: readonly ModelClass<Id>[];
  /** The organisation's target rate, in [0, 1]. */
  sampleRate: number;
}

const PROJECTS = 'projects rebalancing';

/**
 * Rates per project so that each project keeps `total * sampleRate / n` samples where it can;
 * small projects saturate at 1.0 and their unused budget goes to larger ones. Output is
 * ascending by `(count, id)`.
 */
export function rebalanceProjects<Id extends ClassId>(input: ProjectsRebalancingInput<Id>): RebalancedItem<Id>[] {
  requireUnit(PROJECTS, 'sampleRate', input.sampleRate);
  requireClasses(PROJECTS, input.classes, true);
  if (input.classes.length === 0) return [];
  const sorted = sortClassesDescending(input.classes, PROJECTS);
  return fullRebalancing({ classes: sorted, sampleRate: input.sampleRate, intensity: 1 }).items;
}

// ---------------------------------------------------------------------------
// Transactions rebalancing
// ---------------------------------------------------------------------------

export interface TransactionsRebalancingInput<Id extends ClassId = ClassId> {
  /** The explicitly rebalanced transactions (largest and/or smallest). */
  classes: readonly ModelClass<Id>[];
  /** The project's rate, in [0, 1]. */
  sampleRate: number;
  /** Number of distinct transactions including the explicit ones; fewer than `classes` → `classes.length`. */
  totalNumClasses?: number | null;
  /** Total volume of the project including the explicit classes; default: their sum. */
  total?: number | null;
  /** Adjustment strength, in [0, 1]. */
  intensity: number;
  /** Floor for every explicit rate (capped at `sampleRate`), in [0, 1]; default 0. */
  minSampleRate?: number;
}

export interface TransactionsRebalancingResult<Id extends ClassId = ClassId> {
  /** Rates of the explicit classes. */
  explicit: RebalancedItem<Id>[];
  /** Rate of every other transaction of the project. */
  implicitRate: number;
}

const TRANSACTIONS = 'transactions rebalancing';

/**
 * Rates per explicit transaction plus one rate for all other transactions, so that every
 * transaction keeps about the same number of samples while the project keeps `total * sampleRate`.
 */
export function rebalanceTransactions<Id extends ClassId>(
  input: TransactionsRebalancingInput<Id>,
): TransactionsRebalancingResult<Id> {
  const { sampleRate, intensity } = input;
  const minSampleRateInput = input.minSampleRate ?? 0;
  requireUnit(TRANSACTIONS, 'sampleRate', sampleRate);
  requireUnit(TRANSACTIONS, 'intensity', intensity);
  requireUnit(TRANSACTIONS, 'minSampleRate', minSampleRateInput);
  requireClasses(TRANSACTIONS, input.classes, false);
  if (input.total !== undefined && input.total !== null && !Number.isFinite(input.total)) {
    throw new InvalidModelInputError(TRANSACTIONS, `total must be finite, got ${String(input.total)}`);
  }
  if (input.totalNumClasses !== undefined && input.totalNumClasses !== null && !Number.isFinite(input.totalNumClasses)) {
    throw new InvalidModelInputError(TRANSACTIONS, `totalNumClasses must be finite, got ${String(input.totalNumClasses)}`);
  }

  const minSampleRate = Math.min(minSampleRateInput, sampleRate);
  const classes = sortClassesDescending(input.classes, TRANSACTIONS);
  const totalExplicit = sumCounts(classes);
  const total = input.total ?? totalExplicit;
  let totalNumClasses = input.totalNumClasses ?? classes.length;
  if (totalNumClasses < classes.length) totalNumClasses = classes.length;

  const totalImplicit = total - totalExplicit;
  const numExplicit = classes.length;
  const numImplicit = totalNumClasses - numExplicit;
  const totalBudget = total * sampleRate;
  const budgetPerClass = totalBudget / totalNumClasses;
  const implicitBudget = budgetPerClass * numImplicit;
  const explicitBudget = budgetPerClass * numExplicit;

  if (numExplicit === totalNumClasses) {
    // Every class is explicit: the implicit rate does not matter.
    const { items } = fullRebalancing({ classes, sampleRate, intensity, minSampleRate });
    return { explicit: items, implicitRate: sampleRate };
  }
  if (totalImplicit < implicitBudget) {
    // The other transactions cannot use their budget: keep all of them, give the rest to the explicit ones.
    const explicitRate = divide(TRANSACTIONS, 'the explicit rate', totalBudget - totalImplicit, totalExplicit);
    const { items } = fullRebalancing({ classes, sampleRate: explicitRate, intensity, minSampleRate });
    return { explicit: items, implicitRate: 1 };
  }
  if (totalExplicit < explicitBudget) {
    // The explicit transactions cannot use their budget: keep all of them, give the rest to the others.
    const explicit = classes.map((c) => ({ id: c.id, count: c.count, newSampleRate: 1.0 }));
    const implicitRate = divide(TRANSACTIONS, 'the implicit rate', totalBudget - totalExplicit, totalImplicit);
    return { explicit, implicitRate };
  }
  // Both sides can spend their budgets: balance the explicit side (using at least what keeps the
  // overall rate) and give whatever it did not use to the other transactions.
  const minimumExplicitBudget = totalBudget - totalImplicit;
  const explicitRate = divide(TRANSACTIONS, 'the explicit rate', explicitBudget, totalExplicit);
  const { items, usedBudget } = fullRebalancing({
    classes,
    sampleRate: explicitRate,
    intensity,
    minBudget: minimumExplicitBudget,
    minSampleRate,
  });
  let remaining = totalBudget - usedBudget;
  if (minSampleRate > 0) remaining = Math.max(remaining, minSampleRate * totalImplicit);
  const implicitRate = divide(TRANSACTIONS, 'the implicit rate', remaining, totalImplicit);
  return { explicit: items, implicitRate };
}
