// Definitions: parsing and validation, custom rules (§9), persistence of changes in the file, and wiring into rule generation.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { conditionHash, deactivateOldRules, queryToCondition, upsertCustomRule } from '../src/control/definitions/custom-rules';
import { FilePersistence, RedisPersistence, type DefinitionsChange, type DefinitionsPersistence, type StoredOverrides } from '../src/control/definitions/persistence';
import { Definitions } from '../src/control/definitions/repository';
import { parseDefinitions } from '../src/control/definitions/validate';
import { DefinitionsError, TooManyRulesError, UnsupportedQueryError } from '../src/control/errors';
import { generateRulesDetailed } from '../src/rules/generate';
import { describeProject } from '../src/control/serving/describe-project';
import { DynamicSamplingState } from '../src/control/state/ds-state';
import { ReleaseBoosts } from '../src/control/state/releases';
import { MemoryKeyValueStore } from '../src/control/store/memory-kv';
import { evaluate } from '../src/engine/evaluate';
import { keyFor, orgDef, projectDef, sampleDefinitions, TestClock } from './helpers/control';

const YAML_TEXT = `# The organisations this control plane serves.
relays:
  - relayId: relay-1
    publicKey: ${'A'.repeat(43)}
organizations:
  - id: 1
    slug: acme
    createdAt: 2022-01-01T00:00:00Z
    targetSampleRate: 0.2 # the plan
    projects:
      - id: 11
        slug: api
        platform: python
        createdAt: 2023-01-01T00:00:00Z
        publicKeys: [${keyFor(11)}]
      - id: 12
        createdAt: 2023-01-01T00:00:00Z
        publicKeys:
          - publicKey: ${keyFor(12)}
            numericId: 3
`;

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dsctl-'));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('parsing definitions', () => {
  it('reads YAML and JSON with the same meaning', async () => {
    const yaml = parseDefinitions(YAML_TEXT, 'defs.yaml');
    expect(yaml.organizations[0]).toMatchObject({ id: 1, targetSampleRate: 0.2, projects: [{ id: 11, platform: 'python' }, { id: 12 }] });
    const json = parseDefinitions(JSON.stringify(yaml), 'defs.json');
    expect(json).toEqual(yaml);
    const definitions = await Definitions.load(tempFile('defs.yml', YAML_TEXT));
    expect(definitions.resolveKey(keyFor(12))).toMatchObject({ key: { numericId: 3 }, project: { id: 12 }, organization: { id: 1 } });
    expect(definitions.relays).toEqual([{ relayId: 'relay-1', publicKey: 'A'.repeat(43) }]);
  });

  it('reports the path of every problem', () => {
    const bad = (doc: unknown): DefinitionsError => {
      try {
        parseDefinitions(JSON.stringify(doc), 'x.json');
      } catch (e) {
        return e as DefinitionsError;
      }
      throw new Error('accepted');
    };
    expect(bad({}).path).toBe('organizations');
    expect(bad({ organizations: [orgDef(1, [projectDef(2, { targetSampleRate: 1.5 })])] }).path).toBe('organizations[0].projects[0].targetSampleRate');
    expect(bad({ organizations: [orgDef(1, [projectDef(2)]), orgDef(3, [projectDef(2)])] }).message).toMatch(/duplicate project id 2/);
    expect(bad({ organizations: [orgDef(1, [projectDef(2), projectDef(3, { publicKeys: [keyFor(2)] })])] }).message).toMatch(/duplicate public key/);
    expect(bad({ organizations: [orgDef(1, [projectDef(2, { createdAt: 'yesterday' })])] }).path).toBe('organizations[0].projects[0].createdAt');
    expect(bad({ organizations: [orgDef(1, [], { samplingMode: 'team' as never })] }).path).toBe('organizations[0].samplingMode');
    expect(bad({ organizations: [orgDef(1, [projectDef(2, { publicKeys: ['not a key!'] })])] }).path).toBe('organizations[0].projects[0].publicKeys[0]');
    expect(() => parseDefinitions('organizations: [', 'x.yaml')).toThrow(DefinitionsError);
  });
});

