// The SDK's trace-id-seeded value, computed in JavaScript, against the engine's own (Relay's PCG32).

import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { randomValue } from '../src/engine/evaluate';
import { seededRandom } from '../src/sdk';

describe('seededRandom', () => {
  it('is bit-identical to the engine on 20,000 random ids and on edge ids', () => {
    const ids = ['0'.repeat(32), 'f'.repeat(32), '8'.repeat(32), '00000000000000000000000000000001', 'ffffffffffffffff0000000000000000', '0000000000000000ffffffffffffffff'];
    for (let i = 0; i < 20_000; i++) ids.push(randomBytes(16).toString('hex'));
    const differing = ids.filter((id) => seededRandom(id) !== randomValue(id));
    expect(differing).toEqual([]);
  });

  it('gives the reference values of sampling.md §8, for upper-case and hyphenated spellings too', () => {
    expect(seededRandom('00000000000000000000000000000000')).toBe(0.21723014649319783);
    expect(seededRandom('67e5504410b1426f9247bb680e5fe0c8')).toBe(0.8117029693018862);
    expect(seededRandom('67E5504410B1426F9247BB680E5FE0C8')).toBe(0.8117029693018862);
    expect(seededRandom('67e55044-10b1-426f-9247-bb680e5fe0c8')).toBe(0.8117029693018862);
    expect(seededRandom('89143b0763095bd9c9955e8175d1fb23')).toBe(0.04604551145508151);
  });

  it('rejects what is not an id, saying what it got', () => {
    expect(() => seededRandom('67e5504410b1426f9247bb680e5fe0cg')).toThrow(/not a trace or event id \(32 hex digits\): "67e5504410b1426f9247bb680e5fe0cg"/);
    expect(() => seededRandom('abc')).toThrow(/not a trace or event id/);
    expect(() => seededRandom(42 as never)).toThrow(/not a trace or event id/);
  });
});
