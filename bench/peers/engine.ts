// The peer's project store and envelope path: an envelope Buffer is read the way a JavaScript
// server would (JSON.parse of the header, the item headers and the transaction payload), then
// decided with the same semantics as the native engine.

import { CompiledConfig, ConfigError } from './config';
import { decide, Evaluation, isTraceFullySampled, Reservoir, type DecisionInput } from './decision';
import { EventInstance, isProjectKey, parseDsc, type Dsc } from './fields';

export { KEEP, DROP, NO_MATCH } from './decision';

/** Envelope error codes (returned negated by `sampleEnvelope`), as the native engine's. */
export const ENVELOPE_ERRORS = {
  empty: 1,
  invalidHeader: 2,
  invalidItemHeader: 3,
  missingItemType: 4,
  lengthExceeded: 5,
  missingNewline: 6,
} as const;

export const KIND_OTHER = 0;
export const KIND_TRANSACTION = 1;
export const KIND_SPANS = 2;
export const KIND_ERROR = 3;

export const KEEP_REASON_NONE = 0;
export const KEEP_REASON_UNKNOWN_PROJECT = 1;
export const KEEP_REASON_NO_CONFIG = 2;
export const KEEP_REASON_INVALID_EVENT = 3;

interface Project {
  projectId: number;
  organizationId: number;
  /** null: no config; 'rejected': the only config received did not parse. */
  config: CompiledConfig | null | 'rejected';
  reservoir: Reservoir;
}

const compiled = (p: Project | undefined) => (p !== undefined && typeof p.config === 'object' && p.config !== null ? p.config : undefined);

const NEWLINE = 10;

function isBlank(buf: Uint8Array): boolean {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9 && c !== 12) return false;
  }
  return true;
}

