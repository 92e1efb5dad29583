// Parses and validates the definitions document (JSON or YAML) and run-time patches, with the path of every problem.

import YAML from 'yaml';
import { validateRuleCondition } from '../../rules/condition';
import { DefinitionsError } from '../errors';
import { isPlausiblePublicKey } from '../../configs/project-state';
import { toEpochMicros } from '../../rules/time';
import type { ActivatableBias } from '../../rules/types';
import type {
  CustomRuleDefinition,
  DefinitionsDocument,
  OrganizationDefinition,
  OrganizationPatch,
  ProjectDefinition,
  ProjectPatch,
  SamplingTier,
} from './types';

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  constructor(readonly source: string | undefined) {}

  fail(path: string, detail: string): never {
    throw new DefinitionsError(path, detail, this.source);
  }

  object(v: unknown, path: string): Obj {
    if (!isObject(v)) this.fail(path, 'expected an object');
    return v;
  }

  list(v: unknown, path: string, optional = false): unknown[] {
    if (v === undefined && optional) return [];
    if (!Array.isArray(v)) this.fail(path, 'expected a list');
    return v;
  }

  id(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) this.fail(path, 'expected a positive integer id');
    return v;
  }

  rate(v: unknown, path: string): number | null | undefined {
    if (v === undefined || v === null) return v;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) this.fail(path, 'expected a sample rate in [0, 1]');
    return v;
  }

  bool(v: unknown, path: string): boolean | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(path, 'expected true or false');
    return v;
  }

  string(v: unknown, path: string, optional = true): string | undefined {
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string') this.fail(path, 'expected a string');
    return v;
  }

  date(v: unknown, path: string): string {
    const text = v instanceof Date ? v.toISOString() : v;
    if (typeof text !== 'string') this.fail(path, 'expected an RFC 3339 date');
    try {
      toEpochMicros(text);
    } catch {
      this.fail(path, `not an RFC 3339 date: ${JSON.stringify(text)}`);
    }
    return text;
  }

  biases(v: unknown, path: string): ActivatableBias[] | null | undefined {
    if (v === undefined || v === null) return v;
    return this.list(v, path).map((b, i) => {
      const o = this.object(b, `${path}[${i}]`);
      const id = this.string(o.id, `${path}[${i}].id`, false)!;
      const active = this.bool(o.active, `${path}[${i}].active`);
      if (active === undefined) this.fail(`${path}[${i}].active`, 'expected true or false');
      return { id, active };
    });
  }

  tiers(v: unknown, path: string): SamplingTier[] | null | undefined {
    if (v === undefined || v === null) return v;
    return this.list(v, path).map((t, i) => {
      const o = this.object(t, `${path}[${i}]`);
      if (typeof o.maxVolume !== 'number' || !(o.maxVolume >= 0)) this.fail(`${path}[${i}].maxVolume`, 'expected a non-negative number');
      const sampleRate = this.rate(o.sampleRate, `${path}[${i}].sampleRate`);
      if (sampleRate === undefined || sampleRate === null) this.fail(`${path}[${i}].sampleRate`, 'required');
      return { maxVolume: o.maxVolume, sampleRate };
    });
  }

  samplingMode(v: unknown, path: string): 'organization' | 'project' | undefined {
    if (v === undefined) return undefined;
    if (v !== 'organization' && v !== 'project') this.fail(path, 'expected "organization" or "project"');
    return v;
  }
}

function customRule(c: Checker, v: unknown, path: string): CustomRuleDefinition {
  const o = c.object(v, path);
  const ruleId = c.id(o.ruleId, `${path}.ruleId`);
  const reason = validateRuleCondition(o.condition);
  if (reason !== null) c.fail(`${path}.condition`, reason);
  const projects = c.list(o.projects, `${path}.projects`, true).map((p, i) => c.id(p, `${path}.projects[${i}]`));
  if (typeof o.numSamples !== 'number' || !Number.isSafeInteger(o.numSamples) || o.numSamples < 0) c.fail(`${path}.numSamples`, 'expected a non-negative integer');
  return {
    ...(o as unknown as CustomRuleDefinition),
    ruleId,
    projects,
    startDate: c.date(o.startDate, `${path}.startDate`),
    endDate: c.date(o.endDate, `${path}.endDate`),
    sampleRate: c.rate(o.sampleRate, `${path}.sampleRate`) ?? 1.0,
    isActive: c.bool(o.isActive, `${path}.isActive`) ?? true,
    conditionHash: c.string(o.conditionHash, `${path}.conditionHash`) ?? '',
  };
}

