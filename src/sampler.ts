// createSampler: a project-config source and cache wired to the native engine (`dynamic-sampling/configs`).

import { checkObject, checkPublicKey } from './engine/args';
import { ProjectConfigService, type ProjectConfigServiceOptions, type SourceOptions } from './configs/service';
import type { UpstreamSourceOptions } from './configs/batcher';
import type { FileSourceOptions } from './configs/file-source';
import type { ConfigInstaller, ProjectInfo } from './configs/installer';
import { OUT, SamplingEngine, unknownRootKey } from './engine/engine';

/** Installs fetched configs into the engine (the previous config stays when one is rejected). */
export class EngineInstaller implements ConfigInstaller {
  constructor(private readonly engine: SamplingEngine) {}

  put(info: ProjectInfo, samplingConfigJson: string | null, txNameRulesJson?: string | null): void {
    this.engine.putProject(info.publicKey, info, samplingConfigJson, txNameRulesJson);
  }

  remove(publicKey: string): void {
    this.engine.removeProject(publicKey);
  }
}

export interface SamplerOptions extends Omit<ProjectConfigServiceOptions, 'installer' | 'source'> {
  /** Fetch configs from Sentry or a Relay (the Relay project-config protocol). */
  upstream?: UpstreamSourceOptions;
  /** Or read them from a local JSON/YAML file of `{configs: {publicKey: projectState}}`. */
  file?: string | FileSourceOptions;
  /** Or any other source. */
  source?: SourceOptions;
  /** An engine to fill (default: a new one). */
  engine?: SamplingEngine;
}

/** How often, at most, an actively used key is reported to the config cache (refresh, expiry). */
const TOUCH_INTERVAL_MS = 1000;

/**
 * Samples envelopes with configs kept fresh from a source. Envelopes of projects whose config
 * is not loaded yet are kept (never dropped for lack of a config) while it is fetched.
 */
export class Sampler {
  readonly engine: SamplingEngine;
  readonly configs: ProjectConfigService;
  private readonly lastTouched = new Map<string, number>();

  constructor(options: SamplerOptions) {
    checkObject('options', options);
    const { upstream, file, source, engine, ...rest } = options;
    const chosen = [upstream && 'upstream', file && 'file', source && 'source'].filter(Boolean);
    if (chosen.length !== 1) {
      throw new TypeError(`createSampler needs exactly one of upstream, file or source (got ${chosen.length === 0 ? 'none' : chosen.join(', ')})`);
    }
    this.engine = engine ?? new SamplingEngine();
    const resolved: SourceOptions = upstream ? { upstream } : file ? { file } : source!;
    this.configs = new ProjectConfigService({ ...rest, source: resolved, installer: new EngineInstaller(this.engine) });
  }

  private touch(publicKey: string): void {
    const now = Date.now();
    const last = this.lastTouched.get(publicKey);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return;
    if (this.lastTouched.size > 100_000) this.lastTouched.clear();
    this.lastTouched.set(publicKey, now);
    this.configs.get(publicKey);
  }

  /**
   * Decides for an envelope sent to `publicKey` (the fast path: see `SamplingEngine.sampleEnvelope`
   * for the result slots). Returns KEEP, DROP, NO_MATCH or a negative envelope error code.
   */
  sampleEnvelope(envelope: Uint8Array, publicKey: string): number {
    if (typeof publicKey !== 'string') checkPublicKey('publicKey', publicKey);
    this.touch(publicKey);
    const code = this.engine.sampleEnvelope(envelope, publicKey);
    if (code >= 0 && !Number.isNaN(this.engine.result[OUT.unknownRootKey])) {
      // The trace's root project is not loaded: fetch it for the next envelopes of its traces.
      const root = unknownRootKey(this.engine.result);
      if (root !== null) this.touch(root);
    }
    return code;
  }

  /** Resolves once the configs of these keys are loaded (or known to be unavailable). */
  prefetch(publicKeys: Iterable<string>, options: { noCache?: boolean; timeout?: number } = {}): Promise<unknown> {
    return this.configs.prefetch(publicKeys, options);
  }

  close(): Promise<void> {
    return this.configs.close();
  }
}

/** Creates a sampler: `createSampler({ upstream: { url, relayId, secretKey } | file: path, redis?: url })`. */
export function createSampler(options: SamplerOptions): Sampler {
  return new Sampler(options);
}
