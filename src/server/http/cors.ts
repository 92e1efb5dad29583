// CORS for browser SDKs: preflight answers and the headers every envelope response carries.

import type { IncomingMessage, ServerResponse } from 'node:http';

const ALLOWED_HEADERS = [
  'x-sentry-auth', 'x-requested-with', 'x-forwarded-for', 'origin', 'referer', 'accept', 'content-type',
  'authentication', 'authorization', 'content-encoding', 'transfer-encoding', 'sentry-trace', 'baggage',
].join(', ');
const EXPOSED_HEADERS = 'x-sentry-error, x-sentry-rate-limits, retry-after';

/** Headers that let a browser read the response of a cross-origin POST. */
export function corsHeaders(req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  return {
    'access-control-allow-origin': origin ?? '*',
    'access-control-expose-headers': EXPOSED_HEADERS,
    ...(origin ? { vary: 'Origin' } : {}),
  };
}

/** `corsHeaders` as a flat list of names and values (what `writeHead` takes without walking an object). */
export function corsHeaderList(origin: string | undefined): string[] {
  return origin
    ? ['access-control-allow-origin', origin, 'access-control-expose-headers', EXPOSED_HEADERS, 'vary', 'Origin']
    : ['access-control-allow-origin', origin ?? '*', 'access-control-expose-headers', EXPOSED_HEADERS];
}

/** Answers an OPTIONS preflight for the envelope endpoint. */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    ...corsHeaders(req),
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-headers': ALLOWED_HEADERS,
    'access-control-max-age': '3600',
    'content-length': '0',
  });
  res.end();
}
