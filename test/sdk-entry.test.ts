// The `dynamic-sampling/sdk` entry of the built package: resolved through package.json `exports`,
// loaded only when asked for, and loading @sentry/node only when a Sentry sampler runs.

import { execFileSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..');

/** Runs a snippet with the package root as working directory; returns its last line of output, as JSON. */
function inNode(code: string): unknown {
  const lines = execFileSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const loaded = `(part) => Object.keys(require.cache).filter((k) => k.includes(part)).length`;

describe('the dynamic-sampling/sdk entry (dist/, after npm run build)', () => {
  it('is not loaded by the main entry', () => {
    expect(inNode(`require('dynamic-sampling'); const n = ${loaded}; console.log(JSON.stringify([n('/dist/sdk/'), n('/@sentry/node/')]))`)).toEqual([0, 0]);
  });

  it('resolves through exports and loads @sentry/node only with the samplers that use it', () => {
    const code = `
      const sdk = require('dynamic-sampling/sdk');
      const n = ${loaded};
      const before = n('/@sentry/');
      const rules = sdk.createHeadRules({ file: 'examples/projects.json' });
      sdk.createOtelSampler({ rules, publicKey: 'e12d836b15bb49d7bbf99e64295d995b' });
      const afterOtel = n('/@sentry/');
      rules.close().then(() => console.log(JSON.stringify({ exports: Object.keys(sdk).sort(), before, afterOtel })));`;
    expect(inNode(code)).toEqual({
      exports: ['DynamicSamplingOtelSampler', 'EXPLICIT_DECISION_ATTRIBUTE', 'HeadRules', 'createErrorSampler', 'createHeadRules', 'createOtelSampler', 'createTracesSampler', 'seededRandom'],
      before: 0,
      afterOtel: 0,
    });
  });
});
