// Sampling configs: parsed and validated like Relay (rejected / unsupported / supported), then
// compiled: rules split by stage, and rules that are one string `eq` indexed by value.

import { compileCondition, ConfigError, fold, type Matcher } from './condition';
import { parseRfc3339, type Field, type Instance } from './fields';

export { ConfigError };

export const SAMPLE_RATE = 0;
export const FACTOR = 1;
export const MINIMUM = 2;
export const RESERVOIR = 3;

export const STAGE_TRANSACTION = 0;
export const STAGE_PROJECT = 1;
export const STAGE_TRACE = 2;
export const STAGE_NAMES = ['transaction', 'project', 'trace'] as const;

const RULE_TYPES: Record<string, number> = { transaction: STAGE_TRANSACTION, project: STAGE_PROJECT, trace: STAGE_TRACE };

export interface Rule {
  id: number;
  /** STAGE_*, or -1 for a type this engine does not know. */
  stage: number;
  /** SAMPLE_RATE, FACTOR, MINIMUM or RESERVOIR. */
  kind: number;
  /** The rate or factor (the limit for reservoirs). */
  value: number;
  match: Matcher;
  unsupported: boolean;
  /** Epoch ms; NaN when open. */
  start: number;
  end: number;
  linear: boolean;
  decayedValue: number;
  eq: { field: Field; values: string[]; ignoreCase: boolean } | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function parseTime(v: unknown, path: string, ruleId: number | null): number {
  if (v === undefined || v === null) return Number.NaN;
  if (typeof v !== 'string') throw new ConfigError(path, 'must be an RFC 3339 timestamp string', ruleId);
  const ms = parseRfc3339(v);
  if (Number.isNaN(ms)) throw new ConfigError(path, 'not an RFC 3339 timestamp', ruleId);
  return ms;
}

function parseRule(value: unknown, path: string): Rule {
  if (!isObject(value)) throw new ConfigError(path, 'a rule must be an object');
  const join = (f: string) => (path === '' ? f : `${path}.${f}`);
  const idValue = value.id;
  const ruleId = typeof idValue === 'number' && Number.isInteger(idValue) && idValue >= 0 && idValue <= 0xffffffff ? idValue : null;
  if (idValue === undefined) throw new ConfigError(path, 'missing field `id`', ruleId);
  if (ruleId === null) throw new ConfigError(join('id'), 'must be an unsigned 32-bit integer');
  const type = value.type;
  if (type === undefined) throw new ConfigError(path, 'missing field `type`', ruleId);
  if (typeof type !== 'string') throw new ConfigError(join('type'), 'must be a string', ruleId);
  const stage = RULE_TYPES[type] ?? -1;
  if (!('condition' in value)) throw new ConfigError(path, 'missing field `condition`', ruleId);
  let condition;
  try {
    condition = compileCondition(value.condition);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(join('condition') + error.path, error.reason, ruleId);
    throw error;
  }
  const sv = value.samplingValue;
  if (sv === undefined) throw new ConfigError(path, 'missing field `samplingValue`', ruleId);
  const svPath = join('samplingValue');
  if (!isObject(sv)) throw new ConfigError(svPath, 'must be an object', ruleId);
  if (sv.type === undefined) throw new ConfigError(svPath, 'missing field `type`', ruleId);
  if (typeof sv.type !== 'string') throw new ConfigError(`${svPath}.type`, 'must be a string', ruleId);
  let kind: number;
  let v: number;
  switch (sv.type) {
    case 'sampleRate':
    case 'factor':
    case 'minimumSampleRate':
      if (typeof sv.value !== 'number') throw new ConfigError(`${svPath}.value`, `a \`${sv.type}\` value must be a number`, ruleId);
      kind = sv.type === 'sampleRate' ? SAMPLE_RATE : sv.type === 'factor' ? FACTOR : MINIMUM;
      v = sv.value;
      break;
    case 'reservoir':
      if (typeof sv.limit !== 'number' || !Number.isInteger(sv.limit)) {
        throw new ConfigError(`${svPath}.limit`, 'a reservoir limit must be an integer', ruleId);
      }
      kind = RESERVOIR;
      v = sv.limit;
      break;
    default:
      throw new ConfigError(`${svPath}.type`, `unknown sampling value type \`${sv.type}\``, ruleId);
  }
  let start = Number.NaN;
  let end = Number.NaN;
  const range = value.timeRange;
  if (range !== undefined && range !== null) {
    if (!isObject(range)) throw new ConfigError(join('timeRange'), 'must be an object', ruleId);
    start = parseTime(range.start, join('timeRange.start'), ruleId);
    end = parseTime(range.end, join('timeRange.end'), ruleId);
  }
  let linear = false;
  let decayedValue = Number.NaN;
  const fn = value.decayingFn;
  if (fn !== undefined && fn !== null) {
    if (!isObject(fn)) throw new ConfigError(join('decayingFn'), 'must be an object', ruleId);
    if (fn.type === 'linear') {
      if (typeof fn.decayedValue !== 'number') {
        throw new ConfigError(join('decayingFn.decayedValue'), 'a linear decaying function needs a number', ruleId);
      }
      linear = true;
      decayedValue = fn.decayedValue;
    } else if (fn.type !== 'constant') {
      if (typeof fn.type !== 'string') throw new ConfigError(join('decayingFn'), 'missing field `type`', ruleId);
      throw new ConfigError(join('decayingFn.type'), `unknown decaying function \`${fn.type}\``, ruleId);
    }
  }
  return {
    id: ruleId,
    stage,
    kind,
    value: v,
    match: condition.match,
    unsupported: stage < 0 || condition.unsupported,
    start,
    end,
    linear,
    decayedValue,
    eq: condition.eq,
  };
}

function parseRules(obj: Record<string, unknown>, key: string): Rule[] {
  const list = obj[key];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new ConfigError(key, 'must be a list of rules');
  return list.map((r, i) => parseRule(r, `${key}[${i}]`));
}

/** Rules of one field indexed by the strings they test for. */
interface EqIndex {
  field: Field;
  ignoreCase: boolean;
  buckets: Map<string, Int32Array>;
}

/** An index need not pay for itself below this many rules. */
const MIN_INDEXED_RULES = 16;

/** The rules of one stage: positions scanned for every item, plus value indexes. */
export class StageRules {
  readonly scanned: Int32Array;
  readonly indexes: EqIndex[] = [];
  private readonly hits: Int32Array;
  private readonly merged: Int32Array;

