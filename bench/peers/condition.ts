// Rule conditions compiled to closures: eq (strings, bools, hex ids, IPs; optional Unicode case
// folding), glob, gt/gte/lt/lte, cidr, and/or/not, any/all; unknown operators never match.

import { fieldOf, HexId, type Field, type Instance, type Value } from './fields';
import { GlobList } from './glob';
import { IpNetwork, parseIp, sameIp, type Ip } from './ip';

export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(
    readonly path: string,
    readonly reason: string,
    readonly ruleId: number | null = null,
  ) {
    super(`${path === '' ? '' : `${path}: `}${reason}`);
  }
}

export type Matcher = (instance: Instance) => boolean;

/** A compiled condition. */
export interface Compiled {
  match: Matcher;
  /** Holds an operator this engine does not know (at any depth). */
  unsupported: boolean;
  /** Set when the condition is one `eq` on strings only (a rule index can answer it). */
  eq?: { field: Field; values: string[]; ignoreCase: boolean };
}

const NON_ASCII = /[^\x00-\x7f]/;

/** Unicode case folding, close to `unicase` (`ß` = `ss`, the Kelvin sign = `k`). */
export function fold(s: string): string {
  const lower = s.toLowerCase();
  return NON_ASCII.test(lower) ? lower.toUpperCase().toLowerCase() : lower;
}

