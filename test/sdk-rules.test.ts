// The rules the SDK samplers share: outcomes follow config changes (a rejected config leaves the
// previous one in force), unknown projects and bad options.

import { writeFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { createHeadRules, type RuleFields } from '../src/sdk';
import { sampleRate, tempDir, waitFor, writeProjects } from './helpers/server';
import { APP_KEY } from './helpers/sdk-traffic';

const fields = (over: Partial<RuleFields> = {}): RuleFields => ({
  item: 'transaction', publicKey: APP_KEY, rootKey: APP_KEY, release: 'shop@1.0.0', environment: 'production',
  dscTransaction: '/api/users/123', name: '/api/users/123', source: 'custom', op: 'http.server', method: undefined, ...over,
});

describe('head rules', () => {
  it('follow config changes, keep the previous config when a new one is rejected, and name the seed', async () => {
    const dir = tempDir('ds-sdk-');
    const project = (sampling: unknown) => ({ publicKey: APP_KEY, projectId: 1, organizationId: 1, sampling: sampling as never });
    const file = writeProjects(dir, [project({ version: 2, rules: [sampleRate(1, 'trace', 0.45)] })]);
    const rules = createHeadRules({ file: { path: file, pollInterval: 50 } });
    try {
      await rules.prefetch([APP_KEY]);
      expect(rules.outcome(fields())).toMatchObject({ loaded: true, rate: 0.45, seed: 'trace', ruleIds: [1] });

      // A transaction rule: seeded by the event id; the DSC's name is parametrized as the server does.
      writeProjects(dir, [project({ version: 2, rules: [sampleRate(7, 'transaction', 0.3, { op: 'eq', name: 'event.contexts.trace.op', value: ['queue'] }), sampleRate(2, 'trace', 0.2, { op: 'eq', name: 'trace.transaction', value: ['/api/users/*'] })] })]);
      await waitFor(() => rules.outcome(fields()).rate === 0.2, 10_000, 'the new config');
      expect(rules.outcome(fields({ op: 'queue' }))).toMatchObject({ rate: 0.3, seed: 'event', ruleIds: [7] });
      expect(rules.outcome(fields({ dscTransaction: '/other' }))).toMatchObject({ loaded: true, rate: 1, ruleIds: [] });

      // A config the engine rejects: the previous one stays in force.
      writeFileSync(file, JSON.stringify({ configs: { [APP_KEY]: { disabled: false, projectId: 1, organizationId: 1, publicKeys: [{ publicKey: APP_KEY, numericId: 1 }], config: { sampling: { version: 2, rules: [{ id: 3, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'nonsense', value: 1 } }] } } } } }));
      await waitFor(() => rules.configs.get(APP_KEY).rejected !== undefined, 10_000, 'the rejection');
      expect(rules.outcome(fields())).toMatchObject({ rate: 0.2, ruleIds: [2] });
    } finally {
      await rules.close();
    }
  });

  it('answers "not loaded" for unknown projects (the caller falls back) and decides with the fallback rate', async () => {
    const dir = tempDir('ds-sdk-');
    const file = writeProjects(dir, []);
    const rules = createHeadRules({ file, fallbackRate: 0.25 });
    try {
      const unknown = '9f1e3c2b4a5968778695a4b3c2d1e0f1';
      await rules.prefetch([unknown]);
      expect(rules.outcome(fields({ publicKey: unknown, rootKey: unknown })).loaded).toBe(false);
      const decision = rules.decide(fields({ publicKey: unknown, rootKey: unknown }), 'a'.repeat(32), () => 0.2);
      expect(decision).toMatchObject({ keep: true, rate: 0.25, random: 0.2, byRules: false });
      expect(rules.decide(fields({ publicKey: unknown, rootKey: unknown }), 'a'.repeat(32), () => 0.3).keep).toBe(false);
    } finally {
      await rules.close();
    }
  });

  it('rejects bad options with a clear error', () => {
    expect(() => createHeadRules({ file: 'x.json', fallbackRate: -1 })).toThrow(/fallbackRate must be a number in \[0, 1\], got -1/);
    expect(() => createHeadRules({ file: 'x.json', outcomeTtl: 0 })).toThrow(/outcomeTtl must be a positive number of ms/);
    expect(() => createHeadRules({ file: 'x.json', upstream: { url: 'http://127.0.0.1:1' } })).toThrow(/exactly one of upstream, file or source \(got upstream, file\)/);
  });
});
