// A seeded generator of sampling configs for the differential test against Relay's own code: valid
// configs (from the vectors and from the rule generator), and random mutations of them.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { SeededRandom } from '../../src/demo/random';
import { generateSamplingConfig } from '../../src/rules/generate';
import type { ProjectDescription } from '../../src/rules/types';


type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value));

/** Every sampling config the vector files hold (`config`, `rootConfig`, parse inputs). */
export function vectorConfigs(dir: string): Json[] {
  const out: Json[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const cases = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Array<Record<string, any>>;
    for (const c of cases) {
      for (const key of ['config', 'rootConfig']) if (c[key] && typeof c[key] === 'object') out.push(c[key]);
      if (c.kind === 'parse' && c.target === 'samplingConfig') out.push(c.input);
      if (c.kind === 'parse' && c.target === 'projectConfig' && c.input?.config?.sampling) out.push(c.input.config.sampling);
      if (c.kind === 'parse' && c.target === 'samplingRule') out.push({ version: 2, rules: [c.input] });
      if (c.kind === 'parse' && c.target === 'ruleCondition') {
        out.push({ version: 2, rules: [{ id: 1, type: 'trace', condition: c.input, samplingValue: { type: 'sampleRate', value: 0.5 } }] });
      }
      if (c.kind === 'condition') {
        out.push({ version: 2, rules: [{ id: 7, type: 'transaction', condition: c.condition, samplingValue: { type: 'factor', value: 2 } }] });
      }
    }
  }
  return out;
}

const NOW = Date.UTC(2024, 4, 1, 12);

/** Project descriptions that make the rule generator emit every bias, in many combinations. */
export function generatedConfigs(random: SeededRandom, count: number): Json[] {
  const toggles = ['boostEnvironments', 'boostLatestRelease', 'ignoreHealthChecks', 'boostLowVolumeTransactions', 'boostReplayId', 'recalibrationRule', 'minimumSampleRate'];
  const out: Json[] = [];
  for (let i = 0; i < count; i++) {
    const rate = random.pick([0, 1, 0.5, 0.1, 0.01, random.next()]);
    const description: ProjectDescription = {
      projectId: 1 + random.int(1000),
      organizationId: 1 + random.int(50),
      platform: random.pick(['python', 'javascript-react', 'java', null]),
      dateAdded: random.chance(0.2) ? new Date(NOW - 3600_000).toISOString() : '2022-01-01T00:00:00Z',
      organizationDateAdded: '2021-01-01T00:00:00Z',
      blendedSampleRate: rate,
      features: { minimumSampleRate: random.chance(0.5), healthChecksTraceBased: random.chance(0.3) },
      minimumSampleRateEnabled: random.chance(0.5),
      biases: random.chance(0.3) ? null : toggles.map((id) => ({ id, active: random.chance(0.7) })),
      customRules: [
        {
          ruleId: 1 + random.int(50),
          condition: { op: 'eq', name: 'event.environment', value: random.pick(['prod', 'staging']) },
          numSamples: 1 + random.int(500),
          startDate: new Date(NOW - 3600_000).toISOString(),
          endDate: new Date(NOW + 3600_000).toISOString(),
        },
      ],
      state: {
        rebalancedProjectRate: random.chance(0.7) ? random.next() : undefined,
        organizationRecalibrationFactor: random.chance(0.5) ? 0.5 + random.next() : undefined,
        boostedReleases: random.chance(0.6) ? [{ version: `1.${random.int(9)}`, environment: random.pick(['prod', null]), timestamp: NOW / 1000 - random.int(7200) }] : [],
        transactionRates: random.chance(0.6) ? { named: [[`/t${random.int(9)}`, random.next()]], implicit: random.next() } : null,
      },
      now: new Date(NOW).toISOString(),
    } as ProjectDescription;
    out.push(generateSamplingConfig(description) as unknown as Json);
  }
  return out;
}

/** Where a value sits in a config tree, and how to replace or delete it. */
interface Slot {
  path: string;
  key: string;
  parent: Record<string, Json> | Json[];
}

function slots(root: Json, at = ''): Slot[] {
  const out: Slot[] = [];
  if (Array.isArray(root)) {
    root.forEach((v, i) => {
      out.push({ path: `${at}[${i}]`, key: String(i), parent: root });
      out.push(...slots(v, `${at}[${i}]`));
    });
  } else if (root !== null && typeof root === 'object') {
    for (const [k, v] of Object.entries(root)) {
      out.push({ path: `${at}.${k}`, key: k, parent: root });
      out.push(...slots(v, `${at}.${k}`));
    }
  }
  return out;
}

