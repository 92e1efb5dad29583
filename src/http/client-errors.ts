// Answers what Node's HTTP parser refuses before any handler runs: malformed requests, oversized headers, timeouts.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The status line for a parser error: 408 for a client too slow to send its request, 431 for headers over the limit, else 400. */
export function clientErrorStatus(code: string | undefined): string {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  return '400 Bad Request';
}

/**
 * Answers client errors with a status and `Connection: close`, and keeps serving.
 *
 * Bytes that do not parse can follow a complete request on the same connection (a request that
 * declared a shorter body than it sent, a client that sent a body without framing, pipelined
 * garbage) while that request's response is still being produced. That response is owed first:
 * it is never cut or preceded by the error answer. It is marked `Connection: close` when its head
 * is not out yet (Node then closes the connection after it); when its head already announced
 * keep-alive, the error answer follows it, with `Connection: close`, and the connection ends.
 */
/** On a socket: the last response the parser's requests got (its request is `res.req`). */
const LAST_RESPONSE = Symbol('lastResponse');
/** On a response: its `finish` was emitted (after Node's own handling of it). */
const FINISHED = Symbol('finished');

type Tracked<T> = T & { [LAST_RESPONSE]?: ServerResponse; [FINISHED]?: boolean };

function markFinished(this: Tracked<ServerResponse>): void {
  this[FINISHED] = true;
}

export function answerClientErrors(server: Server): void {
  /** Connections whose client error is handled: the parser repeats its error on any further bytes. */
  const handled = new WeakSet<Socket>();

  // Properties, not a WeakMap and a WeakSet: this runs for every request, and weak collections
  // cost the garbage collector on every scavenge.
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    (req.socket as Tracked<Socket>)[LAST_RESPONSE] = res;
    res.once('finish', markFinished);
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (handled.has(socket)) return;
    handled.add(socket);
    const answer = `HTTP/1.1 ${clientErrorStatus(err.code)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`;
    const lastResponse = (socket as Tracked<Socket>)[LAST_RESPONSE];
    const current = lastResponse === undefined ? undefined : { req: lastResponse.req, res: lastResponse as Tracked<ServerResponse> };
    const pending = current !== undefined && current.res[FINISHED] !== true && !current.res.destroyed;
    if (pending && (current.req.complete || current.res.headersSent)) {
      const { req, res } = current;
      if (!res.headersSent) res.setHeader('connection', 'close');
      // Node's own `finish` listener ran first: after a `Connection: close` response the socket is already ending.
      res.once('finish', () => {
        if (!socket.writable || socket.destroyed) return;
        // The bad bytes came after a complete request: they get their answer. Inside a request already answered: just close.
        if (req.complete) socket.end(answer);
        else socket.end();
      });
      return;
    }
    // No response owed on this connection, or the bad bytes are inside the request being read (its response not started): answer them.
    if (socket.writable && !socket.destroyed) socket.end(answer);
    else socket.destroy();
  });

  // CONNECT (a proxy tunnel) never reaches 'request': without this, Node just closes the socket unanswered.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    if (socket.writable && !socket.destroyed) socket.end('HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST, OPTIONS\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
}
