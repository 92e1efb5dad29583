// Every vector file of test/vectors (copies of shared/conformance that travel with the project),
// each case its own test, through the public TypeScript API; and the copies are checked against
// ../shared/conformance whenever that folder exists.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadCases, runCase } from '../src/conformance/runner';

const ROOT = path.resolve(__dirname, '..');
const VECTORS = path.join(ROOT, 'test/vectors');
const SHARED = path.resolve(ROOT, '../shared/conformance');
const FILES = readdirSync(VECTORS).filter((f) => f.endsWith('.json')).sort();

describe('the vectors travel with the project', () => {
  it('holds every engine vector file', () => {
    expect(FILES).toEqual(expect.arrayContaining(['relay.json', 'seed-examples.json', 'relay-2026.json', 'rebalancing.json']));
  });

  it.runIf(existsSync(SHARED))('the copies equal ../shared/conformance', () => {
    const shared = readdirSync(SHARED).filter((f) => f.endsWith('.json') || f === 'README.md').sort();
    const local = readdirSync(VECTORS).filter((f) => f.endsWith('.json') || f === 'README.md').sort();
    expect(local).toEqual(shared);
    for (const file of shared) {
      expect(readFileSync(path.join(VECTORS, file), 'utf8'), file).toBe(readFileSync(path.join(SHARED, file), 'utf8'));
    }
  });
});

for (const file of FILES) {
  describe(`conformance: ${file}`, () => {
    const cases = loadCases(path.join(VECTORS, file));
    it('has cases', () => expect(cases.length).toBeGreaterThan(0));
    for (const c of cases) {
      it(c.name, () => runCase(c));
    }
  });
}
