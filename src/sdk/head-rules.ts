// The server's rules evaluated in the application: configs from the same sources and cache as the
// server, the engine's outcome per distinct set of rule-relevant fields cached, and the decision
// drawn with the engine's own seeded value so the SDK keeps exactly what the server keeps.

import { randomUUID } from 'node:crypto';

import { checkObject, checkPublicKey } from '../engine/args';
import { DROP, KEEP, KEEP_REASONS, NO_MATCH, OUT, SamplingEngine } from '../engine/engine';
import { ProjectConfigService } from '../configs';
import type { ConfigInstaller, ProjectInfo } from '../configs/installer';
import { EngineInstaller, type SamplerOptions } from '../sampler';
import { buildProbe, PROBE_EVENT_ID, PROBE_TRACE_ID, type ProbeFields } from './probe';
import { seededRandom } from './random';

export type { ProbeFields as RuleFields } from './probe';

/** Which id seeds the value a rate is compared with: the trace id (trace and project rules) or the event id (transaction rules). */
export type Seed = 'trace' | 'event';

/** What the rules say for a set of fields, before any random draw. */
export interface RuleOutcome {
  /** The project's config is loaded (else the caller's fallback applies). */
  loaded: boolean;
  /** The rate the terminating rule gives (1 when no rule matched: the server keeps such items). */
  rate: number;
  seed: Seed;
  /** The matched rule ids, in order (empty for no match). */
  ruleIds: readonly number[];
}

/** A head decision: keep or not, at which rate, drawn from which value. */
export interface HeadDecision {
  keep: boolean;
  /** The rule's rate, or the fallback rate when the project's config is not loaded. */
  rate: number;
  /** The value the rate was compared with (the engine's seeded value; the SDK's own draw for the fallback). */
  random: number;
  /** Whether the rules decided (false: the fallback rate did). */
  byRules: boolean;
  /** For a decision by a transaction rule: the event id whose value decided; the transaction must be sent with it. */
  eventId: string | null;
  ruleIds: readonly number[];
}

export interface HeadRulesOptions extends Omit<SamplerOptions, 'engine'> {
  /** The rate for a project whose config is unknown or not loaded yet (default 1: send, the server decides). */
  fallbackRate?: number;
  /** How long a computed outcome is reused, ms (default 1000; time-bound rules move with time). */
  outcomeTtl?: number;
  /** Accept historical reservoir rules (their counters are per process: the SDK and the server count apart). */
  reservoir?: boolean;
}

const NOT_LOADED: RuleOutcome = { loaded: false, rate: NaN, seed: 'trace', ruleIds: [] };
const MAX_OUTCOMES = 50_000;

type OutcomeTree = Map<string | undefined, OutcomeTree | RuleOutcome>;

export function checkRate(name: string, rate: unknown): number {
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new TypeError(`${name} must be a number in [0, 1], got ${JSON.stringify(rate)}`);
  return rate;
}

/**
 * The project's rules at span start. One instance can feed the traces sampler, the error sampler
 * and the OpenTelemetry sampler of an application (they then share configs and cached outcomes).
 */
export class HeadRules {
  readonly engine: SamplingEngine;
  readonly configs: ProjectConfigService;
  readonly fallbackRate: number;
  /** Outcomes by field values, one map level per field (see `cached`). */
  private readonly outcomes: OutcomeTree = new Map();
  private outcomeCount = 0;
  /** Projects whose rules read the DSC's user (`trace.user.*`): only for them the user id is part of the outcome key. */
  private readonly readsUserKeys = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private readonly probeTraceValue = seededRandom(PROBE_TRACE_ID);
  private readonly probeEventValue = seededRandom(PROBE_EVENT_ID);

