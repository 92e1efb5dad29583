// One log line when a Redis connection goes down and one when it is back, instead of ioredis's line per reconnect attempt.

import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/** What reports an outage: an ioredis client, or a BullMQ queue or worker (they re-emit their connection's errors). */
type Connection = Pick<EventEmitter, 'on'>;

export interface OutageWatch {
  /** Whether the connection failed and has not been ready since. */
  readonly down: boolean;
  /** Reports the connection ready (for sources that do not emit `ready` themselves, like a BullMQ queue). */
  ready(): void;
}

/**
 * Attaches an `error` handler (without one, ioredis prints every failed reconnect as an unhandled
 * error) and logs once per outage: a warning at the first error, an info line once `ready` again.
 * `onRecovered` runs after each outage (e.g. to flush what was buffered meanwhile).
 */
export function watchOutages(connection: Connection, logger: Logger | undefined, what: string, onRecovered?: () => void): OutageWatch {
  const watch: { down: boolean; ready(): void } = {
    down: false,
    ready() {
      if (!watch.down) return;
      watch.down = false;
      logger?.info({ redis: what }, `redis reachable again (${what})`);
      onRecovered?.();
    },
  };
  connection.on('error', (err: Error) => {
    if (watch.down) return;
    watch.down = true;
    logger?.warn({ redis: what, err: err?.message ?? String(err) }, `redis unreachable (${what}); retrying`);
  });
  connection.on('ready', () => watch.ready());
  return watch;
}
