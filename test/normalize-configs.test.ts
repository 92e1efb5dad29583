// Transaction-name rules (`txNameRules`) travel with the sampling config from every config source
// into the engine, where they change what `trace.transaction` and `event.transaction` read as.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { parseProjectState, type ParsedProjectState } from '../src/configs/project-state';
import { UpstreamClient } from '../src/configs/upstream';
import { startControlPlane, type ControlPlane } from '../src/control/control-plane';
import { DROP, KEEP, SamplingEngine } from '../src/engine/engine';
import type { SamplingConfigJson, TxNameRuleJson } from '../src/engine/types';
import { createSampler, type Sampler } from '../src/sampler';
import { FakeUpstream } from './helpers/upstream';
import { orgDef, projectDef, keyFor, silentLogger } from './helpers/control';

const RULES: TxNameRuleJson[] = [{ pattern: '/orgs/*/**', expiry: '2099-01-01T00:00:00Z', redaction: { method: 'replace', substitution: '*' } }];
const KEY = 'abd0f232775f45feab79864e580d160b';
const TRACE_ID = '67e5504410b1426f9247bb680e5fe0c8';

/** Drops traces whose (normalized) name is `/orgs/*\/settings`, keeps the rest. */
const CONFIG: SamplingConfigJson = {
  version: 2,
  rules: [
    { id: 1, type: 'trace', condition: { op: 'eq', name: 'trace.transaction', value: ['/orgs/*/settings'] }, samplingValue: { type: 'sampleRate', value: 0 } },
    { id: 2, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 1 } },
  ],
};

function spanEnvelope(transaction: string): Buffer {
  const header = { trace: { trace_id: TRACE_ID, public_key: KEY, transaction } };
  const items = { items: [{ trace_id: TRACE_ID, span_id: '0123456789abcdef', name: 'x' }] };
  return Buffer.from(`${JSON.stringify(header)}\n${JSON.stringify({ type: 'span', item_count: 1 })}\n${JSON.stringify(items)}\n`);
}

let plane: ControlPlane | undefined;
afterEach(async () => {
  await plane?.close();
  plane = undefined;
});

describe('txNameRules from project configs', () => {
  it('are read from a project state next to the sampling config', () => {
    const state = parseProjectState(KEY, { projectId: 1, organizationId: 1, config: { sampling: CONFIG, txNameRules: RULES } }) as Extract<ParsedProjectState, { disabled: false }>;
    expect(JSON.parse(state.txNameRulesJson!)).toEqual(RULES);
    const none = parseProjectState(KEY, { projectId: 1, config: { sampling: CONFIG, txNameRules: [] } }) as Extract<ParsedProjectState, { disabled: false }>;
    expect(none.txNameRulesJson).toBeNull();
  });

  it('rewrite the DSC name before rules match, in the engine', () => {
    const engine = new SamplingEngine();
    engine.putProject(KEY, { projectId: 1, organizationId: 1 }, CONFIG);
    // Without rules only identifiers are scrubbed: `acme` stays, the rule does not match.
    expect(engine.sampleEnvelope(spanEnvelope('/orgs/acme/settings'), KEY)).toBe(KEEP);
    expect(engine.sampleEnvelope(spanEnvelope('/orgs/12345/settings'), KEY)).toBe(DROP);
    engine.putProject(KEY, { projectId: 1, organizationId: 1 }, CONFIG, RULES);
    expect(engine.sampleEnvelope(spanEnvelope('/orgs/acme/settings'), KEY)).toBe(DROP);
    expect(Array.from(engine.matchedRuleIds.subarray(0, engine.result[6]))).toEqual([1]);
    // Expired rules no longer apply.
    engine.putProject(KEY, { projectId: 1, organizationId: 1 }, CONFIG, [{ ...RULES[0], expiry: '2020-01-01T00:00:00Z' }]);
    expect(engine.sampleEnvelope(spanEnvelope('/orgs/acme/settings'), KEY)).toBe(KEEP);
  });

  it('are served by the control plane from project definitions', async () => {
    plane = await startControlPlane({
      definitions: { organizations: [orgDef(1, [projectDef(101, { txNameRules: RULES }), projectDef(102)], { targetSampleRate: 0.5 })] },
      tokens: ['t'],
      schedule: 'none',
      logger: silentLogger,
      recorderFlushIntervalMs: 0,
    });
    const client = new UpstreamClient({ url: plane.url, token: 't' });
    try {
      const answer = await client.fetchConfigs([keyFor(101), keyFor(102)], [null, null], true);
      const withRules = answer.configs.get(keyFor(101)) as Extract<ParsedProjectState, { disabled: false }>;
      const without = answer.configs.get(keyFor(102)) as Extract<ParsedProjectState, { disabled: false }>;
      expect(JSON.parse(withRules.txNameRulesJson!)).toEqual(RULES);
      expect(withRules.samplingJson).not.toBeNull();
      expect(without.txNameRulesJson).toBeNull();
    } finally {
      client.close();
    }
  });

  it('reach the engine through the sampler from every source: a file and an upstream', async () => {
    const state = { projectId: 1, organizationId: 1, config: { sampling: CONFIG, txNameRules: RULES } };
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ds-txnames-')), 'projects.json');
    writeFileSync(file, JSON.stringify({ configs: { [KEY]: state } }));
    const upstream = new FakeUpstream();
    upstream.configs.set(KEY, state);
    const url = await upstream.start();
    const samplers: Sampler[] = [createSampler({ file, logger: silentLogger }), createSampler({ upstream: { url, batchInterval: 1 }, logger: silentLogger })];
    try {
      for (const sampler of samplers) {
        await sampler.prefetch([KEY]);
        expect(sampler.configs.get(KEY).state).toBe('fresh');
        expect(sampler.sampleEnvelope(spanEnvelope('/orgs/acme/settings'), KEY)).toBe(DROP);
        expect(sampler.sampleEnvelope(spanEnvelope('/users/acme/settings'), KEY)).toBe(KEEP);
      }
    } finally {
      await Promise.all(samplers.map((s) => s.close()));
      await upstream.stop();
    }
  });
});