describe('custom rules', () => {
  const condition = { op: 'eq' as const, name: 'event.transaction', value: ['/x'] };
  const now = Date.UTC(2024, 4, 1, 12);
  const request = (over: object = {}) => ({ condition, projects: [11], start: now, end: now + 3600_000, numSamples: 100, sampleRate: 1, ...over });

  it('hash conditions and projects independently of order', () => {
    const a = { op: 'and' as const, inner: [condition, { op: 'eq' as const, name: 'event.release', value: ['1', '2'] }] };
    const b = { op: 'and' as const, inner: [{ value: ['2', '1'], name: 'event.release', op: 'eq' as const }, condition] };
    expect(conditionHash(a, [1, 2])).toBe(conditionHash(b, [2, 1]));
    expect(conditionHash(a, [1])).not.toBe(conditionHash(a, [2]));
  });

  it('extend a live rule with the same hash, else take the smallest free id', () => {
    const org = orgDef(1, [projectDef(11), projectDef(12)]);
    const first = upsertCustomRule(org, request(), now);
    expect(first).toMatchObject({ created: true, rule: { ruleId: 1, isActive: true } });
    org.customRules = first.rules;
    const extended = upsertCustomRule(org, request({ end: now + 7200_000, numSamples: 50, sampleRate: 0.5 }), now);
    expect(extended).toMatchObject({ created: false, rule: { ruleId: 1, numSamples: 100, sampleRate: 1, endDate: new Date(now + 7200_000).toISOString() } });
    org.customRules = extended.rules;
    const second = upsertCustomRule(org, request({ projects: [12] }), now);
    expect(second.rule.ruleId).toBe(2);
    org.customRules = second.rules;
    // Rule 1 expired: its id is free again.
    const later = upsertCustomRule(org, request({ projects: [], start: now + 3 * 3600_000, end: now + 4 * 3600_000 }), now + 3 * 3600_000);
    expect(later.rule.ruleId).toBe(1);
  });

  it('refuse a 51st rule for a project (organisation rules count for every project)', () => {
    const org = orgDef(1, [projectDef(11), projectDef(12)]);
    for (let i = 0; i < 49; i++) org.customRules = upsertCustomRule(org, request({ condition: { ...condition, value: [`/p${i}`] } }), now).rules;
    org.customRules = upsertCustomRule(org, request({ projects: [], condition: { ...condition, value: ['/org'] } }), now).rules;
    expect(() => upsertCustomRule(org, request({ condition: { ...condition, value: ['/one-more'] } }), now)).toThrow(TooManyRulesError);
    expect(upsertCustomRule(org, request({ projects: [12], condition: { ...condition, value: ['/one-more'] } }), now).created).toBe(true);
    expect(() => upsertCustomRule(org, request({ projects: [], condition: { ...condition, value: ['/org2'] } }), now)).toThrow(TooManyRulesError);
  });

  it('are deactivated a minute after their end', () => {
    const org = orgDef(1, [projectDef(11)]);
    const { rules } = upsertCustomRule(org, request(), now);
    expect(deactivateOldRules(rules, now + 3600_000 + 59_000).deactivated).toEqual([]);
    expect(deactivateOldRules(rules, now + 3600_000 + 61_000).rules[0].isActive).toBe(false);
  });

  it('that have not started yet are not active (Sentry filters start < now)', async () => {
    const definitions = await Definitions.load(sampleDefinitions());
    const future = { condition, projects: [101], start: now + 3600_000, end: now + 2 * 3600_000, numSamples: 10, sampleRate: 1 };
    await definitions.upsertCustomRule(1, future, now);
    await definitions.upsertCustomRule(1, { ...future, condition: { ...condition, value: ['/started'] }, start: now - 1000 }, now);
    const { project, organization } = definitions.project(101)!;
    expect(definitions.customRulesFor(project, organization, now).map((r) => r.condition)).toEqual([{ ...condition, value: ['/started'] }]);
    expect(definitions.customRulesFor(project, organization, now + 3600_000 + 1).length).toBe(2);
  });

  it('translate small queries to Relay conditions', () => {
    expect(queryToCondition('')).toEqual({ op: 'and', inner: [] });
    expect(queryToCondition('event.type:transaction transaction:"/a b"')).toEqual({ op: 'eq', name: 'event.transaction', value: ['/a b'], options: { ignoreCase: true } });
    expect(queryToCondition('release:1.* AND http.method:GET')).toEqual({
      op: 'and',
      inner: [
        { op: 'glob', name: 'event.release', value: ['1.*'] },
        { op: 'eq', name: 'event.request.method', value: ['GET'], options: { ignoreCase: true } },
      ],
    });
    expect(() => queryToCondition('user.email:x')).toThrow(UnsupportedQueryError);
    expect(() => queryToCondition('event.type:error')).toThrow(UnsupportedQueryError);
  });
});

