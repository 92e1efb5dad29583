// The package's public surface, as a user loads it (the built `dist/` through package.json's
// `exports`): the root entry is the engine alone, the services load only from their subpaths,
// and no internal helper is exported.

import { execFileSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..');

/** Requires `specifier` in a fresh Node process; returns its export names and the modules it loaded. */
function load(specifier: string): { exports: string[]; files: string[]; packages: string[] } {
  const script = `
    const before = new Set(Object.keys(require.cache));
    const api = require(${JSON.stringify(specifier)});
    const loaded = Object.keys(require.cache).filter((f) => !before.has(f));
    const files = loaded.filter((f) => !f.includes('/node_modules/')).map((f) => require('node:path').relative(${JSON.stringify(ROOT)}, f));
    const packages = [...new Set(loaded.filter((f) => f.includes('/node_modules/')).map((f) => f.split('/node_modules/').pop().split('/')[0]))];
    process.stdout.write(JSON.stringify({ exports: Object.keys(api).sort(), files: files.sort(), packages }));
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' }));
}

describe("require('dynamic-sampling')", () => {
  const root = load('dynamic-sampling');

  it('loads the engine alone: no configs, server or control modules, no dependency', () => {
    expect(root.packages).toEqual([]);
    const outside = root.files.filter((f) => !/^dist\/(index|engine\/[a-z-]+)\.js$/.test(f) && f !== 'index.js' && !f.endsWith('.node'));
    expect(outside).toEqual([]);
    expect(root.files).toContain('dist/engine/engine.js');
  });

  it('exports the documented API and no internals', () => {
    expect(root.exports).toEqual(
      [
        'CompiledSamplingConfig',
        'DECISION_NAMES',
        'DROP',
        'ENVELOPE_ERRORS',
        'ENVELOPE_KINDS',
        'EnvelopeBatch',
        'EnvelopeError',
        'KEEP',
        'KEEP_REASONS',
        'NO_MATCH',
        'OUT',
        'SPAN_REJECTIONS',
        'SamplingConfigError',
        'SamplingEngine',
        'SamplingRequestError',
        'compileSamplingConfig',
        'evaluate',
        'evaluationOrder',
        'explain',
        'isTraceFullySampled',
        'matchCondition',
        'normalizedFields',
        'parseReport',
        'parseSamplingConfig',
        'randomValue',
        'ruleCategories',
        'ruleCategory',
        'sampledReason',
        'unknownRootKey',
      ].sort(),
    );
    for (const internal of ['nativeCall', 'toRequestError', 'STRIDE', 'noop', 'native', 'handleOf', 'parametrizeTransactionName']) {
      expect(root.exports).not.toContain(internal);
    }
  });
});

describe('subpath entries', () => {
  it('dynamic-sampling/configs: createSampler and the config service, without the server or the control plane', () => {
    const configs = load('dynamic-sampling/configs');
    expect(configs.exports).toEqual(expect.arrayContaining(['createSampler', 'ProjectConfigService', 'EngineInstaller', 'KEY_STATES', 'generateRelayKeyPair']));
    expect(configs.files.filter((f) => f.startsWith('dist/server/') || f.startsWith('dist/control/'))).toEqual([]);
  });

  it('dynamic-sampling/server: startServer and its sinks, without the control plane', () => {
    const server = load('dynamic-sampling/server');
    expect(server.exports).toEqual(expect.arrayContaining(['startServer', 'UpstreamSink', 'parseSinkSpec', 'parseJsonLines']));
    expect(server.exports).not.toContain('runServer');
    expect(server.files.filter((f) => f.startsWith('dist/control/'))).toEqual([]);
  });

  it('dynamic-sampling/control: the control plane and rule generation', () => {
    const control = load('dynamic-sampling/control');
    expect(control.exports).toEqual(expect.arrayContaining(['startControlPlane', 'generateSamplingConfig']));
  });
});
