// Every engine vector of shared/conformance, each its own test, through the public TypeScript API.

import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadCases, runCase } from '../src/conformance/runner';

const DIR = path.resolve(__dirname, '../../shared/conformance');

for (const file of ['relay.json', 'seed-examples.json']) {
  describe(`conformance: ${file}`, () => {
    const cases = loadCases(path.join(DIR, file));
    it('has cases', () => expect(cases.length).toBeGreaterThan(0));
    for (const c of cases) {
      it(c.name, () => runCase(c));
    }
  });
}