/** Redis persistence whose loads can be held after reading (a reload that read the store, then was slow to apply it). */
class HeldLoads implements DefinitionsPersistence {
  readonly kind = 'redis' as const;
  hold: Promise<void> | null = null;
  constructor(private readonly inner: RedisPersistence) {}
  async load(): Promise<StoredOverrides> {
    const read = await this.inner.load();
    if (this.hold) await this.hold;
    return read;
  }
  save(change: DefinitionsChange): Promise<void> {
    return this.inner.save(change);
  }
  subscribe(listener: () => void): Promise<() => Promise<void>> {
    return this.inner.subscribe(listener);
  }
}

describe('changes persisted in Redis', () => {
  it('a reload that read the store before a local change does not undo that change', async () => {
    const persistence = new HeldLoads(new RedisPersistence(new MemoryKeyValueStore()));
    const definitions = await Definitions.load(sampleDefinitions(), persistence);
    let release!: () => void;
    persistence.hold = new Promise((resolve) => (release = resolve));
    const reload = definitions.reload(); // reads the store now, applies it once released
    await new Promise((resolve) => setImmediate(resolve));
    const change = definitions.updateOrganization(1, { targetSampleRate: 0.77 });
    release();
    await Promise.all([reload, change]);
    expect(definitions.organization(1)!.targetSampleRate).toBe(0.77);
  });
});

describe('changes persisted in the file', () => {
  it('edit YAML in place, keeping comments, and survive a reload', async () => {
    const file = tempFile('defs.yaml', YAML_TEXT);
    const definitions = await Definitions.load(file, new FilePersistence(file));
    const events: string[] = [];
    definitions.onChange((e) => events.push(`${e.trigger}:${JSON.stringify(e.scope)}`));
    await definitions.updateOrganization(1, { targetSampleRate: 0.05, samplingMode: 'project' });
    await definitions.setBiases(11, [{ id: 'boostEnvironments', active: false }]);
    await definitions.updateProject(12, { targetSampleRate: 0.5 });
    await definitions.upsertCustomRule(1, { condition: { op: 'eq', name: 'event.transaction', value: ['/x'] }, projects: [11], start: 0, end: Date.UTC(2030, 0, 1), numSamples: 10, sampleRate: 1 }, 1000);
    expect(events).toEqual([
      'organizationoption.update:{"organizationId":1}',
      'projectoption.update:{"projectId":11}',
      'projectoption.update:{"projectId":12}',
      'dynamic_sampling:custom_rule_upsert:{"projectId":11}',
    ]);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# The organisations this control plane serves.');
    expect(text).toContain('targetSampleRate: 0.05');
    const reloaded = await Definitions.load(file);
    expect(reloaded.organization(1)).toMatchObject({ targetSampleRate: 0.05, samplingMode: 'project' });
    expect(reloaded.project(11)!.project.biases).toEqual([{ id: 'boostEnvironments', active: false }]);
    expect(reloaded.project(12)!.project.targetSampleRate).toBe(0.5);
    expect(reloaded.organization(1)!.customRules).toHaveLength(1);
    // Clearing an option removes it.
    await definitions.updateOrganization(1, { targetSampleRate: null });
    expect((await Definitions.load(file)).organization(1)!.targetSampleRate).toBeUndefined();
  });

  it('rewrite JSON files', async () => {
    const file = tempFile('defs.json', JSON.stringify(sampleDefinitions()));
    const definitions = await Definitions.load(file, new FilePersistence(file));
    await definitions.updateProject(101, { minimumSampleRate: true });
    expect(JSON.parse(readFileSync(file, 'utf8')).organizations[0].projects[0].minimumSampleRate).toBe(true);
  });
});

