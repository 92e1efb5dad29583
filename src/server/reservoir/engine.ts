// A sampling engine that leaves out reservoir rules the fleet has used up (their shared count reached the limit).

import { SamplingEngine, type EngineOptions, type ProjectInfo } from '../../engine/engine';
import type { SamplingConfigJson, TxNameRuleJson } from '../../engine/types';
import { reservoirRules, withoutRules, type ReservoirRule } from './rules';

interface Installed {
  info: ProjectInfo;
  /** The config as the config service handed it over. */
  samplingJson: string | null;
  txNameRules: readonly TxNameRuleJson[] | string | null;
  reservoir: ReservoirRule[];
}

/** `reservoir:<org>:<rule>` identity of a rule (ids are unique within an organisation). */
function ruleKey(organizationId: number, ruleId: number): string {
  return `${organizationId}:${ruleId}`;
}

/**
 * Installs configs like `SamplingEngine`, remembering the reservoir rules they hold. When a rule is
 * marked exhausted (for its limit), every project of the organisation holding it is re-installed
 * without it, and configs installed later have it removed as well until its limit changes.
 */
export class ReservoirAwareEngine extends SamplingEngine {
  private readonly installed = new Map<string, Installed>();
  /** Exhausted rules: rule key → the limit that was reached. */
  private readonly exhausted = new Map<string, number>();

  /**
   * The reservoir-aware engine is the opt-in to reservoir rules: it enables the engine's
   * reservoir option unless told otherwise (then configs with reservoir rules are rejected, as
   * current Relay does, and there is nothing for it to count).
   */
  constructor(options: EngineOptions = { reservoir: true }) {
    super(options);
  }

  override putProject(
    publicKey: string,
    info: ProjectInfo,
    sampling: SamplingConfigJson | string | null | undefined,
    txNameRules: readonly TxNameRuleJson[] | string | null = null,
  ): void {
    const samplingJson = sampling === null || sampling === undefined ? null : typeof sampling === 'string' ? sampling : JSON.stringify(sampling);
    const reservoir = reservoirRules(samplingJson);
    super.putProject(publicKey, info, this.filtered(info.organizationId, samplingJson, reservoir), txNameRules);
    if (reservoir.length > 0) this.installed.set(publicKey, { info, samplingJson, txNameRules, reservoir });
    else this.installed.delete(publicKey);
  }

  override removeProject(publicKey: string): boolean {
    this.installed.delete(publicKey);
    return super.removeProject(publicKey);
  }

  /** The reservoir rule `ruleId` of the organisation, if an installed config holds one. */
  reservoirRule(organizationId: number, ruleId: number): ReservoirRule | undefined {
    for (const entry of this.installed.values()) {
      if (entry.info.organizationId !== organizationId) continue;
      const rule = entry.reservoir.find((r) => r.id === ruleId);
      if (rule) return rule;
    }
    return undefined;
  }

  isExhausted(organizationId: number, rule: ReservoirRule): boolean {
    return this.exhausted.get(ruleKey(organizationId, rule.id)) === rule.limit;
  }

  /** Marks the rule used up and re-installs the configs that hold it, without it. */
  markExhausted(organizationId: number, rule: ReservoirRule): void {
    if (this.isExhausted(organizationId, rule)) return;
    this.exhausted.set(ruleKey(organizationId, rule.id), rule.limit);
    for (const [publicKey, entry] of this.installed) {
      if (entry.info.organizationId === organizationId && entry.reservoir.some((r) => r.id === rule.id)) {
        super.putProject(publicKey, entry.info, this.filtered(organizationId, entry.samplingJson, entry.reservoir), entry.txNameRules);
      }
    }
  }

  private filtered(organizationId: number, samplingJson: string | null, reservoir: readonly ReservoirRule[]): string | null {
    if (samplingJson === null) return null;
    const gone = new Set(reservoir.filter((r) => this.exhausted.get(ruleKey(organizationId, r.id)) === r.limit).map((r) => r.id));
    return gone.size === 0 ? samplingJson : withoutRules(samplingJson, gone);
  }
}
