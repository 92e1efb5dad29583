// Reads the envelope header line in JavaScript: event id (for the response) and `dsn` (for authentication).

import { isUtf8 } from 'node:buffer';

import { BadEnvelopeError } from '../errors';

export interface EnvelopeHeader {
  /** Byte offset of the newline ending the header (or the body length). */
  end: number;
  /** The header's `event_id` as 32 lowercase hex digits, when it has a valid one. */
  eventId: string | null;
  /** The public key of the header's `dsn`, when present. */
  dsnKey: string | null;
  /** The parsed header object. */
  value: Record<string, unknown>;
}

const NEWLINE = 0x0a;

function isBlank(body: Uint8Array): boolean {
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09 && c !== 0x0c) return false;
  }
  return true;
}

/** `9ec79c33ec9942ab8353589fcb2e04dc` or the hyphenated spelling → 32 lowercase hex digits. */
export function normalizeEventId(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const hex = value.length === 36 ? value.replace(/-/g, '') : value;
  return /^[0-9a-fA-F]{32}$/.test(hex) ? hex.toLowerCase() : null;
}

/** The public key of a DSN (`https://<key>@host/<project>`), or null. */
export function keyFromDsn(dsn: unknown): string | null {
  if (typeof dsn !== 'string') return null;
  try {
    const key = new URL(dsn).username;
    return key === '' ? null : decodeURIComponent(key);
  } catch {
    return null;
  }
}

/**
 * Parses the header line. Throws `BadEnvelopeError` for an empty body, a header larger than
 * `maxSize` bytes, one that is not valid UTF-8, or not a JSON object (the engine's codes 1 and 2).
 */
export function readEnvelopeHeader(body: Buffer, maxSize: number): EnvelopeHeader {
  if (isBlank(body)) throw BadEnvelopeError.fromEngineCode(1);
  let end = body.indexOf(NEWLINE);
  if (end < 0) end = body.length;
  if (end > maxSize) throw new BadEnvelopeError(null, `the envelope header is larger than ${maxSize} bytes`);
  const line = body.subarray(0, end);
  if (!isUtf8(line)) throw new BadEnvelopeError(2, 'the envelope header is not valid UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    throw BadEnvelopeError.fromEngineCode(2);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw BadEnvelopeError.fromEngineCode(2);
  const header = value as Record<string, unknown>;
  return { end, eventId: normalizeEventId(header.event_id), dsnKey: keyFromDsn(header.dsn), value: header };
}
