// Typed errors of the engine layer: what failed, and where.

/** A sampling config was rejected. The previous config of the project stays in force. */
export class SamplingConfigError extends Error {
  override name = 'SamplingConfigError';
  /** JSON path inside the sampling config, e.g. `rules[3].samplingValue.type`. */
  readonly path: string;
  /** The id of the rule at fault, when it could be read. */
  readonly ruleId: number | null;
  /** The project public key, when the config was installed for one. */
  readonly publicKey: string | null;

  constructor(detail: { path: string; ruleId: number | null; message: string }, publicKey: string | null = null) {
    const where = detail.path === '' ? 'the config' : detail.path;
    const rule = detail.ruleId === null ? '' : ` (rule ${detail.ruleId})`;
    const project = publicKey === null ? '' : ` for project key ${publicKey}`;
    super(`invalid sampling config${project} at ${where}${rule}: ${detail.message}`);
    this.path = detail.path;
    this.ruleId = detail.ruleId;
    this.publicKey = publicKey;
  }
}

/** Codes of envelopes the fast path cannot read (stable across versions). */
export const ENVELOPE_ERRORS: Readonly<Record<number, string>> = {
  1: 'empty envelope',
  2: 'the envelope header is not a JSON object',
  3: 'an item header is not a JSON object',
  4: 'an item header has no string `type`',
  5: "an item's `length` runs past the end of the envelope",
  6: 'an item payload is not followed by a newline',
};

/** An envelope that cannot be read. */
export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
  constructor(readonly code: number) {
    super(ENVELOPE_ERRORS[code] ?? `unreadable envelope (code ${code})`);
  }
}

/** A request to the engine that cannot be answered (bad input shape, bad time, bad JSON). */
export class SamplingRequestError extends Error {
  override name = 'SamplingRequestError';
}

/** Native `InvalidArg` errors become `SamplingRequestError`; anything else passes through. */
export function toRequestError(error: unknown): unknown {
  if (error instanceof Error && (error as { code?: string }).code === 'InvalidArg') {
    return new SamplingRequestError(error.message);
  }
  return error;
}

/** Runs a native call and turns its `InvalidArg` errors into `SamplingRequestError`. */
export function nativeCall<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw toRequestError(error);
  }
}
