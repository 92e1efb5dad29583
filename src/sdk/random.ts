// The engine's trace-id-seeded random value (Relay's PCG32 draw, sampling.md §8) computed in
// JavaScript with 32-bit arithmetic: bit-identical to the engine, without a native call per span.

// PCG's 64-bit LCG multiplier 6364136223846793005, as two 32-bit halves.
const MUL_HI = 0x5851f42d;
const MUL_LO = 0x4c957f2d;
const TWO_POW_32 = 0x1_0000_0000;

/** High 32 bits of the unsigned product lo * MUL_LO, from 16-bit pieces (each product exact in a double). */
function mulHiLo(lo: number): number {
  const a0 = lo & 0xffff;
  const a1 = lo >>> 16;
  const p00 = a0 * 0x7f2d;
  const p01 = a0 * 0x4c95;
  const p10 = a1 * 0x7f2d;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return a1 * 0x4c95 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
}

/** PCG's XSH-RR output of the state (hi, lo): ((s >> 18) ^ s) >> 27 truncated to 32 bits, rotated right by s >> 59. */
function output(hi: number, lo: number): number {
  const rot = hi >>> 27;
  const xHi = hi ^ (hi >>> 18);
  const xLo = lo ^ ((lo >>> 18) | (hi << 14));
  const x = ((xLo >>> 27) | (xHi << 5)) >>> 0;
  return ((x >>> rot) | (x << ((32 - rot) & 31))) >>> 0;
}

// Hex digit values by char code (-1: not a hex digit); parsing by hand avoids a string per word.
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

function hexWord(id: string, at: number): number {
  let word = 0;
  for (let i = at; i < at + 8; i++) {
    const code = id.charCodeAt(i);
    const digit = code < 128 ? HEX[code] : -1;
    if (digit < 0) throw new TypeError(`not a trace or event id (32 hex digits): ${JSON.stringify(id)}`);
    word = word * 16 + digit;
  }
  return word;
}

/**
 * The value in [0, 1) that a trace or event id (32 hex digits, or a hyphenated UUID) seeds: the
 * engine keeps an item at rate `r` exactly when this value is below `r`.
 */
export function seededRandom(id: string): number {
  if (id.length !== 32) {
    const bare = typeof id === 'string' ? id.replace(/-/g, '') : '';
    if (bare.length !== 32 || typeof id !== 'string' || id.length !== 36) throw new TypeError(`not a trace or event id (32 hex digits): ${JSON.stringify(id)}`);
    id = bare;
  }
  const w0 = hexWord(id, 0);
  const w1 = hexWord(id, 8);
  const w2 = hexWord(id, 16);
  const w3 = hexWord(id, 24);
  // state0 = high 64 bits, stream = low 64 bits, inc = (stream << 1) | 1; state = state0 + inc.
  const incHi = ((w2 << 1) | (w3 >>> 31)) >>> 0;
  const incLo = ((w3 << 1) | 1) >>> 0;
  let sum = w1 + incLo;
  let lo = sum >>> 0;
  let hi = (w0 + incHi + (sum >= TWO_POW_32 ? 1 : 0)) >>> 0;
  // A step is state * MUL + inc (mod 2^64) in 32-bit halves: one at seeding, one after the first
  // draw (none is needed after the second).
  let high = mulHiLo(lo) + Math.imul(hi, MUL_LO) + Math.imul(lo, MUL_HI);
  sum = (Math.imul(lo, MUL_LO) >>> 0) + incLo;
  lo = sum >>> 0;
  hi = (high + incHi + (sum >= TWO_POW_32 ? 1 : 0)) >>> 0;
  const first = output(hi, lo);
  high = mulHiLo(lo) + Math.imul(hi, MUL_LO) + Math.imul(lo, MUL_HI);
  sum = (Math.imul(lo, MUL_LO) >>> 0) + incLo;
  lo = sum >>> 0;
  hi = (high + incHi + (sum >= TWO_POW_32 ? 1 : 0)) >>> 0;
  const second = output(hi, lo);
  // (u64 >> 11) * 2^-53 with u64 = first | second << 32.
  return (second * 0x20_0000 + (first >>> 11)) / 0x20_0000_0000_0000;
}
