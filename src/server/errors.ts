// Typed errors of the ingestion server: each HTTP-facing one carries its status and a reason for the client.

import { ENVELOPE_ERRORS } from '../engine/errors';

/** Base class of every error this module raises. */
export class IngestError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An error answered to the client with `status` and `{"detail": reason}`. */
export class HttpError extends IngestError {
  constructor(
    readonly status: number,
    readonly reason: string,
    /** Extra response headers (e.g. Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(reason);
  }
}

/** 413: the body (compressed or decompressed) exceeds the limit. */
export class BodyTooLargeError extends HttpError {
  constructor(readonly limit: number, what: 'request body' | 'decompressed body') {
    super(413, `${what} exceeds the limit of ${limit} bytes`);
  }
}

/** 415: a Content-Encoding the server does not decode. */
export class UnsupportedEncodingError extends HttpError {
  constructor(readonly encoding: string) {
    super(415, `unsupported content encoding: ${encoding}`);
  }
}

/** 400: the body cannot be decoded (corrupt gzip/deflate/br stream). */
export class BadEncodingError extends HttpError {
  constructor(encoding: string, cause: unknown) {
    super(400, `the ${encoding} body cannot be decoded: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/** 400: the envelope cannot be read. `code` is the engine's envelope error code when it comes from there. */
export class BadEnvelopeError extends HttpError {
  constructor(readonly code: number | null, reason: string) {
    super(400, `invalid envelope: ${reason}`);
  }

  static fromEngineCode(code: number): BadEnvelopeError {
    return new BadEnvelopeError(code, ENVELOPE_ERRORS[code] ?? `unreadable envelope (code ${code})`);
  }
}

/** The client went away before its body arrived (answered 400 if the socket is still there). */
export class RequestAbortedError extends HttpError {
  constructor() {
    super(400, 'the request was aborted before its body was complete');
  }
}

/** 401 (no or unknown key) or 403 (the key belongs to another project). */
export class AuthError extends HttpError {
  constructor(status: 401 | 403, reason: string) {
    super(status, reason);
  }
}

/** 503 with Retry-After: the key's config cannot be loaded now and unchecked keys are refused (`rejectUnknownKeys`). */
export class KeyUncheckedError extends HttpError {
  constructor(readonly retryAfterSeconds: number) {
    super(503, 'the project key cannot be checked now (project configs unavailable): retry later', { 'Retry-After': String(retryAfterSeconds) });
  }
}

/** 503 with Retry-After: a sink cannot take the envelope now (queue full, write failure). */
export class SinkUnavailableError extends HttpError {
  constructor(reason: string, readonly retryAfterSeconds: number) {
    super(503, reason, { 'Retry-After': String(retryAfterSeconds) });
  }
}

/** The upstream sink's bounded queue is full. */
export class QueueFullError extends SinkUnavailableError {
  constructor(readonly queued: number, readonly queuedBytes: number, retryAfterSeconds: number) {
    super(`the forwarding queue is full (${queued} envelopes, ${queuedBytes} bytes): retry later`, retryAfterSeconds);
  }
}

/** Invalid server options (CLI flags, environment, or `startServer` arguments). */
export class ServerOptionsError extends IngestError {}
