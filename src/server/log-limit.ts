// Rate limit for repeated log lines: the first of a kind is logged, repeats within the interval are counted and logged once as a count.

import type { Logger } from 'pino';

type Level = 'warn' | 'error';

interface Pending {
  level: Level;
  fields: object;
  message: string;
  repeated: number;
  timer: NodeJS.Timeout;
}

/**
 * One line per kind (`key`) and interval: a failure that repeats per request (a full queue answers
 * thousands of 503 a second) must not flood the log, yet how often it happened must stay visible.
 */
export class RepeatLimiter {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly logger: Logger,
    readonly intervalMs = 10_000,
  ) {}

  /** Logs now if no line of this kind was logged within the interval; else counts it. */
  log(level: Level, key: string, fields: object, message: string): void {
    const entry = this.pending.get(key);
    if (entry) {
      entry.repeated++;
      entry.fields = fields;
      return;
    }
    this.logger[level](fields, message);
    const timer = setTimeout(() => this.end(key), this.intervalMs);
    timer.unref();
    this.pending.set(key, { level, fields, message, repeated: 0, timer });
  }

  private end(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    this.pending.delete(key);
    clearTimeout(entry.timer);
    if (entry.repeated === 0) return;
    this.logger[entry.level](
      { ...entry.fields, repeated: entry.repeated, intervalMs: this.intervalMs },
      `${entry.message} (${entry.repeated} more times within ${this.intervalMs / 1000} s)`,
    );
  }

  /** Logs the counts still pending (on shutdown). */
  flush(): void {
    for (const key of [...this.pending.keys()]) this.end(key);
  }
}
