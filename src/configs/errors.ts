// Typed errors raised (or recorded) while fetching, parsing and applying project configs.

/** Base class of every error this module raises or records. */
export class ProjectConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid options given to the service or one of its parts (thrown by constructors). */
export class ConfigOptionsError extends ProjectConfigError {}

/** A Relay credential (secret or public key) that cannot be decoded or does not match. */
export class SigningKeyError extends ProjectConfigError {}

/** The upstream answered with a non-2xx HTTP status. */
export class UpstreamHttpError extends ProjectConfigError {
  constructor(readonly status: number, readonly body: string) {
    super(`upstream answered HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`);
  }
}

/** The upstream did not answer within the request timeout. */
export class UpstreamTimeoutError extends ProjectConfigError {
  constructor(readonly timeoutMs: number) {
    super(`upstream did not answer within ${timeoutMs} ms`);
  }
}

/** The connection failed or was closed before the whole response arrived. */
export class UpstreamNetworkError extends ProjectConfigError {}

/** The upstream answered 2xx with a body that is not a project-config response. */
export class UpstreamProtocolError extends ProjectConfigError {}

/** A key was still unresolved when its per-key deadline (query timeout) passed. */
export class QueryDeadlineError extends ProjectConfigError {
  constructor(readonly publicKey: string, readonly timeoutMs: number) {
    super(`no project config for ${publicKey} within ${timeoutMs} ms`);
  }
}

/** One project state in a response (or file) that does not have the expected shape. */
export class ProjectStateError extends ProjectConfigError {
  constructor(readonly publicKey: string, message: string) {
    super(`invalid project state for ${publicKey}: ${message}`);
  }
}

/** A local config file that cannot be read or parsed. */
export class FileSourceError extends ProjectConfigError {
  constructor(readonly path: string, message: string, options?: { cause?: unknown }) {
    super(`${path}: ${message}`, options);
  }
}

/**
 * A sampling config rejected by the engine (thrown by `ConfigInstaller.put`). The installer contract only
 * requires `name === 'SamplingConfigError'` plus `path` and `ruleId`; this class is one way to
 * build such an error.
 */
export class SamplingConfigError extends Error {
  constructor(message: string, readonly path: string, readonly ruleId: number | null) {
    super(message);
    this.name = 'SamplingConfigError';
  }
}

/** Whether `err` is a sampling-config rejection as described by the installer contract. */
export function isSamplingConfigError(err: unknown): err is Error & { path?: unknown; ruleId?: unknown } {
  return err instanceof Error && err.name === 'SamplingConfigError';
}

/** A short, single-line description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
