// The one guarded entry of every HTTP server here: a request-controlled value can never throw out of a handler.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/**
 * Parses a request target (`req.url`); null when it is not one this server answers (the caller
 * answers 400). Origin-form (`/path?query`) is read by concatenation with a fixed origin, never as a
 * relative reference. A target starting with `//` is refused: URL parsers read it as an authority
 * (`//:99999/`, `//[::1` throw; `//evil/x` changes host), so it means different things to different
 * readers. Absolute-form (`http://host/path`) is accepted; anything else (`*`, garbage) is null.
 */
export function parseRequestTarget(target: string | undefined): URL | null {
  const text = target ?? '/';
  try {
    if (text.startsWith('//')) return null;
    if (text.startsWith('/')) return new URL(`http://localhost${text}`);
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/** Why a guard answered 500: the handler threw or rejected. */
export type GuardFailure = (error: unknown, req: IncomingMessage) => void;

function answer500(res: ServerResponse): void {
  try {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = '{"detail":"internal error"}';
    res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  } catch {
    res.destroy();
  }
}

/**
 * Wraps a request handler so that a synchronous throw, a rejection or an error it reports through
 * `fail` (a handler that completes through callbacks) becomes a 500 (or a reset when the answer
 * had started) and a report to `onFailure`, never an uncaught exception that would end the process
 * (and, with it, every other request and the queue of the upstream sink).
 */
export function guardedListener(
  handle: (req: IncomingMessage, res: ServerResponse, fail: (error: unknown) => void) => unknown,
  onFailure: GuardFailure,
): RequestListener {
  const fail = (error: unknown, req: IncomingMessage, res: ServerResponse): void => {
    try {
      onFailure(error, req);
    } catch {
      // Reporting must not turn one failure into a crash.
    }
    answer500(res);
  };
  return (req, res) => {
    try {
      const result = handle(req, res, (error) => fail(error, req, res));
      if (result instanceof Promise) result.catch((error: unknown) => fail(error, req, res));
    } catch (error) {
      fail(error, req, res);
    }
  };
}
