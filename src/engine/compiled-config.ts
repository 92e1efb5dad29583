// Compiled sampling configs: a config is parsed and compiled once, in the engine, and the handle
// is then evaluated against as many items as needed (`evaluate({config: compiled, ...})`).

import { checkBoolean, checkObject, describe } from './args';
import { nativeCall, SamplingConfigError } from './errors';
import { native, type CompiledConfigHandle } from './native';
import type { SamplingConfigJson } from './types';

export interface CompileOptions {
  /** Accept historical reservoir rules (off by default: a config holding one is rejected, as current Relay). */
  reservoir?: boolean;
}

/** The native handle of a compiled config; only the engine layer reads it. */
export let handleOf: (config: CompiledSamplingConfig) => CompiledConfigHandle;
let create: (handle: CompiledConfigHandle, reservoir: boolean) => CompiledSamplingConfig;

/**
 * A sampling config compiled by the engine (`compileSamplingConfig`). Immutable; the engine's
 * memory is freed when the object is garbage-collected.
 */
export class CompiledSamplingConfig {
  readonly #handle: CompiledConfigHandle;
  /** Whether reservoir rules were accepted when it was compiled. */
  readonly reservoir: boolean;
  /** Parsed, but uses something this engine does not know: it samples as an absent config. */
  readonly unsupported: boolean;
  /** The ids of its rules, in evaluation order. */
  readonly ruleIds: readonly number[];

  private constructor(handle: CompiledConfigHandle, reservoir: boolean) {
    this.#handle = handle;
    this.reservoir = reservoir;
    this.unsupported = native.compiledConfigUnsupported(handle);
    this.ruleIds = Object.freeze(native.compiledConfigRuleIds(handle));
  }

  static {
    handleOf = (config) => config.#handle;
    create = (handle, reservoir) => new CompiledSamplingConfig(handle, reservoir);
  }
}

/** Whether `value` is a compiled config (and not a config object). */
export function isCompiled(value: unknown): value is CompiledSamplingConfig {
  return value instanceof CompiledSamplingConfig;
}

/**
 * Compiles a sampling config (an object or JSON text) once, for `evaluate`, `explain`,
 * `isTraceFullySampled` and `evaluationOrder`. A config Relay would reject throws
 * `SamplingConfigError` with the JSON path and rule id at fault; nothing else changes.
 */
export function compileSamplingConfig(config: SamplingConfigJson | string, options: CompileOptions = {}): CompiledSamplingConfig {
  if (typeof config !== 'string') {
    checkObject('config', config);
    if (isCompiled(config)) throw new TypeError(`config must be a sampling config object or JSON text, got ${describe(config)} already compiled`);
  }
  checkObject('options', options);
  if (options.reservoir !== undefined) checkBoolean('options.reservoir', options.reservoir);
  const compiled = compileOrReject(typeof config === 'string' ? config : JSON.stringify(config), options.reservoir ?? false);
  if (!isCompiled(compiled)) throw new SamplingConfigError(compiled);
  return compiled;
}

/** Why the engine rejected a config. */
export interface ConfigRejection {
  path: string;
  ruleId: number | null;
  message: string;
}

/** Compiles a config's JSON text, or says why the engine rejects it (arguments already checked). */
export function compileOrReject(text: string, reservoir: boolean): CompiledSamplingConfig | ConfigRejection {
  const compiled = nativeCall(() => native.compileSamplingConfig(text, reservoir));
  if (typeof compiled === 'string') return JSON.parse(compiled) as ConfigRejection;
  return create(compiled, reservoir);
}
