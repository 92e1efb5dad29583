// Writes the trace's sampling decision into an error event (`contexts.trace.sampled`, spec §7.3), changing nothing else.

import { isUtf8 } from 'node:buffer';

import { lastMember, objectMembers, skipWs, type RawMember } from './raw-json';

function splice(b: Buffer, at: number, removeTo: number, insert: string): Buffer {
  return Buffer.concat([b.subarray(0, at), Buffer.from(insert), b.subarray(removeTo)]);
}

function isNull(b: Buffer, m: RawMember): boolean {
  return m.valueEnd - m.valueStart === 4 && b.toString('latin1', m.valueStart, m.valueEnd) === 'null';
}

/** Inserts `"key":value` as the first member of the object at `open` (its brace), with a comma when it is not empty. */
function insertFirst(b: Buffer, open: number, members: readonly RawMember[], member: string): Buffer {
  return splice(b, open + 1, open + 1, members.length === 0 ? member : `${member},`);
}

/**
 * The event payload with `contexts.trace.sampled` set to `sampled`, or null when nothing is to
 * change: the flag is already set (anything but null), the payload is not a UTF-8 JSON object, or
 * `contexts`/`contexts.trace` is present but not an object. Missing `contexts` or `trace` objects
 * are created (as Relay does). Every other byte of the payload is kept as it was.
 */
export function tagTraceSampled(payload: Buffer, sampled: boolean): Buffer | null {
  if (!isUtf8(payload)) return null;
  try {
    JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  const value = sampled ? 'true' : 'false';
  const root = skipWs(payload, 0);
  if (payload[root] !== 0x7b) return null;
  const top = objectMembers(payload, root).members;
  const contexts = lastMember(top, 'contexts');
  if (contexts === undefined) return insertFirst(payload, root, top, `"contexts":{"trace":{"sampled":${value}}}`);
  if (isNull(payload, contexts)) return splice(payload, contexts.valueStart, contexts.valueEnd, `{"trace":{"sampled":${value}}}`);
  if (payload[contexts.valueStart] !== 0x7b) return null;
  const inContexts = objectMembers(payload, contexts.valueStart).members;
  const trace = lastMember(inContexts, 'trace');
  if (trace === undefined) return insertFirst(payload, contexts.valueStart, inContexts, `"trace":{"sampled":${value}}`);
  if (isNull(payload, trace)) return splice(payload, trace.valueStart, trace.valueEnd, `{"sampled":${value}}`);
  if (payload[trace.valueStart] !== 0x7b) return null;
  const inTrace = objectMembers(payload, trace.valueStart).members;
  const flag = lastMember(inTrace, 'sampled');
  if (flag === undefined) return insertFirst(payload, trace.valueStart, inTrace, `"sampled":${value}`);
  if (isNull(payload, flag)) return splice(payload, flag.valueStart, flag.valueEnd, value);
  return null;
}

/** The item (header line and payload) rewritten around a new payload; `length` is updated when the header has one. */
export function rewriteItem(body: Buffer, item: { header: Record<string, unknown>; start: number; headerEnd: number; end: number; payloadEnd: number }, payload: Buffer): Buffer {
  const headerLine =
    item.header.length === undefined || item.header.length === null
      ? body.subarray(item.start, item.headerEnd)
      : Buffer.from(JSON.stringify({ ...item.header, length: payload.length }));
  const trailing = item.end > item.payloadEnd ? body.subarray(item.payloadEnd, item.end) : Buffer.alloc(0);
  return Buffer.concat([headerLine, Buffer.from('\n'), payload, trailing]);
}
