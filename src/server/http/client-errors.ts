// Answers what Node's HTTP parser refuses before any handler runs: malformed requests, oversized headers, timeouts.

import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** The status line for a parser error: 408 for a client too slow to send its request, 431 for headers over the limit, else 400. */
export function clientErrorStatus(code: string | undefined): string {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  return '400 Bad Request';
}

/** Answers client errors with a status and `Connection: close`, and keeps serving. */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A response already started on this socket cannot get a second head: just close.
    const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !socket.destroyed && !started) {
      socket.end(`HTTP/1.1 ${clientErrorStatus(err.code)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    } else socket.destroy();
  });
}
