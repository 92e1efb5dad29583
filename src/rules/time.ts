// Time helpers for rule generation: instants as epoch microseconds, parsed from dates and formatted as Sentry does.

import type { DateInput } from './types';

/** Microseconds since the Unix epoch (exact in a double for any realistic date). */
export type EpochMicros = number;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Thrown when a date input is neither a valid `Date` nor an RFC 3339 timestamp. */
export class InvalidDateError extends Error {
  readonly input: unknown;

  constructor(input: unknown) {
    super(`invalid date: ${typeof input === 'string' ? JSON.stringify(input) : String(input)}`);
    this.name = 'InvalidDateError';
    this.input = input;
  }
}

/** Parses a `Date` or RFC 3339 string to epoch microseconds (fractions beyond microseconds are truncated). */
export function toEpochMicros(input: DateInput): EpochMicros {
  if (input instanceof Date) {
    const ms = input.getTime();
    if (!Number.isFinite(ms)) throw new InvalidDateError(input);
    return ms * 1000;
  }
  if (typeof input !== 'string') throw new InvalidDateError(input);
  const m = RFC3339.exec(input);
  if (!m) throw new InvalidDateError(input);
  const [, y, mo, d, h, mi, s, frac, offset] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    throw new InvalidDateError(input);
  }
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year); // years 0..99 are not shifted to 19xx
  if (date.getUTCDate() !== day) throw new InvalidDateError(input);
  let micros = date.getTime() * 1000;
  if (frac) micros += Number(frac.slice(0, 6).padEnd(6, '0'));
  if (offset !== 'Z' && offset !== 'z') {
    const sign = offset[0] === '-' ? -1 : 1;
    const offsetMinutes = Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6));
    micros -= sign * offsetMinutes * 60_000_000;
  }
  return micros;
}

/**
 * Converts a Unix timestamp in seconds (possibly fractional, as stored in Redis) to epoch
 * microseconds, rounding to the nearest microsecond like Python's `datetime.fromtimestamp`.
 */
export function unixSecondsToEpochMicros(seconds: number): EpochMicros {
  if (!Number.isFinite(seconds)) throw new InvalidDateError(seconds);
  const whole = Math.floor(seconds);
  return whole * 1_000_000 + Math.round((seconds - whole) * 1_000_000);
}

function wholeSecondsIso(micros: EpochMicros): { iso: string; fraction: number } {
  const wholeSeconds = Math.floor(micros / 1_000_000);
  const iso = new Date(wholeSeconds * 1000).toISOString().slice(0, 19);
  return { iso, fraction: micros - wholeSeconds * 1_000_000 };
}

/** `%Y-%m-%dT%H:%M:%SZ` in UTC (fractional seconds dropped), as used by release boosts. */
export function formatUtcSeconds(micros: EpochMicros): string {
  return `${wholeSecondsIso(micros).iso}Z`;
}

/** `%Y-%m-%dT%H:%M:%S.%fZ` in UTC (six fraction digits), as used by custom rules. */
export function formatUtcMicros(micros: EpochMicros): string {
  const { iso, fraction } = wholeSecondsIso(micros);
  return `${iso}.${String(fraction).padStart(6, '0')}Z`;
}
