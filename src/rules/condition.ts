// Structural validation of stored Relay rule conditions (what Relay's `validate_rule_condition` accepts).

import { isIP } from 'node:net';

import type { RuleCondition } from './types';

/** Returns why a value is not a supported Relay rule condition, or `null` when it is one. */
export type ConditionValidator = (condition: unknown) => string | null;

const COMPARE_OPS = new Set(['gt', 'gte', 'lt', 'lte']);

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isCidr(entry: string): boolean {
  const slash = entry.indexOf('/');
  if (slash < 0) return isIP(entry) !== 0;
  const family = isIP(entry.slice(0, slash));
  const prefix = entry.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

function problem(value: unknown, path: string): string | null {
  if (!isObject(value)) return `${path}: a condition must be an object`;
  const op = value.op;
  if (typeof op !== 'string') return `${path}: missing "op"`;
  const needName = (): string | null => (typeof value.name === 'string' ? null : `${path}: "${op}" needs a string "name"`);
  switch (op) {
    case 'and':
    case 'or': {
      if (!Array.isArray(value.inner)) return `${path}: "${op}" needs an "inner" array`;
      for (let i = 0; i < value.inner.length; i++) {
        const p = problem(value.inner[i], `${path}.inner[${i}]`);
        if (p) return p;
      }
      return null;
    }
    case 'not':
      return problem(value.inner, `${path}.inner`);
    case 'any':
    case 'all':
      return needName() ?? problem(value.inner, `${path}.inner`);
    case 'eq': {
      const p = needName();
      if (p) return p;
      if (!('value' in value)) return `${path}: "eq" needs a "value"`;
      if (value.options !== undefined) {
        if (!isObject(value.options)) return `${path}: "options" must be an object`;
        const ic = value.options.ignoreCase;
        if (ic !== undefined && typeof ic !== 'boolean') return `${path}: "options.ignoreCase" must be a boolean`;
      }
      return null;
    }
    case 'glob': {
      const p = needName();
      if (p) return p;
      if (!Array.isArray(value.value) || value.value.some((v) => typeof v !== 'string')) {
        return `${path}: "glob" needs a "value" array of strings`;
      }
      return null;
    }
    case 'cidr': {
      const p = needName();
      if (p) return p;
      if (!Array.isArray(value.value) || value.value.some((v) => typeof v !== 'string' || !isCidr(v))) {
        return `${path}: "cidr" needs a "value" array of IP addresses or networks`;
      }
      return null;
    }
    default:
      if (COMPARE_OPS.has(op)) {
        const p = needName();
        if (p) return p;
        if (typeof value.value !== 'number' && typeof value.value !== 'string') {
          return `${path}: "${op}" needs a number or string "value"`;
        }
        return null;
      }
      return `${path}: unsupported condition op "${op}"`;
  }
}

/** Default validator: the shapes of Relay's `RuleCondition`; unknown ops are unsupported. */
export const validateRuleCondition: ConditionValidator = (condition) => problem(condition, 'condition');

/** Type guard form of `validateRuleCondition`. */
export function isSupportedRuleCondition(condition: unknown): condition is RuleCondition {
  return validateRuleCondition(condition) === null;
}
