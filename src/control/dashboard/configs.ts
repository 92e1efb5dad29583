// A project's sampling config as Relay gets it (the cached config the endpoint serves) and as it would be generated now.

import { ruleName } from '../../rules/rule-names';
import type { ProjectConfigCache } from '../serving/config-cache';
import type { FullProjectState } from '../../engine/types';
import type { ProjectStateBuilder } from '../serving/project-state';

/** Where a sampling config came from: the cache Relay fetches from, or generated now (nothing cached yet). */
export type ConfigSource = 'served' | 'generated';

/** A rule with the bias (or investigation rule) that made it. */
export interface NamedRule {
  id: number;
  type: string;
  samplingValue: unknown;
  condition: unknown;
  bias: string;
}

export interface NamedSamplingConfig {
  source: ConfigSource;
  rules: NamedRule[];
}

export function namedRules(state: FullProjectState | null): NamedRule[] {
  return (state?.config.sampling?.rules ?? []).map((r) => ({ id: r.id, type: r.type, samplingValue: r.samplingValue, condition: r.condition, bias: ruleName(r.id) }));
}

export class ProjectSamplingConfigs {
  constructor(private readonly deps: { cache: ProjectConfigCache; builder: ProjectStateBuilder; clock: () => number }) {}

  /** The project state served for a key now (from the cache), else generated now. */
  async current(publicKey: string): Promise<{ state: FullProjectState | null; source: ConfigSource }> {
    const cached = await this.deps.cache.get(publicKey);
    if (cached !== undefined) return { state: cached, source: 'served' };
    return this.generated(publicKey);
  }

  /** What the next invalidation would serve (definitions and stored state as they are now). */
  async generated(publicKey: string): Promise<{ state: FullProjectState | null; source: ConfigSource }> {
    return { state: await this.deps.builder.build(publicKey, this.deps.clock()), source: 'generated' };
  }
}
