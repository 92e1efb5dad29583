// Argument checks of the public API: a wrong argument throws a `TypeError` that names it, before
// anything reaches the native layer (whose own conversion errors name no argument).

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'a Uint8Array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function fail(name: string, expected: string, value: unknown): never {
  throw new TypeError(`${name} must be ${expected}, got ${describe(value)}`);
}

export function checkString(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') fail(name, 'a string', value);
}

export function checkBoolean(name: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') fail(name, 'a boolean', value);
}

/** A plain object (not null, not an array). */
export function checkObject(name: string, value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(name, 'an object', value);
}

/** An object, or absent (`undefined`/`null`). */
export function checkOptionalObject(name: string, value: unknown): void {
  if (value !== undefined && value !== null) checkObject(name, value);
}

export function checkBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) fail(name, 'a Uint8Array or Buffer', value);
}

export function checkPublicKey(name: string, value: unknown): asserts value is string {
  checkString(name, value);
  if (!/^[0-9a-fA-F]{32}$/.test(value)) throw new TypeError(`${name} must be a project public key (32 hex digits), got ${describe(value)}`);
}

export function checkNonNegativeInteger(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(name, 'a non-negative integer', value);
}

/** A Date, an RFC 3339 string or epoch milliseconds. */
export function checkTime(name: string, value: unknown): void {
  const ok =
    (value instanceof Date && !Number.isNaN(value.getTime())) ||
    (typeof value === 'string' && !Number.isNaN(Date.parse(value))) ||
    (typeof value === 'number' && Number.isFinite(value));
  if (!ok) fail(name, 'a Date, an RFC 3339 string or epoch milliseconds', value);
}

export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(name, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value);
  }
}