const ODD_TIMESTAMPS = [
  '2024-01-01T00:00:00Z', '2024-01-01 00:00:00Z', '2024-01-01t00:00:00z', '2024-01-01T00:00:00+02:00', '2024-01-01T00:00:00',
  '2024-01-01', '2024-01-01T24:00:00Z', '2024-01-01T23:59:60Z', '2024-02-30T00:00:00Z', '+10000-01-01T00:00:00Z',
  '2024-01-01T00:00:00.123456789123Z', '2024-01-01T00:00:00.Z', '2024-01-01T00:00:00-00:00', '2024-01-01T00:00:00+0200',
  '2024-01-01T00:00Z', '24-01-01T00:00:00Z', '', 'yesterday', '1700000000', ' 2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z ',
  '2024-13-01T00:00:00Z', '0000-01-01T00:00:00Z', '2024-01-01T00:00:00,5Z', '2024-01-01T00:00:00.5+14:00', '2024-01-01T00:00:00+24:00',
];
const OPS = ['eq', 'glob', 'gt', 'gte', 'lt', 'lte', 'cidr', 'and', 'or', 'not', 'any', 'all', 'matches', 'custom', 'Eq', 'AND', '', 'in'];
const RULE_TYPES = ['trace', 'transaction', 'project', 'error', 'Trace', '', 'span', 'segment'];
const VALUE_TYPES = ['sampleRate', 'factor', 'minimumSampleRate', 'reservoir', 'SampleRate', 'rate', ''];
const CIDRS = ['10.0.0.0/8', '192.168.1.1', '::1', 'fe80::/10', 'not-an-address', '10.0.0.0/33', '10.0.0.0/', '/8', '10.0.0', '256.1.1.1', '10/8', '', ' 10.0.0.1', '::ffff:10.0.0.1/128', '10.0.0.1/32/1'];
const HUGE_IDS = [4294967295, 4294967296, 2 ** 53, 2 ** 64, -1, 0, 1.5, 1e21, -0.5, 1e300];

function wrongType(random: SeededRandom, old: Json): Json {
  const options: Json[] = [null, true, false, 0, -1, 1.5, 2 ** 40, '', 'x', '0.5', [], [1], ['a'], {}, { op: 'and', inner: [] }, { type: 'constant' }];
  let value = random.pick(options);
  for (let i = 0; i < 3 && JSON.stringify(value) === JSON.stringify(old); i++) value = random.pick(options);
  return value;
}

/** A key an object writes twice in its text (JSON objects in JavaScript cannot hold one). */
const DUPLICATE = Symbol('duplicate key');

