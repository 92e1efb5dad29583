// Graceful shutdown of an HTTP server: stop accepting, let each connection finish its current response with `Connection: close`, then close it.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Follows a server's connections and the responses in progress. It must be created before the
 * server's request handler is attached: its `request` listener runs first, so a request arriving
 * on a keep-alive connection after `drain()` started is answered with `Connection: close`.
 */
/** A response whose envelope was handed to the sink: never reset before it is answered (a property, not a WeakSet: set for every kept envelope). */
const COMMITTED = Symbol('committed');
type Committable = ServerResponse & { [COMMITTED]?: boolean };

export class ConnectionTracker {
  private readonly sockets = new Set<Socket>();
  /** The last response produced on each open connection (in progress until it is finished). */
  private readonly current = new Map<Socket, ServerResponse>();
  private draining = false;

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.current.delete(socket);
      });
    });
    // No listener per response: whether it is done is read from it when draining.
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.current.set(req.socket, res);
      if (this.draining) this.closeAfter(res);
    });
  }

  /** True once `drain()` was called (readiness answers "not ready"). */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Responses still to be answered or being written. */
  private inProgress(): ServerResponse[] {
    return [...this.current.values()].filter((res) => !res.writableFinished && !res.destroyed);
  }

  /** The request's envelope goes to the sink now: a shutdown deadline must not reset it unanswered. */
  commit(res: ServerResponse): void {
    (res as Committable)[COMMITTED] = true;
  }

  /** Node ends the connection after a response whose head says `Connection: close`. */
  private closeAfter(res: ServerResponse): void {
    if (!res.headersSent) res.setHeader('connection', 'close');
  }

  /**
   * Stops accepting, closes idle connections, marks every response in progress `Connection: close`
   * and waits until all connections are closed. Past `timeoutMs`, resets those left, except the
   * ones whose envelope is in the sink (committed): they get another `timeoutMs` to be answered,
   * so that nothing written is left unacknowledged unless the sink itself hangs. `onDeadline`
   * hears of each reset round (how many were reset, how many are still awaited).
   */
  async drain(timeoutMs: number, onDeadline: (round: { reset: number; awaited: number }) => void = () => {}): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const active = this.inProgress();
    for (const res of active) this.closeAfter(res);
    // A response whose head was already sent keeps its connection open afterwards: close it once it is done.
    for (const res of active) {
      if (res.headersSent) res.once('finish', () => setImmediate(() => this.server.closeIdleConnections()));
    }
    this.server.closeIdleConnections();
    const resetRound = (spareCommitted: boolean): void => {
      let reset = 0;
      let awaited = 0;
      for (const socket of this.sockets) {
        const res = this.current.get(socket);
        if (spareCommitted && res !== undefined && (res as Committable)[COMMITTED] === true && !res.writableFinished) {
          awaited++;
          continue;
        }
        reset++;
        socket.destroy();
      }
      onDeadline({ reset, awaited });
    };
    const deadline = setTimeout(() => resetRound(true), timeoutMs);
    const last = setTimeout(() => resetRound(false), 2 * timeoutMs);
    await closed;
    clearTimeout(deadline);
    clearTimeout(last);
  }
}
