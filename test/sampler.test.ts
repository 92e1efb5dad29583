// createSampler: configs from a file source installed into the engine, root projects fetched
// on demand, envelopes of projects without a config kept.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { spanEnvelope } from '../src/demo/envelopes';
import { DROP, KEEP, NO_MATCH, OUT } from '../src/engine/engine';
import { createSampler, type Sampler } from '../src/sampler';
import { KEY, OTHER_KEY } from './helpers/engine';

const drop = { version: 2, rules: [{ id: 1, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0 } }] };

function project(projectId: number, sampling: unknown) {
  return { disabled: false, projectId, organizationId: 1, publicKeys: [{ publicKey: '', numericId: projectId }], config: { sampling } };
}

let sampler: Sampler | undefined;
afterEach(async () => {
  await sampler?.close();
  sampler = undefined;
});

describe('createSampler', () => {
  it('samples with configs from a file, fetching the trace root project on first sight', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ds-sampler-'));
    const file = path.join(dir, 'projects.json');
    writeFileSync(file, JSON.stringify({ configs: { [KEY]: project(1, { version: 2, rules: [] }), [OTHER_KEY]: project(2, drop) } }));
    sampler = createSampler({ file, logger: pino({ level: 'silent' }) });
    const own = { traceId: '67e5504410b1426f9247bb680e5fe0c8', publicKey: KEY, transaction: '/a' };
    const rooted = { ...own, publicKey: OTHER_KEY };

    // Nothing loaded yet: kept, never dropped for lack of a config.
    expect(sampler.sampleEnvelope(spanEnvelope(rooted), KEY)).toBe(NO_MATCH);
    expect(sampler.engine.result[OUT.keepReason]).toBe(1);
    await sampler.prefetch([KEY, OTHER_KEY]);

    expect(sampler.sampleEnvelope(spanEnvelope(own), KEY)).toBe(NO_MATCH);
    expect(sampler.sampleEnvelope(spanEnvelope(rooted), KEY)).toBe(DROP);
    expect(sampler.engine.projectCount).toBe(2);
  });

  it('reports a rejected config with key and rule id and keeps sampling with the previous one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ds-sampler-'));
    const file = path.join(dir, 'projects.json');
    writeFileSync(file, JSON.stringify({ configs: { [KEY]: project(1, drop) } }));
    sampler = createSampler({ file: { path: file, pollInterval: 50 }, logger: pino({ level: 'silent' }) });
    await sampler.prefetch([KEY]);
    const trace = { traceId: '67e5504410b1426f9247bb680e5fe0c8', publicKey: KEY, transaction: '/a' };
    expect(sampler.sampleEnvelope(spanEnvelope(trace), KEY)).toBe(DROP);

    const bad = { version: 2, rules: [{ id: 5, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'bogus', value: 1 } }] };
    writeFileSync(file, JSON.stringify({ configs: { [KEY]: project(1, bad) } }));
    await sampler.configs.invalidate({ publicKey: KEY });
    await sampler.prefetch([KEY]);
    await vi.waitFor(() => expect(sampler!.configs.get(KEY).rejected).toBeDefined());
    expect(sampler.configs.get(KEY).rejected).toMatchObject({ ruleId: 5, path: 'rules[0].samplingValue.type' });
    expect(sampler.sampleEnvelope(spanEnvelope(trace), KEY)).toBe(DROP);
    expect(KEEP).not.toBe(DROP);
  });

  it('needs exactly one source', () => {
    expect(() => createSampler({} as never)).toThrow(/exactly one of upstream, file or source/);
  });
});