function project(c: Checker, v: unknown, path: string): ProjectDefinition {
  const o = c.object(v, path);
  const keys = c.list(o.publicKeys, `${path}.publicKeys`).map((k, i) => {
    const key = typeof k === 'string' ? k : c.string(c.object(k, `${path}.publicKeys[${i}]`).publicKey, `${path}.publicKeys[${i}].publicKey`, false)!;
    if (!isPlausiblePublicKey(key)) c.fail(`${path}.publicKeys[${i}]`, `not a public key: ${JSON.stringify(key)}`);
    if (typeof k !== 'string') c.bool((k as Obj).isEnabled, `${path}.publicKeys[${i}].isEnabled`);
    return k as string;
  });
  return {
    ...(o as unknown as ProjectDefinition),
    id: c.id(o.id, `${path}.id`),
    slug: c.string(o.slug, `${path}.slug`),
    platform: o.platform === null ? null : c.string(o.platform, `${path}.platform`),
    createdAt: c.date(o.createdAt, `${path}.createdAt`),
    publicKeys: keys,
    disabled: c.bool(o.disabled, `${path}.disabled`),
    targetSampleRate: c.rate(o.targetSampleRate, `${path}.targetSampleRate`),
    biases: c.biases(o.biases, `${path}.biases`),
    minimumSampleRate: c.bool(o.minimumSampleRate, `${path}.minimumSampleRate`),
    txNameRules:
      o.txNameRules === null || o.txNameRules === undefined
        ? undefined
        : c.list(o.txNameRules, `${path}.txNameRules`, true).map((r, i) => {
            const rule = c.object(r, `${path}.txNameRules[${i}]`);
            c.string(rule.pattern, `${path}.txNameRules[${i}].pattern`, false);
            c.object(rule.redaction, `${path}.txNameRules[${i}].redaction`);
            const expiry = c.date(rule.expiry, `${path}.txNameRules[${i}].expiry`);
            return { ...rule, expiry } as unknown as NonNullable<ProjectDefinition['txNameRules']>[number];
          }),
  };
}

function organization(c: Checker, v: unknown, path: string): OrganizationDefinition {
  const o = c.object(v, path);
  const features = o.features === undefined ? undefined : c.object(o.features, `${path}.features`);
  if (features) for (const [k, f] of Object.entries(features)) c.bool(f, `${path}.features.${k}`);
  return {
    ...(o as unknown as OrganizationDefinition),
    id: c.id(o.id, `${path}.id`),
    slug: c.string(o.slug, `${path}.slug`),
    createdAt: c.date(o.createdAt, `${path}.createdAt`),
    dynamicSampling: c.bool(o.dynamicSampling, `${path}.dynamicSampling`),
    targetSampleRate: c.rate(o.targetSampleRate, `${path}.targetSampleRate`),
    samplingMode: c.samplingMode(o.samplingMode, `${path}.samplingMode`),
    blendedSampleRate: c.rate(o.blendedSampleRate, `${path}.blendedSampleRate`),
    samplingTiers: c.tiers(o.samplingTiers, `${path}.samplingTiers`),
    projects: c.list(o.projects, `${path}.projects`, true).map((p, i) => project(c, p, `${path}.projects[${i}]`)),
    customRules: c.list(o.customRules, `${path}.customRules`, true).map((r, i) => customRule(c, r, `${path}.customRules[${i}]`)),
  };
}

