// A minimal JSON structure scanner over bytes: finds object members without re-serialising anything.

/** One member of a JSON object: its key and the byte range of its value. */
export interface RawMember {
  key: string;
  valueStart: number;
  valueEnd: number;
}

/** Thrown when the bytes are not the JSON structure expected. */
export class RawJsonError extends Error {
  override name = 'RawJsonError';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function skipWs(b: Uint8Array, i: number): number {
  while (i < b.length) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** `i` at an opening quote; returns the offset after the closing quote. */
function skipString(b: Uint8Array, i: number): number {
  i++;
  while (i < b.length) {
    const c = b[i];
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i + 1;
    else i++;
  }
  throw new RawJsonError('unterminated string');
}

/** `i` at the first byte of a value; returns the offset after it. */
export function skipValue(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i);
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    while (i < b.length) {
      const d = b[i];
      if (d === QUOTE) {
        i = skipString(b, i);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw new RawJsonError('unterminated container');
  }
  // Number, true, false, null: up to the next delimiter.
  const start = i;
  while (i < b.length) {
    const d = b[i];
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
    i++;
  }
  if (i === start) throw new RawJsonError(`unexpected byte at ${start}`);
  return i;
}

/** The members of the object starting at `start` (an opening brace), in order. */
export function objectMembers(b: Uint8Array, start: number): { members: RawMember[]; end: number } {
  if (b[start] !== 0x7b) throw new RawJsonError(`expected an object at ${start}`);
  const members: RawMember[] = [];
  let i = skipWs(b, start + 1);
  if (b[i] === 0x7d) return { members, end: i + 1 };
  for (;;) {
    if (b[i] !== QUOTE) throw new RawJsonError(`expected a key at ${i}`);
    const keyEnd = skipString(b, i);
    const keyBytes = Buffer.from(b.buffer, b.byteOffset + i, keyEnd - i);
    const key = keyBytes.includes(BACKSLASH) ? (JSON.parse(keyBytes.toString('utf8')) as string) : keyBytes.toString('utf8', 1, keyBytes.length - 1);
    i = skipWs(b, keyEnd);
    if (b[i] !== 0x3a /* : */) throw new RawJsonError(`expected a colon at ${i}`);
    const valueStart = skipWs(b, i + 1);
    const valueEnd = skipValue(b, valueStart);
    members.push({ key, valueStart, valueEnd });
    i = skipWs(b, valueEnd);
    if (b[i] === 0x2c) {
      i = skipWs(b, i + 1);
      continue;
    }
    if (b[i] === 0x7d) return { members, end: i + 1 };
    throw new RawJsonError(`expected a comma or a closing brace at ${i}`);
  }
}

/** The last member named `key` (JSON.parse keeps the last of duplicates), or undefined. */
export function lastMember(members: readonly RawMember[], key: string): RawMember | undefined {
  for (let k = members.length - 1; k >= 0; k--) if (members[k].key === key) return members[k];
  return undefined;
}
