// Custom (investigation) rules as Sentry manages them (§9): condition hash, merge, limits, rule ids, expiry, query translation.

import { createHash } from 'node:crypto';
import { MAX_CUSTOM_RULE_ID, MAX_CUSTOM_RULES_PER_PROJECT } from '../../rules/constants';
import { TooManyRulesError, UnsupportedQueryError } from '../errors';
import type { RuleCondition } from '../../rules/types';
import type { CustomRuleDefinition, OrganizationDefinition } from './types';

/** Default window and sample count of a rule created through the API. */
export const CUSTOM_RULE_DEFAULT_DURATION_MS = 2 * 24 * 60 * 60 * 1000;
export const CUSTOM_RULE_DEFAULT_NUM_SAMPLES = 100;
/** Rules that ended more than this long ago are deactivated by the cleanup task. */
export const CUSTOM_RULE_EXPIRY_GRACE_MS = 60 * 1000;

/** `to_order_independent_string`: sorted keys, sorted list elements, scalars as text. */
export function orderIndependentString(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(orderIndependentString).sort().join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${k}:${orderIndependentString(obj[k])}`)
      .join(',')}}`;
  }
  return String(value);
}

/** `condition_hash = sha1(order_independent(condition) + "-" + order_independent(project_ids))`. */
export function conditionHash(condition: RuleCondition, projectIds: readonly number[]): string {
  return createHash('sha1')
    .update(`${orderIndependentString(condition)}-${orderIndependentString([...projectIds])}`)
    .digest('hex');
}

const time = (iso: string): number => Date.parse(iso);

/** Active and not yet ended at `now`. */
export function isRuleLive(rule: CustomRuleDefinition, now: number): boolean {
  return rule.isActive && time(rule.endDate) > now;
}

/** Active and inside its window at `now` (`start < now < end`, as Sentry's `get_project_rules` filters). */
export function isRuleInForce(rule: CustomRuleDefinition, now: number): boolean {
  return isRuleLive(rule, now) && time(rule.startDate) < now;
}

/** Whether a rule applies to a project: organisation-level rules apply to all of them. */
export function ruleAppliesTo(rule: CustomRuleDefinition, projectId: number): boolean {
  return rule.projects.length === 0 || rule.projects.includes(projectId);
}

export interface CustomRuleRequest {
  condition: RuleCondition;
  /** Empty: an organisation-level rule. */
  projects: number[];
  /** ms since the epoch. */
  start: number;
  end: number;
  numSamples: number;
  sampleRate: number;
  query?: string | null;
  createdBy?: string | null;
}

export interface UpsertResult {
  rule: CustomRuleDefinition;
  created: boolean;
  rules: CustomRuleDefinition[];
}

/**
 * `CustomDynamicSamplingRule.update_or_create`: a live rule with the same condition hash is
 * extended (later end, more samples, higher rate); otherwise a rule is created with the smallest
 * free rule id, within the per-project limit. Returns the organisation's new rule list.
 */
export function upsertCustomRule(org: OrganizationDefinition, request: CustomRuleRequest, now: number): UpsertResult {
  const rules = (org.customRules ?? []).map((r) => ({ ...r }));
  const hash = conditionHash(request.condition, request.projects);
  const existing = rules.find((r) => r.conditionHash === hash && isRuleLive(r, now));
  if (existing) {
    existing.endDate = new Date(Math.max(time(existing.endDate), request.end)).toISOString();
    existing.numSamples = Math.max(existing.numSamples, request.numSamples);
    existing.sampleRate = Math.max(existing.sampleRate, request.sampleRate);
    return { rule: existing, created: false, rules };
  }

  const live = rules.filter((r) => isRuleLive(r, now));
  const targets = request.projects.length === 0 ? org.projects.map((p) => p.id) : request.projects;
  for (const projectId of targets) {
    const count = live.filter((r) => ruleAppliesTo(r, projectId)).length;
    if (count >= MAX_CUSTOM_RULES_PER_PROJECT) {
      throw new TooManyRulesError(org.id, `project already has ${count} active rules (limit ${MAX_CUSTOM_RULES_PER_PROJECT})`, projectId);
    }
  }
  const used = new Set(live.map((r) => r.ruleId));
  let ruleId = 1;
  while (used.has(ruleId)) ruleId += 1;
  if (ruleId > MAX_CUSTOM_RULE_ID) throw new TooManyRulesError(org.id, `no free rule id up to ${MAX_CUSTOM_RULE_ID}`);

  // A stale (inactive or ended) rule holding the id is replaced.
  const kept = rules.filter((r) => r.ruleId !== ruleId);
  const rule: CustomRuleDefinition = {
    ruleId,
    condition: request.condition,
    projects: [...request.projects],
    startDate: new Date(request.start).toISOString(),
    endDate: new Date(request.end).toISOString(),
    numSamples: request.numSamples,
    sampleRate: request.sampleRate,
    isActive: true,
    conditionHash: hash,
    query: request.query ?? null,
    createdBy: request.createdBy ?? null,
    notificationSent: false,
  };
  kept.push(rule);
  return { rule, created: true, rules: kept };
}

/** `deactivate_old_rules`: rules that ended more than a minute before `now` become inactive. */
export function deactivateOldRules(rules: readonly CustomRuleDefinition[], now: number): { rules: CustomRuleDefinition[]; deactivated: CustomRuleDefinition[] } {
  const deactivated: CustomRuleDefinition[] = [];
  const out = rules.map((r) => {
    if (r.isActive && time(r.endDate) < now - CUSTOM_RULE_EXPIRY_GRACE_MS) {
      const updated = { ...r, isActive: false };
      deactivated.push(updated);
      return updated;
    }
    return r;
  });
  return { rules: out, deactivated };
}

const QUERY_FIELDS: Record<string, string> = {
  transaction: 'event.transaction',
  environment: 'event.environment',
  release: 'event.release',
  'transaction.op': 'event.contexts.trace.op',
  'http.method': 'event.request.method',
};

/**
 * Translates a small search query (`key:value` terms joined by AND, values quoted when they hold
 * spaces, `*` as a wildcard) into a Relay condition on transaction events. Keys: transaction,
 * environment, release, transaction.op, http.method; `event.type:transaction` is implied.
 */
export function queryToCondition(query: string): RuleCondition {
  const terms = query.match(/(?:[^\s"]+|"(?:[^"\\]|\\.)*")+/g) ?? [];
  const inner: RuleCondition[] = [];
  for (const term of terms) {
    if (/^and$/i.test(term)) continue;
    const colon = term.indexOf(':');
    if (colon <= 0) throw new UnsupportedQueryError(query, `free text is not supported: ${term}`);
    const key = term.slice(0, colon);
    let value = term.slice(colon + 1);
    if (value.startsWith('"')) value = JSON.parse(value) as string;
    if (key === 'event.type') {
      if (value !== 'transaction') throw new UnsupportedQueryError(query, 'only transaction events can be sampled');
      continue;
    }
    const name = QUERY_FIELDS[key];
    if (!name) throw new UnsupportedQueryError(query, `unsupported key ${key}`);
    if (value === '') throw new UnsupportedQueryError(query, `empty value for ${key}`);
    inner.push(value.includes('*') ? { op: 'glob', name, value: [value] } : { op: 'eq', name, value: [value], options: { ignoreCase: true } });
  }
  if (inner.length === 0) return { op: 'and', inner: [] };
  return inner.length === 1 ? inner[0] : { op: 'and', inner };
}