function parseObject(text: string): Record<string, any> | undefined {
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

class EnvelopeError extends Error {
  constructor(readonly code: number) {
    super(`envelope error ${code}`);
  }
}

/** Project configs by public key, and the per-envelope decision. */
export class PeerEngine {
  private readonly projects = new Map<string, Project>();
  private fixedNow: number | null = null;
  private readonly ev = new Evaluation();
  // The last decision, as the native engine's `result` reports it.
  kind = KIND_OTHER;
  keepReason = KEEP_REASON_NONE;
  invalidDsc = false;
  spanCount = 0;
  /** For error envelopes: true/false, or null for no tag. */
  traceFullySampled: boolean | null = null;

  get sampleRate(): number {
    return this.ev.sampleRate;
  }

  get randomValue(): number {
    return this.ev.randomValue;
  }

  get matchedRuleIds(): readonly number[] {
    return this.ev.ids;
  }

  /** Installs or replaces a config; a config that does not parse throws and leaves the old one. */
  putProject(publicKey: string, info: { projectId: number; organizationId: number }, sampling: unknown): void {
    if (!isProjectKey(publicKey)) throw new TypeError(`invalid project public key: ${publicKey}`);
    const key = publicKey.toLowerCase();
    const previous = this.projects.get(key);
    let config: Project['config'] = null;
    let error: ConfigError | undefined;
    if (sampling !== null && sampling !== undefined) {
      try {
        config = CompiledConfig.parse(sampling);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        if (previous !== undefined) throw e;
        config = 'rejected';
        error = e;
      }
    }
    const reservoir = previous?.reservoir ?? new Reservoir();
    if (config instanceof CompiledConfig) {
      const ids = new Set(config.rules.map((r) => r.id));
      for (const id of reservoir.counts.keys()) if (!ids.has(id)) reservoir.counts.delete(id);
    }
    this.projects.set(key, { projectId: info.projectId, organizationId: info.organizationId, config, reservoir });
    if (error !== undefined) throw error;
  }

  get projectCount(): number {
    return this.projects.size;
  }

  setNow(epochMs: number | null): void {
    this.fixedNow = epochMs;
  }

  /**
   * Decides for an envelope sent to `publicKey`: KEEP, DROP or NO_MATCH (details in the getters),
   * or a negative envelope error code.
   */
  sampleEnvelope(envelope: Uint8Array, publicKey: string): number {
    try {
      return this.sample(Buffer.isBuffer(envelope) ? envelope : Buffer.from(envelope.buffer, envelope.byteOffset, envelope.length), publicKey);
    } catch (error) {
      if (error instanceof EnvelopeError) return -error.code;
      throw error;
    }
  }

  private sample(buf: Buffer, publicKey: string): number {
    const ev = this.ev;
    ev.reset(0);
    this.kind = KIND_OTHER;
    this.keepReason = KEEP_REASON_NONE;
    this.invalidDsc = false;
    this.spanCount = 0;
    this.traceFullySampled = null;
    if (buf.length === 0 || isBlank(buf)) throw new EnvelopeError(ENVELOPE_ERRORS.empty);

    // Header line
    let end = buf.indexOf(NEWLINE);
    if (end < 0) end = buf.length;
    const header = parseObject(buf.toString('utf8', 0, end));
    if (header === undefined) throw new EnvelopeError(ENVELOPE_ERRORS.invalidHeader);

    // Items
    let transaction: string | undefined;
    let spanCount = 0;
    let hasError = false;
    let i = end + 1;
    const n = buf.length;
    while (i < n) {
      if (buf[i] === NEWLINE) {
        i++;
        continue;
      }
      let headerEnd = buf.indexOf(NEWLINE, i);
      if (headerEnd < 0) headerEnd = n;
      const item = parseObject(buf.toString('utf8', i, headerEnd));
      if (item === undefined) throw new EnvelopeError(ENVELOPE_ERRORS.invalidItemHeader);
      const length = item.length;
      if (length !== undefined && length !== null && !(typeof length === 'number' && Number.isInteger(length) && length >= 0)) {
        throw new EnvelopeError(ENVELOPE_ERRORS.invalidItemHeader);
      }
      const type = item.type;
      if (typeof type !== 'string') throw new EnvelopeError(ENVELOPE_ERRORS.missingItemType);
      const start = Math.min(headerEnd + 1, n);
      let payloadEnd: number;
      if (typeof length === 'number') {
        payloadEnd = start + length;
        if (payloadEnd > n) throw new EnvelopeError(ENVELOPE_ERRORS.lengthExceeded);
        if (payloadEnd < n && buf[payloadEnd] !== NEWLINE) throw new EnvelopeError(ENVELOPE_ERRORS.missingNewline);
      } else {
        payloadEnd = buf.indexOf(NEWLINE, start);
        if (payloadEnd < 0) payloadEnd = n;
      }
      if (type === 'transaction') {
        if (transaction === undefined) transaction = buf.toString('utf8', start, payloadEnd);
      } else if (type === 'span' || type === 'otel_span') {
        const count = item.item_count;
        spanCount += typeof count === 'number' && Number.isInteger(count) && count > 0 ? count : 1;
      } else if (type === 'event') {
        hasError = true;
      }
      i = payloadEnd + 1;
    }
    this.kind = transaction !== undefined ? KIND_TRANSACTION : spanCount > 0 ? KIND_SPANS : hasError ? KIND_ERROR : KIND_OTHER;
    if (this.kind === KIND_OTHER) return ev.decision;

    const trace = header.trace;
    const dsc: Dsc | undefined = trace === undefined || trace === null ? undefined : parseDsc(trace);
    this.invalidDsc = trace !== undefined && trace !== null && dsc === undefined;
    this.spanCount = spanCount;

    const own = this.projects.get(publicKey) ?? this.projects.get(publicKey.toLowerCase());
    if (own === undefined) {
      if (!isProjectKey(publicKey)) throw new TypeError(`invalid project public key: ${publicKey}`);
      this.keepReason = KEEP_REASON_UNKNOWN_PROJECT;
      return ev.decision;
    }
    // A root project of another organisation counts as unknown.
    let root = dsc === undefined ? undefined : this.projects.get(dsc.publicKey);
    if (root !== undefined && root.organizationId !== own.organizationId) root = undefined;
    const now = this.fixedNow ?? Date.now();

    if (this.kind === KIND_ERROR) {
      if (dsc !== undefined) {
        const state = root === undefined ? 'unknown' : root.config === null ? 'absent' : root.config;
        this.traceFullySampled = isTraceFullySampled(state, dsc, now, ev);
        // Errors are never dropped: only the ids of the rules the tag came from are reported.
        ev.clearResult();
      }
      return ev.decision;
    }
    let event: EventInstance | undefined;
    if (transaction !== undefined) {
      const raw = parseObject(transaction);
      if (raw === undefined) {
        this.keepReason = KEEP_REASON_INVALID_EVENT;
        return ev.decision;
      }
      event = new EventInstance(raw);
    }
    const ownConfig = compiled(own);
    const rootConfig = compiled(root);
    if (ownConfig === undefined && rootConfig === undefined) {
      this.keepReason = KEEP_REASON_NO_CONFIG;
      return ev.decision;
    }
    const input: DecisionInput = {
      span: this.kind === KIND_SPANS,
      own: ownConfig,
      ownKey: publicKey.toLowerCase(),
      rootKnown: root !== undefined,
      root: rootConfig,
      dsc,
      event,
      now,
      reservoir: own.reservoir,
    };
    decide(input, ev);
    return ev.decision;
  }
}
