// Samples collected by custom (investigation) rules: kept items whose decision matched a rule 3000+id, counted per rule and window.

import type { Definitions } from '../definitions/repository';
import type { CustomRuleDefinition } from '../definitions/types';
import type { KeyValueStore } from '../store/kv';
import { RESERVED_IDS, MAX_CUSTOM_RULE_ID } from '../../rules/constants';

/** Counts live as long as the longest rule (30 days) and a day more. */
const SAMPLES_TTL_MS = 31 * 24 * 60 * 60 * 1000;

const samplesKey = (orgId: number): string => `dsctl:custom_rule_samples:o:${orgId}`;
/** A rule id is reused once its rule ended: the count belongs to the rule's id and start. */
const samplesField = (ruleId: number, startDate: string): string => `${ruleId}:${Date.parse(startDate)}`;

export class CustomRuleSamples {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly definitions: Definitions,
  ) {}

  /**
   * Counts a kept item of a project whose decision matched the given Relay rule ids (the engine's
   * `matchedRuleIds`): each custom rule among them (ids 3001..5000) that is in force gets one sample.
   */
  async observe(projectId: number, matchedRuleIds: readonly number[], now: number): Promise<void> {
    const found = this.definitions.project(projectId);
    if (!found) return;
    const increments = [];
    for (const id of matchedRuleIds) {
      const ruleId = id - RESERVED_IDS.customRule;
      if (ruleId < 1 || ruleId > MAX_CUSTOM_RULE_ID) continue;
      const rule = this.definitions.customRulesFor(found.project, found.organization, now).find((r) => r.ruleId === ruleId);
      if (rule) increments.push({ key: samplesKey(found.organization.id), field: samplesField(rule.ruleId, rule.startDate), by: 1 });
    }
    if (increments.length > 0) await this.kv.hincrbyMany(increments, SAMPLES_TTL_MS);
  }

  /** Samples the rule collected since its start. */
  async count(orgId: number, rule: CustomRuleDefinition): Promise<number> {
    const all = await this.kv.hgetall(samplesKey(orgId));
    return Number(all[samplesField(rule.ruleId, rule.startDate)] ?? 0);
  }
}
