// Splits an envelope into items (byte ranges and parsed headers) with the engine's framing rules, to filter or rewrite them.

import { isUtf8 } from 'node:buffer';

import { BadEnvelopeError } from '../errors';

export interface EnvelopeItem {
  type: string;
  header: Record<string, unknown>;
  /** Byte offsets in the envelope: item header line, payload, and the end including its newline. */
  start: number;
  headerEnd: number;
  payloadStart: number;
  payloadEnd: number;
  end: number;
}

const NEWLINE = 0x0a;

function lineEnd(body: Uint8Array, from: number): number {
  const at = body.indexOf(NEWLINE, from);
  return at < 0 ? body.length : at;
}

/**
 * The items after the header line ending at `headerEnd`. Framing follows the engine (blank lines
 * between items tolerated, `length` or newline-terminated payloads); item headers must be UTF-8
 * JSON objects with a string `type`, otherwise `BadEnvelopeError` with the engine's code.
 */
export function splitItems(body: Buffer, headerEnd: number, options: { checkUtf8?: boolean } = {}): EnvelopeItem[] {
  const items: EnvelopeItem[] = [];
  let i = Math.min(headerEnd + 1, body.length);
  while (i < body.length) {
    if (body[i] === NEWLINE) {
      i++;
      continue;
    }
    const start = i;
    const headerLineEnd = lineEnd(body, start);
    const line = body.subarray(start, headerLineEnd);
    if (options.checkUtf8 && !isUtf8(line)) throw new BadEnvelopeError(3, 'an item header is not valid UTF-8');
    let header: unknown;
    try {
      header = JSON.parse(line.toString('utf8'));
    } catch {
      throw BadEnvelopeError.fromEngineCode(3);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) throw BadEnvelopeError.fromEngineCode(3);
    const h = header as Record<string, unknown>;
    if (typeof h.type !== 'string') throw BadEnvelopeError.fromEngineCode(4);
    const payloadStart = Math.min(headerLineEnd + 1, body.length);
    let payloadEnd: number;
    let end: number;
    if (h.length !== undefined && h.length !== null) {
      const length = h.length;
      if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) throw BadEnvelopeError.fromEngineCode(3);
      payloadEnd = payloadStart + length;
      if (payloadEnd > body.length) throw BadEnvelopeError.fromEngineCode(5);
      if (payloadEnd === body.length) end = payloadEnd;
      else if (body[payloadEnd] === NEWLINE) end = payloadEnd + 1;
      else throw BadEnvelopeError.fromEngineCode(6);
    } else {
      payloadEnd = lineEnd(body, payloadStart);
      end = Math.min(payloadEnd + 1, body.length);
    }
    items.push({ type: h.type, header: h, start, headerEnd: headerLineEnd, payloadStart, payloadEnd, end });
    i = end;
  }
  return items;
}

/** How many things an item counts for in outcomes: spans of a span container, else 1. */
export function itemQuantity(item: EnvelopeItem): number {
  const count = item.header.item_count;
  if ((item.type === 'span' || item.type === 'otel_span') && typeof count === 'number' && Number.isSafeInteger(count) && count > 0) {
    return count;
  }
  return 1;
}

/** Builds an envelope from the original header line and a subset of items (original bytes, newline-separated). */
export function assembleEnvelope(body: Buffer, headerEnd: number, items: readonly { start: number; end: number; bytes?: Buffer }[]): Buffer {
  const parts: Buffer[] = [body.subarray(0, headerEnd), Buffer.from('\n')];
  items.forEach((item, index) => {
    const bytes = item.bytes ?? body.subarray(item.start, item.end);
    parts.push(bytes);
    const last = index === items.length - 1;
    if (!last && bytes[bytes.length - 1] !== NEWLINE) parts.push(Buffer.from('\n'));
  });
  return Buffer.concat(parts);
}
