// How many spans a transaction payload carries in its top-level `spans` list: what Relay counts for a dropped transaction
// (the transaction itself plus its spans, in the span categories). Run only for transactions reported as outcomes.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const SPANS = Buffer.from('spans');

const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** The index just past the string whose opening quote is at `start`; -1 when it does not end. */
function stringEnd(json: Buffer, start: number): number {
  let i = start + 1;
  for (;;) {
    const quote = json.indexOf(QUOTE, i);
    if (quote < 0) return -1;
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0;
    for (let j = quote - 1; j > start && json[j] === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    i = quote + 1;
  }
}

function skipSpace(json: Buffer, i: number): number {
  while (i < json.length && isSpace(json[i])) i++;
  return i;
}

/** Elements of the array whose `[` is at `start` (nested values and strings skipped); -1 when it does not end. */
function arrayLength(json: Buffer, start: number): number {
  let i = skipSpace(json, start + 1);
  if (json[i] === CLOSE_ARRAY) return 0;
  let count = 1;
  let depth = 0;
  while (i < json.length) {
    const b = json[i];
    if (b === QUOTE) {
      i = stringEnd(json, i);
      if (i < 0) return -1;
      continue;
    }
    if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
    else if (b === CLOSE_OBJECT || (b === CLOSE_ARRAY && depth > 0)) depth--;
    else if (b === CLOSE_ARRAY) return count;
    else if (b === COMMA && depth === 0) count++;
    i++;
  }
  return -1;
}

/**
 * The number of elements of the payload's top-level `spans` array (Relay's `event.spans`), 0 when
 * there is none or the payload cannot be read that far (the transaction is still counted).
 */
export function countEmbeddedSpans(json: Buffer): number {
  let i = skipSpace(json, 0);
  if (json[i] !== OPEN_OBJECT) return 0;
  i++;
  let depth = 1;
  while (i < json.length) {
    const b = json[i];
    if (b === QUOTE) {
      const end = stringEnd(json, i);
      if (end < 0) return 0;
      // A key of the top-level object named `spans`: its value is what is counted.
      if (depth === 1 && end - i - 2 === SPANS.length && json.compare(SPANS, 0, SPANS.length, i + 1, end - 1) === 0) {
        const colon = skipSpace(json, end);
        if (json[colon] === COLON) {
          const value = skipSpace(json, colon + 1);
          if (json[value] !== OPEN_ARRAY) return 0;
          return Math.max(0, arrayLength(json, value));
        }
      }
      i = end;
      continue;
    }
    if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
    else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return 0;
    }
    i++;
  }
  return 0;
}
