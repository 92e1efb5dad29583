// Relay's seeded random value: PCG32 (`rand_pcg::Lcg64Xsh32`) seeded from a 128-bit id, with the
// 64-bit state kept as two unsigned 32-bit halves (no BigInt on the hot path).

// The LCG multiplier 6364136223846793005 as 32-bit halves.
const MUL_HI = 0x5851f42d;
const MUL_LO = 0x4c957f2d;
const TWO_32 = 4294967296;

/** PCG32 with 64-bit state; `hi`/`lo` are the halves of the state, `incHi`/`incLo` of the increment. */
export class Pcg32 {
  private hi = 0;
  private lo = 0;
  private incHi = 0;
  private incLo = 0;

  /** Seeds like `Pcg32::new(state, stream)`, each 64-bit argument given as two 32-bit halves. */
  seed(stateHi: number, stateLo: number, streamHi: number, streamLo: number): this {
    // inc = (stream << 1) | 1
    this.incHi = ((streamHi << 1) | (streamLo >>> 31)) >>> 0;
    this.incLo = ((streamLo << 1) | 1) >>> 0;
    // state = state0 + inc, then one step
    const lo = stateLo + this.incLo;
    this.lo = lo >>> 0;
    this.hi = (stateHi + this.incHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    this.step();
    return this;
  }

  /** state = state * MUL + inc (mod 2^64). */
  private step(): void {
    const al = this.lo;
    const ah = this.hi;
    // 32x32 → 64 product of the low halves, through 16-bit pieces (every partial sum stays exact).
    const a0 = al & 0xffff;
    const a1 = al >>> 16;
    const b0 = MUL_LO & 0xffff;
    const b1 = MUL_LO >>> 16;
    const mid = a0 * b1 + a1 * b0;
    const low = a0 * b0 + (mid % 65536) * 65536;
    const carry = Math.floor(low / TWO_32);
    let hi = a1 * b1 + Math.floor(mid / 65536) + carry + Math.imul(ah, MUL_LO) + Math.imul(al, MUL_HI);
    let lo = low >>> 0;
    // + inc
    lo += this.incLo;
    hi += this.incHi + (lo > 0xffffffff ? 1 : 0);
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** The next 32-bit output (XSH-RR of the state before stepping). */
  nextU32(): number {
    const h = this.hi;
    const l = this.lo;
    this.step();
    const rot = h >>> 27;
    // ((s >> 18) ^ s) >> 27, truncated to 32 bits
    const xh = h ^ (h >>> 18);
    const xl = l ^ ((l >>> 18) | (h << 14));
    const x = ((xl >>> 27) | (xh << 5)) >>> 0;
    return ((x >>> rot) | (x << ((32 - rot) & 31))) >>> 0;
  }

  /** A uniform float in [0, 1) with 53 bits: `(u64 >> 11) * 2^-53` (rand 0.9). */
  nextF64(): number {
    const lo = this.nextU32();
    const hi = this.nextU32();
    return (hi * 2097152 + (lo >>> 11)) / 9007199254740992;
  }
}

const shared = new Pcg32();

function hexWord(text: string, at: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const c = text.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * A UUID (32 hex digits, or hyphenated; braces and `urn:uuid:` accepted like the uuid crate) as
 * four 32-bit words, big-endian; `undefined` when it is not one.
 */
export function parseUuid(text: string): [number, number, number, number] | undefined {
  let t = text;
  if (t.length !== 32) {
    if (t.startsWith('urn:uuid:')) t = t.slice(9);
    if (t.length === 38 && t.charCodeAt(0) === 123 && t.charCodeAt(37) === 125) t = t.slice(1, 37);
    if (t.length === 36) {
      if (t[8] !== '-' || t[13] !== '-' || t[18] !== '-' || t[23] !== '-') return undefined;
      t = t.slice(0, 8) + t.slice(9, 13) + t.slice(14, 18) + t.slice(19, 23) + t.slice(24);
    }
    if (t.length !== 32) return undefined;
  }
  const w0 = hexWord(t, 0);
  const w1 = hexWord(t, 8);
  const w2 = hexWord(t, 16);
  const w3 = hexWord(t, 24);
  if (w0 < 0 || w1 < 0 || w2 < 0 || w3 < 0) return undefined;
  return [w0, w1, w2, w3];
}

/** The random value Relay compares with the rate for this id (given as four 32-bit words). */
export function randomValueWords(w0: number, w1: number, w2: number, w3: number): number {
  return shared.seed(w0, w1, w2, w3).nextF64();
}

/** The random value Relay compares with the rate for this UUID; NaN if it is not one. */
export function randomValue(uuid: string): number {
  const w = parseUuid(uuid);
  return w === undefined ? Number.NaN : randomValueWords(w[0], w[1], w[2], w[3]);
}
