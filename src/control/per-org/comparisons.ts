// Relative-tolerance comparisons of two pipelines' values (Sentry's per_org comparisons): deviation, equality, outcome.

/** Tolerance of every comparison (project, transaction and recalibration factor): 5%. */
export const COMPARISON_RELATIVE_TOLERANCE = 0.05;

/**
 * `get_relative_deviation(other, calculated)`: `|other − calculated| / |calculated|`; null when the
 * other value is missing, or when the calculated one is 0 and the other is not.
 */
export function relativeDeviation(other: number | null, calculated: number): number | null {
  if (other === null) return null;
  if (calculated === 0) return Math.abs(other) <= 1e-12 ? 0 : null;
  return Math.abs(other - calculated) / Math.abs(calculated);
}

/** `is_within_relative_tolerance`: a deviation exists and is at most the tolerance. */
export function isWithinRelativeTolerance(other: number | null, calculated: number, tolerance = COMPARISON_RELATIVE_TOLERANCE): boolean {
  const deviation = relativeDeviation(other, calculated);
  return deviation !== null && deviation <= tolerance + 1e-12;
}

/** One compared value: the per-org pipeline's, the classic pipeline's, and how they relate. */
export interface Comparison {
  /** `project_rate:<id>`, `transaction_rate:<id>:<name>`, `implicit_rate:<id>`, `recalibration_factor`, `org_rate`. */
  value: string;
  perOrg: number | null;
  classic: number | null;
  deviation: number | null;
  /** `equal` within the tolerance, `differs`, or `missing` (one side has no value). */
  outcome: 'equal' | 'differs' | 'missing';
}

export function compare(value: string, perOrg: number | null, classic: number | null): Comparison {
  if (perOrg === null || classic === null) return { value, perOrg, classic, deviation: null, outcome: 'missing' };
  const deviation = relativeDeviation(classic, perOrg);
  return { value, perOrg, classic, deviation, outcome: isWithinRelativeTolerance(classic, perOrg) ? 'equal' : 'differs' };
}
