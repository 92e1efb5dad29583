// Answers project-config requests (publicKeys, revisions, noCache): cached configs, `unchanged`, `pending`, or null.

import type { Logger } from 'pino';
import type { Clock } from '../clock';
import type { Definitions } from '../definitions/repository';
import type { ControlMetrics } from '../metrics';
import type { ProjectConfigCache } from './config-cache';
import type { FullProjectState } from '../../engine/types';
import type { ProjectStateBuilder } from './project-state';

export interface ProjectConfigsRequest {
  publicKeys: string[];
  revisions?: (string | null)[];
  fullConfig?: boolean;
  noCache?: boolean;
}

export interface ProjectConfigsResponse {
  configs: Record<string, FullProjectState | null>;
  pending?: string[];
  unchanged?: string[];
}

export interface ConfigServiceOptions {
  definitions: Definitions;
  cache: ProjectConfigCache;
  builder: ProjectStateBuilder;
  metrics: ControlMetrics;
  clock: Clock;
  logger?: Logger;
}

function limited(state: FullProjectState): FullProjectState {
  const { sampling: _sampling, ...config } = state.config;
  return { ...state, config };
}

export class ProjectConfigServer {
  /** Keys whose build (after a cache miss) is under way in this process. */
  private readonly building = new Map<string, Promise<void>>();

  constructor(private readonly options: ConfigServiceOptions) {}

  /** Builds a key's config and caches it. */
  private async buildAndCache(key: string, reason: 'miss' | 'noCache'): Promise<FullProjectState | null> {
    const { builder, cache, metrics, clock } = this.options;
    const state = await builder.build(key, clock(), await cache.get(key));
    await cache.set(key, state);
    metrics.configsBuilt.inc({ reason });
    return state;
  }

  /** Starts building a missed key in the background (once per key at a time). */
  private scheduleBuild(key: string): void {
    if (this.building.has(key)) return;
    const run = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.buildAndCache(key, 'miss'))
      .then(
        () => undefined,
        (err: unknown) => this.options.logger?.error({ err, publicKey: key }, 'building a project config failed'),
      )
      .finally(() => this.building.delete(key));
    this.building.set(key, run);
  }

  /** Waits for the background builds under way (tests). */
  async settle(): Promise<void> {
    await Promise.all([...this.building.values()]);
  }

  /** The answer to one request (Sentry's v3 endpoint). */
  async handle(request: ProjectConfigsRequest): Promise<ProjectConfigsResponse> {
    const { definitions, cache, metrics } = this.options;
    const keys = request.publicKeys;
    const revisions = request.revisions ?? [];
    const response: ProjectConfigsResponse = { configs: {} };
    const pending: string[] = [];
    const unchanged: string[] = [];
    const known = keys.filter((k) => definitions.resolveKey(k) !== undefined);
    const cached = await cache.getMany(known);
    const cachedByKey = new Map(known.map((k, i) => [k, cached[i]]));

    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (!definitions.resolveKey(key)) {
        response.configs[key] = null;
        metrics.keysAnswered.inc({ answer: 'null' });
        continue;
      }
      let state = cachedByKey.get(key);
      if (state === undefined || request.noCache) {
        if (!request.noCache) {
          this.scheduleBuild(key);
          pending.push(key);
          metrics.keysAnswered.inc({ answer: 'pending' });
          continue;
        }
        state = await this.buildAndCache(key, 'noCache');
      }
      if (state === null) {
        response.configs[key] = null;
        metrics.keysAnswered.inc({ answer: 'null' });
      } else if (revisions[i] != null && revisions[i] === state.rev) {
        unchanged.push(key);
        metrics.keysAnswered.inc({ answer: 'unchanged' });
      } else {
        response.configs[key] = request.fullConfig === false ? limited(state) : state;
        metrics.keysAnswered.inc({ answer: 'config' });
      }
    }
    if (pending.length) response.pending = pending;
    if (unchanged.length) response.unchanged = unchanged;
    return response;
  }
}
