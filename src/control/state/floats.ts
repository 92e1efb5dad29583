// Formatting floats for storage the way Python's `str(float)` mostly does, so Python readers see familiar values.

/** `0.25` → `"0.25"`, `1` → `"1.0"` (integers get a `.0`, like Python floats). */
export function formatStoredFloat(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  const text = String(value);
  return /^-?\d+$/.test(text) ? `${text}.0` : text;
}
