// Graceful shutdown of an HTTP server: stop accepting, let each connection finish its current response with `Connection: close`, then close it.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Follows a server's connections and the responses in progress. It must be created before the
 * server's request handler is attached: its `request` listener runs first, so a request arriving
 * on a keep-alive connection after `drain()` started is answered with `Connection: close`.
 */
export class ConnectionTracker {
  private readonly sockets = new Set<Socket>();
  private readonly active = new Set<ServerResponse>();
  private draining = false;

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      this.active.add(res);
      res.once('close', () => this.active.delete(res));
      if (this.draining) this.closeAfter(res);
    });
  }

  /** True once `drain()` was called (readiness answers "not ready"). */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Responses still to be answered or being written. */
  get inFlight(): number {
    return this.active.size;
  }

  /** Node ends the connection after a response whose head says `Connection: close`. */
  private closeAfter(res: ServerResponse): void {
    if (!res.headersSent) res.setHeader('connection', 'close');
  }

  /**
   * Stops accepting, closes idle connections, marks every response in progress `Connection: close`
   * and waits until all connections are closed; past `timeoutMs`, resets those left. Resolves with
   * how many connections had to be reset.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const res of this.active) this.closeAfter(res);
    // A response whose head was already sent keeps its connection open afterwards: close it once it is done.
    for (const res of this.active) {
      if (res.headersSent) res.once('finish', () => setImmediate(() => this.server.closeIdleConnections()));
    }
    this.server.closeIdleConnections();
    let reset = 0;
    const deadline = setTimeout(() => {
      reset = this.sockets.size;
      this.sockets.forEach((socket) => socket.destroy());
    }, timeoutMs);
    await closed;
    clearTimeout(deadline);
    return reset;
  }
}