describe('rule generation from definitions and stored state', () => {
  it('uses the rebalanced rate, the factor, transaction rates, releases and custom rules', async () => {
    const clock = new TestClock(Date.UTC(2024, 4, 1, 12));
    const kv = new MemoryKeyValueStore(clock.now);
    const state = new DynamicSamplingState(kv);
    const releases = new ReleaseBoosts(kv);
    const definitions = await Definitions.load(sampleDefinitions());
    await definitions.upsertCustomRule(1, { condition: { op: 'eq', name: 'event.transaction', value: ['/x'] }, projects: [], start: clock.now() - 1000, end: clock.now() + 3600_000, numSamples: 5, sampleRate: 1 }, clock.now());
    await state.setProjectRate(1, 101, 0.05);
    await state.setFactor({ organizationId: 1 }, 0.8);
    await state.setTransactionRates(1, 101, [['/big', 0.01]], 0.1);
    await releases.observe({ projectId: 101, release: '2.0', environment: 'production', platform: 'python', at: clock.now() - 60_000 });

    const { project, organization } = definitions.project(101)!;
    const description = await describeProject({ definitions, state, releases }, project, organization, clock.now());
    const result = generateRulesDetailed(description, { reservoir: true });
    expect(result.baseSampleRate).toEqual({ rate: 0.05, source: 'rebalanced' });
    expect(result.config.rules.map((r) => r.id)).toEqual([3001, 1002, 1005, 1001, 1004, 1500, 1400, 1401, 1000]);
    expect(result.config.rules.find((r) => r.id === 1004)!.samplingValue).toEqual({ type: 'factor', value: 0.8 });
    expect(result.config.rules.find((r) => r.id === 1401)!.samplingValue).toEqual({ type: 'factor', value: 2 }); // 0.1 / 0.05

    // The generated rules sample as intended: /big at 1% × 0.8, others at 10% × 0.8, the new release × 1.5^0.95.
    const dsc = { trace_id: '67e5504410b1426f9247bb680e5fe0c8', public_key: keyFor(101), environment: 'production' };
    const rate = (extra: object) => evaluate({ rootConfig: result.config as never, dsc: { ...dsc, ...extra }, now: new Date(clock.now()), reservoir: true }).sampleRate!;
    expect(rate({ transaction: '/big' })).toBeCloseTo(0.01 * 0.8, 12);
    expect(rate({ transaction: '/other' })).toBeCloseTo(0.1 * 0.8, 12);
    expect(rate({ transaction: '/other', release: '2.0' }) / rate({ transaction: '/other' })).toBeGreaterThan(1.4);
    expect(rate({ transaction: '/other', environment: 'dev' })).toBe(1);
  });

  it('serves new projects at 100% and project-mode organisations at their project targets', async () => {
    const clock = new TestClock(Date.UTC(2024, 4, 1, 12));
    const kv = new MemoryKeyValueStore(clock.now);
    const deps = { state: new DynamicSamplingState(kv), releases: new ReleaseBoosts(kv) };
    const definitions = await Definitions.load({
      organizations: [
        orgDef(1, [projectDef(11, { createdAt: new Date(clock.now() - 5 * 60_000).toISOString() })], { targetSampleRate: 0.1 }),
        orgDef(2, [projectDef(21, { targetSampleRate: 0.3 })], { samplingMode: 'project', targetSampleRate: 0.1 }),
      ],
    });
    await deps.state.setFactor({ projectId: 21 }, 1.25);
    const rules = async (id: number) => {
      const { project, organization } = definitions.project(id)!;
      return generateRulesDetailed(await describeProject({ definitions, ...deps }, project, organization, clock.now()));
    };
    expect((await rules(11)).config.rules).toEqual([{ id: 1000, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 1 } }]);
    const projectMode = await rules(21);
    expect(projectMode.baseSampleRate).toEqual({ rate: 0.3, source: 'projectTarget' });
    expect(projectMode.config.rules.find((r) => r.id === 1004)!.samplingValue).toEqual({ type: 'factor', value: 1.25 });
  });
});
