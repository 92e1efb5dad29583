// Custom (investigation) rules bias: reservoir rules for the project's active custom rules, ids 3000 + rule id.

import { validateRuleCondition, type ConditionValidator } from '../condition';
import { MAX_CUSTOM_RULE_ID, MAX_CUSTOM_RULES_PER_PROJECT, RESERVED_IDS } from '../constants';
import { InvalidCustomRuleError } from '../../control/errors';
import { formatUtcMicros, toEpochMicros, type EpochMicros } from '../time';
import type { CustomRuleInput, RuleCondition, SamplingRule } from '../types';

export interface CustomRulesOptions {
  /** Checks a stored condition; defaults to the structural Relay check. */
  validateCondition?: ConditionValidator;
  /** Receives every rule that was dropped, with the reason. */
  onDropped?: (error: InvalidCustomRuleError) => void;
}

function parseCondition(rule: CustomRuleInput): unknown {
  if (typeof rule.condition !== 'string') return rule.condition;
  try {
    return JSON.parse(rule.condition) as unknown;
  } catch (e) {
    throw new InvalidCustomRuleError(rule.ruleId, `condition is not JSON: ${(e as Error).message}`);
  }
}

function buildRule(rule: CustomRuleInput, start: EpochMicros, end: EpochMicros, validate: ConditionValidator): SamplingRule {
  const { ruleId, numSamples } = rule;
  if (!Number.isInteger(ruleId) || ruleId < 1 || ruleId > MAX_CUSTOM_RULE_ID) {
    throw new InvalidCustomRuleError(ruleId, `rule id must be an integer in 1..${MAX_CUSTOM_RULE_ID}`);
  }
  if (!Number.isSafeInteger(numSamples) || numSamples < 0) {
    throw new InvalidCustomRuleError(ruleId, `numSamples must be a non-negative integer, got ${String(numSamples)}`);
  }
  const condition = parseCondition(rule);
  const reason = validate(condition);
  if (reason !== null) throw new InvalidCustomRuleError(ruleId, reason);
  return {
    id: RESERVED_IDS.customRule + ruleId,
    type: 'transaction',
    condition: condition as RuleCondition,
    samplingValue: { type: 'reservoir', limit: numSamples },
    timeRange: { start: formatUtcMicros(start), end: formatUtcMicros(end) },
  };
}

/**
 * Rules for the custom rules active at `now` (`start < now < end`, at most 50, in input order);
 * rules with an invalid id, sample count, date or condition are dropped and reported.
 */
export function customRules(
  rules: readonly CustomRuleInput[],
  now: EpochMicros,
  options: CustomRulesOptions = {},
): SamplingRule[] {
  const validate = options.validateCondition ?? validateRuleCondition;
  const drop = (error: InvalidCustomRuleError): void => options.onDropped?.(error);

  const active: Array<{ rule: CustomRuleInput; start: EpochMicros; end: EpochMicros }> = [];
  for (const rule of rules) {
    if (rule.isActive === false) continue;
    let start: EpochMicros;
    let end: EpochMicros;
    try {
      start = toEpochMicros(rule.startDate);
      end = toEpochMicros(rule.endDate);
    } catch (e) {
      drop(new InvalidCustomRuleError(rule.ruleId, (e as Error).message));
      continue;
    }
    if (start < now && now < end) active.push({ rule, start, end });
  }

  const out: SamplingRule[] = [];
  for (const { rule, start, end } of active.slice(0, MAX_CUSTOM_RULES_PER_PROJECT)) {
    try {
      out.push(buildRule(rule, start, end, validate));
    } catch (e) {
      if (!(e instanceof InvalidCustomRuleError)) throw e;
      drop(e);
    }
  }
  return out;
}