  constructor(options: HeadRulesOptions) {
    checkObject('options', options);
    const { upstream, file, source, fallbackRate = 1, outcomeTtl = 1000, reservoir, ...rest } = options;
    this.fallbackRate = checkRate('fallbackRate', fallbackRate);
    if (typeof outcomeTtl !== 'number' || !(outcomeTtl > 0)) throw new TypeError(`outcomeTtl must be a positive number of ms, got ${JSON.stringify(outcomeTtl)}`);
    const chosen = [upstream && 'upstream', file && 'file', source && 'source'].filter(Boolean);
    if (chosen.length !== 1) throw new TypeError(`head sampling needs exactly one of upstream, file or source (got ${chosen.length === 0 ? 'none' : chosen.join(', ')})`);
    this.engine = new SamplingEngine({ reservoir: reservoir === true });
    const engineInstaller = new EngineInstaller(this.engine);
    const clear = () => this.clearOutcomes();
    const readsUser = this.readsUserKeys;
    // Every config change invalidates the cached outcomes (the engine keeps the previous config on a rejection).
    const installer: ConfigInstaller = {
      put(info: ProjectInfo, json: string | null, txNameRules?: string | null) {
        clear();
        engineInstaller.put(info, json, txNameRules);
        if (json !== null && json.includes('"trace.user')) readsUser.add(info.publicKey);
        else readsUser.delete(info.publicKey);
      },
      remove(publicKey: string) {
        clear();
        engineInstaller.remove(publicKey);
        readsUser.delete(publicKey);
      },
    };
    this.configs = new ProjectConfigService({ ...rest, source: upstream ? { upstream } : file ? { file } : source!, installer });
    // Time-bound rules (time ranges, decaying rates) change outcomes as time passes; a lookup also
    // tells the config cache the key is in use, which refreshes it in the background.
    this.timer = setInterval(clear, outcomeTtl);
    this.timer.unref();
  }

  /** Resolves once these projects' configs are loaded (or known to be unavailable). */
  prefetch(publicKeys: Iterable<string>, options: { timeout?: number } = {}): Promise<unknown> {
    // The config service's timers do not hold the process open (a server has its socket for that);
    // an application awaiting its first configs at start-up must not exit meanwhile.
    const holdOpen = setInterval(() => undefined, 60_000);
    return this.configs.prefetch(publicKeys, options).finally(() => clearInterval(holdOpen));
  }

  /** Whether the project's rules read the trace's user (then pass `userId` in the fields). */
  readsUser(publicKey: string): boolean {
    return this.readsUserKeys.has(publicKey);
  }

  /** What the rules say for these fields (cached; the engine runs once per distinct fields per `outcomeTtl`). */
  outcome(fields: ProbeFields): RuleOutcome {
    const cached = this.cached(fields);
    if (cached !== undefined) return cached;
    const outcome = this.evaluate(fields);
    if (outcome.loaded) {
      if (this.outcomeCount >= MAX_OUTCOMES) this.clearOutcomes();
      this.outcomeCount++;
      let level = this.outcomes;
      const path = [fields.item, fields.publicKey, fields.rootKey, fields.release, fields.environment, fields.dscTransaction, fields.name, fields.source, fields.op, fields.method];
      for (const key of path) {
        let next = level.get(key) as OutcomeTree | undefined;
        if (next === undefined) level.set(key, (next = new Map()));
        level = next;
      }
      level.set(fields.userId, outcome);
    }
    return outcome;
  }

