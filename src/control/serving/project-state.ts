// Builds the project state served to Relay for one public key: project info, keys, revision and `config.sampling`.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Definitions } from '../definitions/repository';
import type { PerOrgState } from '../per-org/store';
import type { DynamicSamplingState } from '../state/ds-state';
import type { ReleaseBoosts } from '../state/releases';
import { generateRulesDetailed } from '../../rules/generate';
import type { FullProjectState } from '../../engine/types';
import { describeProject, hasDynamicSampling } from './describe-project';

export interface ProjectStateBuilderOptions {
  definitions: Definitions;
  state: DynamicSamplingState;
  releases: ReleaseBoosts;
  logger?: Logger;
  /** Global killswitch (`dynamic-sampling.config.killswitch`): configs carry no sampling. */
  killswitch?: () => boolean;
  /** Emit reservoir (custom) rules: only for engines with their reservoir option on. */
  reservoir?: boolean;
  /** Serve the per-org pipeline's results (absent: the classic tasks' keys). */
  perOrg?: PerOrgState | null;
}

/** The content revision: a hash of everything but `rev` and `lastChange`. */
export function revisionOf(state: Omit<FullProjectState, 'rev' | 'lastChange'>): string {
  return createHash('sha1').update(JSON.stringify(state)).digest('hex');
}

export class ProjectStateBuilder {
  constructor(private readonly options: ProjectStateBuilderOptions) {}

  /**
   * The project state of a key at `now`, or null when the key is unknown, disabled or belongs to
   * a disabled project. `previous` keeps `lastChange` when the content did not change.
   */
  async build(publicKey: string, now: number, previous?: FullProjectState | null): Promise<FullProjectState | null> {
    const { definitions, logger } = this.options;
    const resolved = definitions.resolveKey(publicKey);
    if (!resolved || resolved.project.disabled || resolved.key.isEnabled === false) return null;
    const { project, organization } = resolved;

    const config: FullProjectState['config'] = { features: [] };
    if (hasDynamicSampling(organization) && !(this.options.killswitch?.() ?? false)) {
      const description = await describeProject(this.options, project, organization, now);
      const result = generateRulesDetailed(description, { reservoir: this.options.reservoir });
      for (const issue of result.issues) logger?.warn({ err: issue, projectId: project.id }, 'rule generation issue');
      config.sampling = result.config;
    }
    if (project.txNameRules && project.txNameRules.length > 0) config.txNameRules = project.txNameRules;
    const body = {
      disabled: false as const,
      projectId: project.id,
      organizationId: organization.id,
      slug: project.slug ?? `project-${project.id}`,
      publicKeys: definitions.publicKeysOf(project).map((k, i) => ({
        publicKey: k.publicKey,
        numericId: k.numericId ?? project.id * 100 + i,
        isEnabled: k.isEnabled !== false,
      })),
      config,
    };
    const rev = revisionOf(body);
    const lastChange = previous && previous.rev === rev ? previous.lastChange : new Date(now).toISOString();
    return { ...body, lastChange, rev };
  }
}
