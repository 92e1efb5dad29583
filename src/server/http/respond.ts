// Writes JSON answers and errors the way Sentry does (`{"id": ...}`, `{"detail": ...}` with X-Sentry-Error).

import type { ServerResponse } from 'node:http';

import { HttpError } from '../errors';
import { corsHeaderList } from './cors';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers an accepted envelope (`{"id": ...}` with the CORS headers), the headers as a flat list. */
export function sendAccepted(res: ServerResponse, eventId: string, origin: string | undefined): void {
  const text = `{"id":${JSON.stringify(eventId)}}`;
  const headers = corsHeaderList(origin);
  headers.push('content-type', 'application/json', 'content-length', String(Buffer.byteLength(text)));
  res.writeHead(200, headers);
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers an error; `closeConnection` when the request body was not read to its end. */
export function sendError(res: ServerResponse, error: HttpError, headers: Record<string, string>, closeConnection: boolean): void {
  const reason = error.reason.replace(/[^\x20-\x7e]/g, '?');
  sendJson(res, error.status, { detail: error.reason }, { ...headers, ...error.headers, 'x-sentry-error': reason, ...(closeConnection ? { connection: 'close' } : {}) });
}