/** UTF-8 byte order, as Rust compares strings. */
function compareStrings(a: string, b: string): number {
  if (!NON_ASCII.test(a) && !NON_ASCII.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function nameOf(c: Record<string, unknown>, path: string): Field {
  if (!('name' in c)) throw new ConfigError(path, 'missing field `name`');
  if (typeof c.name !== 'string') throw new ConfigError(`${path}.name`, 'must be a string');
  return fieldOf(c.name);
}

function valueOf(c: Record<string, unknown>, path: string): unknown {
  if (!('value' in c)) throw new ConfigError(path, 'missing field `value`');
  return c.value;
}

const NEVER: Matcher = () => false;
const ALWAYS: Matcher = () => true;

function compileEq(c: Record<string, unknown>, path: string): Compiled {
  const field = nameOf(c, path);
  const value = valueOf(c, path);
  let ignoreCase = false;
  const options = c.options;
  if (options !== undefined && options !== null) {
    if (!isObject(options)) throw new ConfigError(`${path}.options`, 'must be an object');
    const ic = options.ignoreCase;
    if (ic !== undefined && ic !== null) {
      if (typeof ic !== 'boolean') throw new ConfigError(`${path}.options.ignoreCase`, 'must be a boolean');
      ignoreCase = ic;
    }
  }
  const values: string[] =
    typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  const single = typeof value === 'string' ? value : undefined;
  const singleLower = single?.toLowerCase();
  const singleIp: Ip | undefined = single === undefined ? undefined : parseIp(single);
  const boolean = typeof value === 'boolean' ? value : undefined;
  const isNull = value === null;

  // The string test, specialised by list size and case sensitivity.
  let strings: (s: string) => boolean;
  if (ignoreCase) {
    const folded = values.map(fold);
    if (folded.length === 1) {
      const [f0] = folded;
      const [v0] = values;
      strings = (s) => s === v0 || fold(s) === f0;
    } else {
      const set = new Set(folded);
      strings = (s) => set.has(fold(s));
    }
  } else if (values.length === 0) {
    strings = () => false;
  } else if (values.length === 1) {
    const [v0] = values;
    strings = (s) => s === v0;
  } else if (values.length <= 8) {
    strings = (s) => values.includes(s);
  } else {
    const set = new Set(values);
    strings = (s) => set.has(s);
  }

  const match: Matcher = (instance) => {
    const v = instance.get(field);
    if (v === undefined) return isNull;
    if (typeof v === 'string') return strings(v);
    if (typeof v === 'boolean') return boolean === v;
    if (v instanceof HexId) return singleLower !== undefined && singleLower === v.lower && /^[0-9a-f]*$/.test(singleLower);
    if (typeof v === 'object') return singleIp !== undefined && sameIp(v, singleIp);
    return false;
  };
  const indexable = field.dsc >= 0 ? field.dsc !== 5 /* replay_id */ : field.event !== null;
  return { match, unsupported: false, eq: indexable && !isNull && boolean === undefined ? { field, values, ignoreCase } : undefined };
}

function compileCmp(op: string, c: Record<string, unknown>, path: string): Compiled {
  const field = nameOf(c, path);
  const value = valueOf(c, path);
  if (typeof value !== 'number' && typeof value !== 'string') return { match: NEVER, unsupported: false };
  const test =
    op === 'gt' ? (o: number) => o > 0 : op === 'gte' ? (o: number) => o >= 0 : op === 'lt' ? (o: number) => o < 0 : (o: number) => o <= 0;
  const match: Matcher =
    typeof value === 'number'
      ? (instance) => {
          const v = instance.get(field);
          return typeof v === 'number' && test(v < value ? -1 : v > value ? 1 : v === value ? 0 : Number.NaN);
        }
      : (instance) => {
          const v = instance.get(field);
          return typeof v === 'string' && test(compareStrings(v, value));
        };
  return { match, unsupported: false };
}

/** Parses and compiles a condition; throws `ConfigError` with the path below the condition. */
export function compileCondition(c: unknown, path = ''): Compiled {
  if (!isObject(c)) throw new ConfigError(path, 'a condition must be an object');
  if (!('op' in c)) throw new ConfigError(path, 'missing field `op`');
  const op = c.op;
  if (typeof op !== 'string') throw new ConfigError(`${path}.op`, 'must be a string');
  switch (op) {
    case 'eq':
      return compileEq(c, path);
    case 'glob': {
      const field = nameOf(c, path);
      const value = valueOf(c, path);
      if (!Array.isArray(value)) throw new ConfigError(`${path}.value`, 'a glob value must be a list of patterns');
      value.forEach((p, i) => {
        if (typeof p !== 'string') throw new ConfigError(`${path}.value[${i}]`, 'a glob pattern must be a string');
      });
      const globs = new GlobList(value as string[]);
      return {
        match: (instance) => {
          const v = instance.get(field);
          return typeof v === 'string' && globs.test(v);
        },
        unsupported: false,
      };
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return compileCmp(op, c, path);
    case 'cidr': {
      const field = nameOf(c, path);
      const value = valueOf(c, path);
      if (!Array.isArray(value)) throw new ConfigError(`${path}.value`, 'a cidr value must be a list of networks');
      const networks = value.map((item, i) => {
        const net = typeof item === 'string' ? IpNetwork.parse(item) : undefined;
        if (net === undefined) throw new ConfigError(`${path}.value[${i}]`, `not an IP address or network: ${JSON.stringify(item)}`);
        return net;
      });
      return {
        match: (instance) => {
          const v = instance.get(field);
          const ip = typeof v === 'string' ? parseIp(v) : typeof v === 'object' && !(v instanceof HexId) ? v : undefined;
          return ip !== undefined && networks.some((n) => n.contains(ip));
        },
        unsupported: false,
      };
    }
    case 'and':
    case 'or': {
      if (!('inner' in c)) throw new ConfigError(path, 'missing field `inner`');
      if (!Array.isArray(c.inner)) throw new ConfigError(`${path}.inner`, 'must be a list of conditions');
      const inner = c.inner.map((x, i) => compileCondition(x, `${path}.inner[${i}]`));
      const unsupported = inner.some((x) => x.unsupported);
      const matchers = inner.map((x) => x.match);
      const eq = inner.length === 1 ? inner[0].eq : undefined;
      if (matchers.length === 0) return { match: op === 'and' ? ALWAYS : NEVER, unsupported };
      if (matchers.length === 1) return { match: matchers[0], unsupported, eq };
      if (matchers.length === 2) {
        const [a, b] = matchers;
        return { match: op === 'and' ? (i) => a(i) && b(i) : (i) => a(i) || b(i), unsupported };
      }
      const match: Matcher =
        op === 'and'
          ? (i) => {
              for (let k = 0; k < matchers.length; k++) if (!matchers[k](i)) return false;
              return true;
            }
          : (i) => {
              for (let k = 0; k < matchers.length; k++) if (matchers[k](i)) return true;
              return false;
            };
      return { match, unsupported };
    }
    case 'not': {
      if (!('inner' in c)) throw new ConfigError(path, 'missing field `inner`');
      const inner = compileCondition(c.inner, `${path}.inner`);
      const m = inner.match;
      return { match: (i) => !m(i), unsupported: inner.unsupported };
    }
    case 'any':
    case 'all': {
      const field = nameOf(c, path);
      if (!('inner' in c)) throw new ConfigError(path, 'missing field `inner`');
      const inner = compileCondition(c.inner, `${path}.inner`);
      const m = inner.match;
      const match: Matcher =
        op === 'any'
          ? (i) => i.elements(field)?.some(m) ?? false
          : (i) => i.elements(field)?.every(m) ?? false;
      return { match, unsupported: inner.unsupported };
    }
    default:
      return { match: NEVER, unsupported: true };
  }
}

export type { Value };