/** Validates a parsed document; ids and public keys must be unique. Throws `DefinitionsError`. */
export function validateDefinitions(value: unknown, source?: string): DefinitionsDocument {
  const c = new Checker(source);
  const root = c.object(value, '');
  const organizations = c.list(root.organizations, 'organizations').map((o, i) => organization(c, o, `organizations[${i}]`));
  const relays = c.list(root.relays, 'relays', true).map((r, i) => {
    const o = c.object(r, `relays[${i}]`);
    return { relayId: c.string(o.relayId, `relays[${i}].relayId`, false)!, publicKey: c.string(o.publicKey, `relays[${i}].publicKey`, false)! };
  });
  const defaults = root.defaults === undefined ? undefined : c.object(root.defaults, 'defaults');
  const orgIds = new Set<number>();
  const projectIds = new Set<number>();
  const keys = new Set<string>();
  organizations.forEach((org, i) => {
    if (orgIds.has(org.id)) c.fail(`organizations[${i}].id`, `duplicate organization id ${org.id}`);
    orgIds.add(org.id);
    org.projects.forEach((p, j) => {
      if (projectIds.has(p.id)) c.fail(`organizations[${i}].projects[${j}].id`, `duplicate project id ${p.id}`);
      projectIds.add(p.id);
      p.publicKeys.forEach((k, n) => {
        const key = typeof k === 'string' ? k : k.publicKey;
        if (keys.has(key)) c.fail(`organizations[${i}].projects[${j}].publicKeys[${n}]`, `duplicate public key ${key}`);
        keys.add(key);
      });
    });
  });
  return {
    ...(root as unknown as DefinitionsDocument),
    organizations,
    relays,
    defaults: defaults ? { samplingTiers: c.tiers(defaults.samplingTiers, 'defaults.samplingTiers') ?? undefined } : undefined,
  };
}

/** Parses JSON or YAML text (YAML is a superset; `format` only picks the error message). */
export function parseDefinitions(text: string, source?: string): DefinitionsDocument {
  let value: unknown;
  try {
    value = source && /\.json$/i.test(source) ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new DefinitionsError('', `not JSON or YAML: ${(err as Error).message}`, source);
  }
  return validateDefinitions(value, source);
}

/** Validates an organisation patch from the API. */
export function validateOrganizationPatch(value: unknown): OrganizationPatch {
  const c = new Checker('request');
  const o = c.object(value, '');
  const patch: OrganizationPatch = {};
  for (const key of Object.keys(o)) {
    if (key === 'targetSampleRate') patch.targetSampleRate = c.rate(o[key], key) ?? null;
    else if (key === 'blendedSampleRate') patch.blendedSampleRate = c.rate(o[key], key) ?? null;
    else if (key === 'samplingMode') patch.samplingMode = c.samplingMode(o[key], key);
    else if (key === 'dynamicSampling') patch.dynamicSampling = c.bool(o[key], key);
    else c.fail(key, 'not a changeable organization option');
  }
  return patch;
}

/** Validates a project patch from the API. */
export function validateProjectPatch(value: unknown): ProjectPatch {
  const c = new Checker('request');
  const o = c.object(value, '');
  const patch: ProjectPatch = {};
  for (const key of Object.keys(o)) {
    if (key === 'targetSampleRate') patch.targetSampleRate = c.rate(o[key], key) ?? null;
    else if (key === 'minimumSampleRate') patch.minimumSampleRate = c.bool(o[key], key);
    else if (key === 'biases') patch.biases = c.biases(o[key], key) ?? null;
    else c.fail(key, 'not a changeable project option');
  }
  return patch;
}

/** Validates a bias list from the API. */
export function validateBiases(value: unknown): ActivatableBias[] {
  return new Checker('request').biases(value, 'biases') ?? [];
}

/** Validates a stored custom rule list (from Redis overrides). */
export function validateCustomRules(value: unknown, source: string): CustomRuleDefinition[] {
  const c = new Checker(source);
  return c.list(value, 'customRules').map((r, i) => customRule(c, r, `customRules[${i}]`));
}