/** JSON text of a config, writing the duplicate keys mutations asked for. */
export function toText(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(toText).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const parts = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${toText(v)}`);
    const dup = (value as { [DUPLICATE]?: [string, Json] })[DUPLICATE];
    if (dup) parts.push(`${JSON.stringify(dup[0])}:${toText(dup[1])}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

function duplicateKey(random: SeededRandom, config: Json): string | null {
  const objects: Array<[string, Record<string, Json>]> = [];
  const walk = (v: Json, at: string) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}[${i}]`));
    else if (v !== null && typeof v === 'object') {
      objects.push([at, v]);
      for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
    }
  };
  walk(config, '');
  if (objects.length === 0) return null;
  const [at, obj] = random.pick(objects);
  const keys = Object.keys(obj);
  const key = keys.length > 0 && random.chance(0.8) ? random.pick(keys) : random.pick(['x', 'mode', 'id', 'op', 'type', 'value']);
  const value = random.chance(0.5) && key in obj ? clone(obj[key]) : random.pick([null, 1, 'x', [], {}]);
  Object.defineProperty(obj, DUPLICATE, { value: [key, value], enumerable: false, configurable: true });
  return `duplicate key ${at}.${key}`;
}

/** Whole-config mutations: legacy `rulesV2` layouts, and the sequence form serde also reads. */
function mutateWhole(random: SeededRandom, config: Json): string | null {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return null;
  const c = config as Record<string, Json>;
  if (random.chance(0.5)) {
    // A legacy layout: the rules move to `rulesV2`, with version 1 (or none) or a newer one.
    c.rulesV2 = c.rules ?? [];
    c.rules = random.chance(0.5) || !Array.isArray(c.rulesV2) ? [] : clone(c.rulesV2).slice(0, 1);
    const version = random.pick([undefined, 1, 2, 0, 3]);
    if (version === undefined) delete c.version;
    else c.version = version;
    return `legacy rulesV2 (version ${String(version)})`;
  }
  return null;
}

/** One random mutation somewhere in the config; returns its description. */
export function mutate(random: SeededRandom, config: Json): string {
  if (random.chance(0.05)) {
    const whole = mutateWhole(random, config);
    if (whole !== null) return whole;
  }
  if (random.chance(0.04)) {
    const dup = duplicateKey(random, config);
    if (dup !== null) return dup;
  }
  const all = slots(config);
  if (all.length === 0) return 'none';
  const slot = random.pick(all);
  const { parent, key } = slot;
  const isArray = Array.isArray(parent);
  const set = (v: Json) => {
    if (isArray) (parent as Json[])[Number(key)] = v;
    else (parent as Record<string, Json>)[key] = v;
  };
  const kind = random.int(10);
  // Targeted mutations where they make sense for the slot's key.
  if (!isArray && (key === 'start' || key === 'end') && kind < 6) {
    set(random.pick(ODD_TIMESTAMPS));
    return `${slot.path} = odd timestamp`;
  }
  if (!isArray && key === 'op' && kind < 6) {
    set(random.pick(OPS));
    return `${slot.path} = op`;
  }
  if (!isArray && key === 'type' && kind < 6) {
    set(random.pick([...RULE_TYPES, ...VALUE_TYPES, 'linear', 'constant']));
    return `${slot.path} = type`;
  }
  if (!isArray && key === 'id' && kind < 6) {
    set(random.pick(HUGE_IDS));
    return `${slot.path} = huge id`;
  }
  if (!isArray && key === 'value' && kind < 3) {
    set(Array.from({ length: 1 + random.int(3) }, () => random.pick(CIDRS)));
    return `${slot.path} = cidr strings`;
  }
  switch (random.int(6)) {
    case 0:
      if (isArray) (parent as Json[]).splice(Number(key), 1);
      else delete (parent as Record<string, Json>)[key];
      return `delete ${slot.path}`;
    case 1:
      set(null);
      return `${slot.path} = null`;
    case 2: {
      const old = isArray ? (parent as Json[])[Number(key)] : (parent as Record<string, Json>)[key];
      set(wrongType(random, old));
      return `${slot.path} = wrong type`;
    }
    case 3: {
      // A cidr condition where there was a condition.
      set({ op: 'cidr', name: random.pick(['trace.user.id', 'event.user.ip_address', 'ip']), value: Array.from({ length: 1 + random.int(3) }, () => random.pick(CIDRS)) });
      return `${slot.path} = cidr condition`;
    }
    case 4: {
      // An unknown field next to the slot (ignored by Relay).
      if (!isArray) (parent as Record<string, Json>)[random.pick(['extra', 'mode', 'active', 'options', 'inner', 'name', 'limit'])] = random.pick([null, 1, 'x', {}, []]);
      return `extra field next to ${slot.path}`;
    }
    default: {
      const old = isArray ? (parent as Json[])[Number(key)] : (parent as Record<string, Json>)[key];
      set(random.pick([random.pick(OPS), random.pick(RULE_TYPES), random.pick(HUGE_IDS), random.pick(ODD_TIMESTAMPS), clone(old)]));
      return `${slot.path} = odd value`;
    }
  }
}

/** `count` configs: the valid ones first, then mutations (1 to 3 each) of random valid ones. */
export function configCorpus(seed: number, count: number, vectorsDir: string): Array<{ config: Json; text: string; mutations: string[] }> {
  const random = new SeededRandom(seed);
  const valid = [...vectorConfigs(vectorsDir), ...generatedConfigs(random, 200)];
  const out: Array<{ config: Json; text: string; mutations: string[] }> = valid.map((config) => ({ config, text: toText(config), mutations: [] }));
  while (out.length < count) {
    let config = clone(random.pick(valid));
    if (random.chance(0.01) && config !== null && typeof config === 'object' && !Array.isArray(config)) {
      // The sequence form of the config struct: [version, rules, rulesV2], possibly cut short or too long.
      const c = config as Record<string, Json>;
      config = [c.version ?? 1, c.rules ?? [], c.rulesV2 ?? [], 5].slice(0, random.int(5));
    }
    const mutations: string[] = [];
    const n = 1 + random.int(3);
    for (let i = 0; i < n; i++) mutations.push(mutate(random, config));
    out.push({ config, text: toText(config), mutations });
  }
  return out;
}
