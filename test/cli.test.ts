// The command line: `dynamic-sampling explain` and `npm run conformance`, as users run them.

import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist/cli.js');
const CONFORMANCE = path.join(ROOT, 'dist/conformance/cli.js');
const VECTORS = path.join(ROOT, 'test/vectors');

const config = { version: 2, rules: [{ id: 1000, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0.5 } }] };
const dsc = { trace_id: '67e5504410b1426f9247bb680e5fe0c8', public_key: 'abd0f232775f45feab79864e580d160b' };

describe('dynamic-sampling explain', () => {
  it('reads one JSON object and prints the decision with its explanation', () => {
    const out = execFileSync('node', [CLI, 'explain'], { input: JSON.stringify({ rootConfig: config, dsc, now: '2024-01-01T00:00:00Z' }) }).toString();
    const result = JSON.parse(out);
    expect(result).toMatchObject({ decision: 'drop', sampleRate: 0.5, matchedRuleIds: [1000], randomValue: 0.8117029693018862 });
    expect(result.explain).toEqual([{ stage: 'trace', ruleId: 1000, type: 'sampleRate', value: 0.5, factor: 1, applied: true }]);
  });

  it('reads JSON Lines and reports bad lines without stopping', () => {
    const lines = [JSON.stringify({ rootConfig: config, dsc }), '{oops', JSON.stringify({ rootConfig: config, dsc: { ...dsc, trace_id: '89143b0763095bd9c9955e8175d1fb23' } })].join('\n');
    const run = spawnSync('node', [CLI, 'explain'], { input: lines });
    const results = run.stdout.toString().trim().split('\n').map((l) => JSON.parse(l));
    expect(results.map((r) => r.decision ?? r.error?.slice(0, 14))).toEqual(['drop', 'not valid JSON', 'keep']);
    expect(results[1].line).toBe(2);
    expect(run.status).toBe(1);
  });
});

describe('examples/quick-start.js', () => {
  it('runs as the README shows', () => {
    const out = execFileSync('node', [path.join(ROOT, 'examples/quick-start.js')]).toString();
    expect(out.split('\n')[0]).toBe('drop at rate 0.25 rules [ 1000 ]');
    expect(out).toContain("decision: 'keep'");
  });
});

describe('npm run conformance', () => {
  it('ends with the count line', () => {
    const out = execFileSync('node', [CONFORMANCE, path.join(VECTORS, 'relay.json'), path.join(VECTORS, 'seed-examples.json')]).toString();
    expect(out.trim().split('\n').at(-1)).toBe('112 passed, 0 failed');
  });

  it('passes every vector file of test/vectors', () => {
    const files = ['rebalancing.json', 'relay-2026.json', 'relay.json', 'seed-examples.json'].map((f) => path.join(VECTORS, f));
    const out = execFileSync('node', [CONFORMANCE, ...files]).toString();
    expect(out.trim().split('\n').at(-1)).toBe('128 passed, 0 failed');
  });

  it('fails when a case fails', () => {
    const run = spawnSync('node', [CONFORMANCE, path.join(ROOT, 'test/fixtures/failing-vectors.json')]);
    expect(run.stdout.toString().trim().split('\n').at(-1)).toBe('1 passed, 1 failed');
    expect(run.status).toBe(1);
  });
});
