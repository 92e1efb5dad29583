// The engine's trace-id-seeded random value (Relay's PCG32 draw, sampling.md §8) computed in
// JavaScript with 32-bit arithmetic: bit-identical to the engine, without a native call per span.

// PCG's 64-bit LCG multiplier 6364136223846793005, as two 32-bit halves.
const MUL_HI = 0x5851f42d;
const MUL_LO = 0x4c957f2d;
const TWO_POW_32 = 0x1_0000_0000;

// The generator state as two unsigned 32-bit halves; module-level scratch, so no allocation per call.
let stateHi = 0;
let stateLo = 0;
let incHi = 0;
let incLo = 0;

/** state = state * MUL + inc (mod 2^64). */
function step(): void {
  // Low 64 bits of lo*MUL_LO, in 16-bit pieces so every partial product is exact in a double.
  const a0 = stateLo & 0xffff;
  const a1 = stateLo >>> 16;
  const b0 = MUL_LO & 0xffff;
  const b1 = MUL_LO >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const lo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  let hi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  hi = (hi + Math.imul(stateHi, MUL_LO) + Math.imul(stateLo, MUL_HI)) >>> 0;
  const sum = lo + incLo;
  stateLo = sum >>> 0;
  stateHi = (hi + incHi + (sum >= TWO_POW_32 ? 1 : 0)) >>> 0;
}

/** XSH-RR output of the current state, then one step. */
function nextU32(): number {
  const hi = stateHi;
  const lo = stateLo;
  const rot = hi >>> 27;
  // ((s >> 18) ^ s) >> 27, truncated to 32 bits.
  const xHi = hi ^ (hi >>> 18);
  const xLo = lo ^ ((lo >>> 18) | (hi << 14));
  const x = ((xLo >>> 27) | (xHi << 5)) >>> 0;
  step();
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
  // state0 = high 64 bits, stream = low 64 bits, inc = (stream << 1) | 1.
  incHi = ((w2 << 1) | (w3 >>> 31)) >>> 0;
  incLo = ((w3 << 1) | 1) >>> 0;
  const sum = w1 + incLo;
  stateLo = sum >>> 0;
  stateHi = (w0 + incHi + (sum >= TWO_POW_32 ? 1 : 0)) >>> 0;
  step();
  const lo = nextU32();
  const hi = nextU32();
  // (u64 >> 11) * 2^-53 with u64 = lo | hi << 32.
  return (hi * 0x20_0000 + (lo >>> 11)) / 0x20_0000_0000_0000;
}