  constructor(rules: Rule[], positions: number[]) {
    const groups = new Map<string, { field: Field; ignoreCase: boolean; members: number[] }>();
    for (const pos of positions) {
      const eq = rules[pos].eq;
      if (eq === undefined) continue;
      const key = `${eq.ignoreCase ? 1 : 0}${eq.field.name}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { field: eq.field, ignoreCase: eq.ignoreCase, members: [] }));
      group.members.push(pos);
    }
    const indexed = new Set<number>();
    for (const group of groups.values()) {
      if (group.members.length < MIN_INDEXED_RULES) continue;
      const lists = new Map<string, number[]>();
      for (const pos of group.members) {
        for (const value of rules[pos].eq!.values) {
          const key = group.ignoreCase ? fold(value) : value;
          let list = lists.get(key);
          if (list === undefined) lists.set(key, (list = []));
          if (list[list.length - 1] !== pos) list.push(pos);
        }
        indexed.add(pos);
      }
      const buckets = new Map<string, Int32Array>();
      for (const [k, list] of lists) buckets.set(k, Int32Array.from(list));
      this.indexes.push({ field: group.field, ignoreCase: group.ignoreCase, buckets });
    }
    this.scanned = Int32Array.from(positions.filter((p) => !indexed.has(p)));
    this.hits = new Int32Array(positions.length);
    this.merged = new Int32Array(positions.length);
  }

  get isEmpty(): boolean {
    return this.scanned.length === 0 && this.indexes.length === 0;
  }

  /**
   * The positions of the rules that may match, in config order: `[array, count]`. Rules whose
   * indexed value differs cannot match and are left out.
   */
  candidates(instance: Instance): [Int32Array, number] {
    const indexes = this.indexes;
    if (indexes.length === 0) return [this.scanned, this.scanned.length];
    const hits = this.hits;
    let n = 0;
    for (let k = 0; k < indexes.length; k++) {
      const index = indexes[k];
      const v = instance.get(index.field);
      if (typeof v !== 'string') continue;
      const bucket = index.buckets.get(index.ignoreCase ? fold(v) : v);
      if (bucket === undefined) continue;
      for (let j = 0; j < bucket.length; j++) hits[n++] = bucket[j];
    }
    if (n === 0) return [this.scanned, this.scanned.length];
    if (indexes.length > 1) hits.subarray(0, n).sort();
    // Merge the sorted hits into the scanned positions.
    const scanned = this.scanned;
    const out = this.merged;
    let i = 0;
    let j = 0;
    let m = 0;
    while (i < scanned.length || j < n) {
      if (j >= n || (i < scanned.length && scanned[i] < hits[j])) out[m++] = scanned[i++];
      else if (m > 0 && out[m - 1] === hits[j]) j++;
      else out[m++] = hits[j++];
    }
    return [out, m];
  }
}

/** A parsed config ready for evaluation. */
export class CompiledConfig {
  readonly stages: StageRules[];
  /** Parsed, but uses something this engine does not know: treated as absent. */
  readonly unsupported: boolean;

  constructor(
    readonly version: number,
    readonly rules: Rule[],
  ) {
    this.unsupported = version > 2 || rules.some((r) => r.unsupported);
    const positions = (stage: number) => rules.flatMap((r, i) => (r.stage === stage ? [i] : []));
    this.stages = [STAGE_TRANSACTION, STAGE_PROJECT, STAGE_TRACE].map((s) => new StageRules(rules, positions(s)));
  }

  /** Parses a config (JSON text or value); throws `ConfigError` with the path and rule id. */
  static parse(input: unknown): CompiledConfig {
    let value = input;
    if (typeof input === 'string') {
      try {
        value = JSON.parse(input);
      } catch (error) {
        throw new ConfigError('', `not valid JSON: ${(error as Error).message}`);
      }
    }
    if (!isObject(value)) throw new ConfigError('', 'a sampling config must be an object');
    let version = 1;
    if (value.version !== undefined) {
      const v = value.version;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) {
        throw new ConfigError('version', 'must be an unsigned 16-bit integer');
      }
      version = v;
    }
    const rules = parseRules(value, 'rules');
    // Legacy rules are always validated, but only used by version 1 configs (upgraded to 2).
    const legacy = parseRules(value, 'rulesV2');
    if (version <= 1) return new CompiledConfig(2, rules.concat(legacy));
    return new CompiledConfig(version, rules);
  }
}