  /**
   * The cached outcome, through one map per field: the field values are mostly strings the
   * application already holds, whose hashes are cached, so this costs less than building a key.
   */
  private cached(f: ProbeFields): RuleOutcome | undefined {
    let m = this.outcomes.get(f.item) as OutcomeTree | undefined;
    if (m === undefined) return undefined;
    if ((m = m.get(f.publicKey) as OutcomeTree | undefined) === undefined) return undefined;
    if ((m = m.get(f.rootKey) as OutcomeTree | undefined) === undefined) return undefined;
    if ((m = m.get(f.release) as OutcomeTree | undefined) === undefined) return undefined;
    if ((m = m.get(f.environment) as OutcomeTree | undefined) === undefined) return undefined;
    if ((m = m.get(f.dscTransaction) as OutcomeTree | undefined) === undefined) return undefined;
    if ((m = m.get(f.name) as OutcomeTree | undefined) === undefined) return undefined;
    if ((m = m.get(f.source) as OutcomeTree | undefined) === undefined) return undefined;
    if ((m = m.get(f.op) as OutcomeTree | undefined) === undefined) return undefined;
    if ((m = m.get(f.method) as OutcomeTree | undefined) === undefined) return undefined;
    return m.get(f.userId) as RuleOutcome | undefined;
  }

  private clearOutcomes(): void {
    this.outcomes.clear();
    this.outcomeCount = 0;
  }

  /**
   * Decides for a trace: the rules with the engine's value for its trace id (or a fresh event id
   * for transaction rules), else the fallback rate with `fallbackRandom` (default: the trace id's value).
   */
  decide(fields: ProbeFields, traceId: string, fallbackRandom?: () => number): HeadDecision {
    const outcome = this.outcome(fields);
    if (!outcome.loaded) {
      const random = fallbackRandom === undefined ? seededRandom(traceId) : fallbackRandom();
      return { keep: random < this.fallbackRate, rate: this.fallbackRate, random, byRules: false, eventId: null, ruleIds: [] };
    }
    const eventId = outcome.seed === 'event' ? randomUUID().replace(/-/g, '') : null;
    const random = seededRandom(eventId ?? traceId);
    const rate = outcome.rate;
    // As the engine decides: NaN (a degenerate decaying rule) keeps, <= 0 drops, >= 1 keeps.
    const keep = Number.isNaN(rate) || rate >= 1 || (rate > 0 && random < rate);
    return { keep, rate, random, byRules: true, eventId, ruleIds: outcome.ruleIds };
  }

  private loaded(publicKey: string): boolean {
    const state = this.configs.get(publicKey).state;
    return state === 'fresh' || state === 'stale';
  }

  private evaluate(fields: ProbeFields): RuleOutcome {
    checkPublicKey('publicKey', fields.publicKey);
    if (!this.loaded(fields.publicKey)) return NOT_LOADED;
    // A root project being fetched: the server would apply its trace rules, so wait for it too.
    if (fields.rootKey !== fields.publicKey && /^[0-9a-f]{32}$/.test(fields.rootKey)) {
      const root = this.configs.get(fields.rootKey).state;
      if (root === 'pending') return NOT_LOADED;
    }
    const code = this.engine.sampleEnvelope(buildProbe(fields, Date.now()), fields.publicKey);
    const result = this.engine.result;
    const reason = KEEP_REASONS[result[OUT.keepReason]];
    if (code < 0 || reason === 'unknownProject') return NOT_LOADED;
    const ruleIds = Array.from(this.engine.matchedRuleIds.subarray(0, result[OUT.matchedCount]));
    if (code === NO_MATCH || (code === KEEP && Number.isNaN(result[OUT.randomValue]) && reason !== 'none')) return { loaded: true, rate: 1, seed: 'trace', ruleIds };
    if (code !== KEEP && code !== DROP) return NOT_LOADED;
    const value = result[OUT.randomValue];
    const seed: Seed = value === this.probeEventValue ? 'event' : 'trace';
    if (seed === 'trace' && value !== this.probeTraceValue && !Number.isNaN(value)) throw new Error(`internal: the engine decided with a value seeded neither by the trace nor the event id (${value})`);
    return { loaded: true, rate: result[OUT.sampleRate], seed, ruleIds };
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    return this.configs.close();
  }
}

/** Creates the rules one application's samplers share: `createHeadRules({ file | upstream | source, fallbackRate? })`. */
export function createHeadRules(options: HeadRulesOptions): HeadRules {
  return new HeadRules(options);
}
