// Reading values stored in Redis the way Sentry's Python code does (`float()` on a string).

import type { StoredFloat } from './types';

const PY_FLOAT = /^[+-]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const PY_SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;

/** Result of reading a stored float: missing key, unparsable value, or a number. */
export type StoredFloatResult = { kind: 'missing' } | { kind: 'invalid'; raw: string } | { kind: 'value'; value: number };

/**
 * Interprets a stored float: numbers pass through, strings are parsed with Python `float()`
 * syntax (surrounding whitespace, underscores between digits, `inf`, `nan`), `null`/`undefined`
 * are missing.
 */
export function readStoredFloat(stored: StoredFloat): StoredFloatResult {
  if (stored === null || stored === undefined) return { kind: 'missing' };
  if (typeof stored === 'number') return { kind: 'value', value: stored };
  const text = stored.trim();
  if (PY_FLOAT.test(text)) return { kind: 'value', value: Number(text.replace(/_/g, '')) };
  if (PY_SPECIAL.test(text)) {
    const negative = text.startsWith('-');
    if (/nan/i.test(text)) return { kind: 'value', value: Number.NaN };
    return { kind: 'value', value: negative ? -Infinity : Infinity };
  }
  return { kind: 'invalid', raw: stored };
}
