// Seeded input generators of the fuzz tests: a PRNG, the captured SDK envelopes as seeds, and
// mutations of envelope bytes (the same families as crates/sampling-core/tests/fuzz_engine.rs).

import { SeededRandom } from '../../src/demo/random';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The run's seed: `FUZZ_SEED` (decimal or 0x-hex) when set, else a fresh one. */
export function fuzzSeed(): number {
  const text = process.env.FUZZ_SEED?.trim();
  if (text !== undefined && text !== '') {
    const seed = Number(text);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`FUZZ_SEED must be a non-negative integer, got ${text}`);
    return seed >>> 0;
  }
  return Math.floor(Math.random() * 0x1_0000_0000) >>> 0;
}

/** A count from the environment (e.g. `FUZZ_REQUESTS`), else the default. */
export function fuzzCount(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${text}`);
  return n;
}

/** The project's seeded generator, with the fuzzers' helpers. */
export class Prng extends SeededRandom {
  /** Uniform in 0..n-1. */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
  oneIn(n: number): boolean {
    return this.below(n) === 0;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
  hex(width: number): string {
    let s = '';
    while (s.length < width) s += (Math.floor(this.next() * 0x1_0000_0000) >>> 0).toString(16).padStart(8, '0');
    return s.slice(0, width);
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.below(256);
    return b;
  }
}

export interface SdkCorpus {
  publicKey: string;
  projectId: number;
  envelopes: Buffer[];
}

/** The envelopes captured from `@sentry/node` (test/fixtures/capture-sdk-envelopes.js). */
export function sdkEnvelopes(): SdkCorpus {
  const file = path.join(__dirname, '..', 'fixtures', 'sdk-envelopes.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string; projectId: number; envelopes: { text: string }[] };
  return { publicKey: parsed.publicKey, projectId: parsed.projectId, envelopes: parsed.envelopes.map((e) => Buffer.from(e.text, 'utf8')) };
}

const TOKENS = [
  '{', '}', '[', ']', '"', ':', ',', '\\', '\n', '\r\n', ' ', '\t', '\0', 'null', 'true', 'false', '-', '0', '-0', '1e999',
  '1.7976931348623157e309', '18446744073709551616', '-9223372036854775809', '123456789012345678901234567890', '.5', 'NaN',
  '""', '"\\u0000"', '"\\ud800"', '"\\uZZZZ"', '{}', '[]', '"type":"transaction"', '"type":"span"', '"type":"event"',
  '"length":0', '"length":-1', '"trace":{}', '"trace":null', '"item_count":4294967296', '"sampled":"maybe"',
].map((t) => Buffer.from(t, 'utf8'));

const HUGE_NUMBERS = [
  '0', '-1', '1e400', '-1e400', '18446744073709551615', '18446744073709551616', '9223372036854775808', '4294967296', '1.5',
  '99999999999999999999999999999999999999999999999999', '"12"', 'null', 'true', '[]',
].map((t) => Buffer.from(t, 'utf8'));

const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc3, 0x28], [0xa0, 0xa1], [0xe2, 0x28, 0xa1], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x80], [0xc3]].map((b) => Buffer.from(b));

const DSC_VALUES = ['"NaN"', '"1e309"', '"-1"', '"0"', '"1"', '""', 'null', '1', 'true', '"maybe"', '{}', '[1,2]', '"\\u0041bc"', '"4bf92f35-77b3-4da6-a3ce-929d0e0e4736"'].map((t) =>
  Buffer.from(t, 'utf8'),
);

function splice(b: Buffer, start: number, end: number, insert: Buffer): Buffer {
  return Buffer.concat([b.subarray(0, start), insert, b.subarray(end)]);
}

function indexesOf(b: Buffer, needle: string): number[] {
  const out: number[] = [];
  for (let i = b.indexOf(needle); i >= 0; i = b.indexOf(needle, i + 1)) out.push(i);
  return out;
}

function numberEnd(b: Buffer, at: number): number {
  let end = at;
  while (end < b.length && /[0-9eE+\-.]/.test(String.fromCharCode(b[end]))) end++;
  return end;
}

/** Replaces the value after one `"key":` (a string or a number) with `value`. */
export function replaceValue(b: Buffer, rng: Prng, key: string, value: Buffer): Buffer {
  const hits = indexesOf(b, `"${key}":`);
  if (hits.length === 0) return b;
  const start = rng.pick(hits) + key.length + 3;
  let end: number;
  if (b[start] === 0x22) {
    const close = b.indexOf(0x22, start + 1);
    end = close < 0 ? b.length : close + 1;
  } else end = Math.max(numberEnd(b, start), start);
  return splice(b, start, end, value);
}

/** The envelope header's `event_id` set to `id` (added when absent). */
export function withEventId(envelope: Buffer, id: string): Buffer {
  const nl = envelope.indexOf(10);
  const headerEnd = nl < 0 ? envelope.length : nl;
  const header = envelope.subarray(0, headerEnd);
  const at = header.indexOf('"event_id":"');
  if (at >= 0) return splice(envelope, at + 12, at + 44, Buffer.from(id));
  if (header[0] !== 0x7b) return envelope;
  return splice(envelope, 1, 1, Buffer.from(`"event_id":"${id}"${header[1] === 0x7d ? '' : ','}`));
}

/** One random mutation of envelope bytes. */
export function mutateOnce(b: Buffer, rng: Prng, seeds: readonly Buffer[]): Buffer {
  const len = b.length;
  switch (rng.below(16)) {
    case 0: {
      if (len === 0) return b;
      const out = Buffer.from(b);
      out[rng.below(len)] ^= 1 << rng.below(8);
      return out;
    }
    case 1: {
      if (len === 0) return b;
      const out = Buffer.from(b);
      out[rng.below(len)] = rng.below(256);
      return out;
    }
    case 2:
      return b.subarray(0, rng.below(len + 1));
    case 3: {
      const other = rng.pick(seeds);
      return Buffer.concat([b.subarray(0, rng.below(len + 1)), other.subarray(rng.below(other.length + 1))]);
    }
    case 4:
    case 5: {
      const at = rng.below(len + 1);
      return splice(b, at, at, rng.pick(TOKENS));
    }
    case 6: {
      if (len === 0) return b;
      const at = rng.below(len);
      return splice(b, at, Math.min(len, at + 1 + rng.below(16)), Buffer.alloc(0));
    }
    case 7: {
      const digits: number[] = [];
      for (let i = 0; i < len; i++) if (b[i] >= 0x30 && b[i] <= 0x39 && (i === 0 || !/[0-9a-zA-Z]/.test(String.fromCharCode(b[i - 1])))) digits.push(i);
      if (digits.length === 0) return b;
      const at = rng.pick(digits);
      return splice(b, at, numberEnd(b, at), rng.pick(HUGE_NUMBERS));
    }
    case 8: {
      const depth = rng.pick([10, 127, 128, 129, 300, 2000]);
      const [open, close] = rng.pick([['[', ']'], ['{"a":', '}']]);
      const nest = `${open.repeat(depth)}1${rng.oneIn(4) ? '' : close.repeat(depth)}`;
      const at = rng.below(len + 1);
      return splice(b, at, at, Buffer.from(nest));
    }
    case 9: {
      const at = rng.below(len + 1);
      return splice(b, at, at, rng.pick(INVALID_UTF8));
    }
    case 10: {
      // A duplicated key-value pair.
      const commas = indexesOf(b, ',"');
      if (commas.length === 0) return b;
      const at = rng.pick(commas);
      let end = at + 1;
      while (end < len && b[end] !== 0x2c && b[end] !== 0x7d && b[end] !== 0x0a) end++;
      return splice(b, end, end, b.subarray(at, end));
    }
    case 11: {
      // A duplicated or removed line.
      const starts = [0, ...indexesOf(b, '\n').map((i) => i + 1)].filter((i) => i <= len);
      const start = rng.pick(starts);
      const nl = b.indexOf(10, start);
      const end = nl < 0 ? len : nl + 1;
      return rng.oneIn(2) ? splice(b, start, start, b.subarray(start, end)) : splice(b, start, end, Buffer.alloc(0));
    }
    case 12:
    case 13: {
      // An item length off by one (or absurd).
      const hits = indexesOf(b, '"length":');
      if (hits.length === 0) return b;
      const at = rng.pick(hits) + 9;
      const end = numberEnd(b, at);
      const old = Number(b.subarray(at, end).toString('latin1')) || 0;
      const value = rng.pick([old - 1, old + 1, old + 1, old + 1000, 0, -old]);
      return splice(b, at, end, rng.oneIn(6) ? rng.pick(HUGE_NUMBERS) : Buffer.from(String(value)));
    }
    case 14:
      return replaceValue(b, rng, rng.pick(['sample_rate', 'sampled', 'trace_id', 'public_key', 'item_count', 'type', 'transaction', 'environment']), rng.pick(DSC_VALUES));
    default: {
      const nls = indexesOf(b, '\n');
      if (nls.length === 0) return b;
      const at = rng.pick(nls);
      return splice(b, at, at, Buffer.from('\r'));
    }
  }
}

/** A seed envelope with a fresh trace id (so decisions vary), mutated 0 to many times. */
export function mutatedEnvelope(rng: Prng, seeds: readonly Buffer[], base = rng.pick(seeds)): Buffer {
  let b = base;
  if (rng.oneIn(2)) b = replaceValue(b, rng, 'trace_id', Buffer.from(`"${rng.hex(32)}"`));
  const n = rng.oneIn(4) ? 0 : rng.oneIn(12) ? 8 + rng.below(16) : 1 + rng.below(3);
  for (let i = 0; i < n; i++) b = mutateOnce(b, rng, seeds);
  return b;
}
