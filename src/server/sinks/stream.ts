// Sinks that write JSON Lines to a stream: a file (appended, directory created, reopened after a write error) or standard output.

import { mkdirSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

import { Backoff } from '../../configs/backoff';
import { SinkUnavailableError } from '../errors';
import { toJsonLine } from './record';
import type { EnvelopeSink, KeptEnvelope, SinkHealth } from './types';

export interface StreamSinkDeps {
  logger: Logger;
  registry: Registry;
}

/** Delays between reopen attempts after a write error, ms. */
export interface ReopenOptions {
  initial?: number;
  max?: number;
}

function errorsCounter(registry: Registry): Counter<'sink'> {
  const name = 'dynamic_sampling_server_sink_errors_total';
  return (
    (registry.getSingleMetric(name) as Counter<'sink'> | undefined) ??
    new Counter({ name, help: 'Write errors of the file or stdout sink (each answered 503), by sink.', labelNames: ['sink'], registers: [registry] })
  );
}

/**
 * Writes one line per kept envelope; `accept` resolves once the stream has written it. After a
 * write error (ENOSPC, EPIPE, EIO) every envelope is answered 503 (the SDK retries: nothing is
 * lost) until the stream is reopened, which is retried with a backoff when `open` can reopen it.
 * The error is logged once per failure episode, with the path; each is counted in the metrics.
 */
export class StreamSink implements EnvelopeSink {
  private pending = 0;
  private idle: (() => void)[] = [];
  private stream: Writable;
  /** Set from a write error until the stream is reopened: accepts answer 503, health is "failing". */
  private failure: { error: Error; since: string } | null = null;
  /** From a write error until a write succeeds again: one log line per episode, backoff grows. */
  private episode = false;
  private readonly backoff: Backoff;
  private reopenTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly errors: Counter<'sink'>;
  /** Streams whose error was handled (a write callback and the `error` event both report one). */
  private readonly failed = new WeakSet<Writable>();

  constructor(
    readonly description: string,
    /** Opens the stream (again, after an error); null: it cannot be reopened (stdout). */
    private readonly open: (() => Writable) | null,
    initial: Writable,
    private readonly ownsStream: boolean,
    private readonly deps: StreamSinkDeps,
    reopen: ReopenOptions = {},
  ) {
    this.errors = errorsCounter(deps.registry);
    this.backoff = new Backoff({ initial: reopen.initial ?? 1000, multiplier: 2, max: reopen.max ?? 30_000 });
    this.stream = initial;
    this.attach(initial);
  }

  private attach(stream: Writable): void {
    stream.on('error', (err) => this.fail(stream, err));
  }

  health(): SinkHealth {
    return this.failure === null ? { ok: true, ready: true } : { ok: false, ready: false, error: this.failure.error.message, since: this.failure.since };
  }

  /** A write error of `stream` (the write callback and the `error` event both report it: counted once). */
  private fail(stream: Writable, error: Error): void {
    if (stream !== this.stream || this.failed.has(stream)) return;
    this.failed.add(stream);
    this.failure = { error, since: this.failure?.since ?? new Date().toISOString() };
    this.errors.inc({ sink: this.description });
    if (!this.episode) {
      this.episode = true;
      this.deps.logger.error({ err: error, sink: this.description }, `cannot write kept envelopes to ${this.description}: answering 503 until it can be reopened`);
    }
    if (this.open === null || this.closed) return;
    stream.destroy();
    const delay = this.backoff.fail();
    this.reopenTimer = setTimeout(() => this.reopen(), delay);
    this.reopenTimer.unref();
  }

  private reopen(): void {
    this.reopenTimer = null;
    if (this.closed || this.open === null) return;
    let stream: Writable;
    try {
      stream = this.open();
    } catch (error) {
      // Not even created (mkdir failed): try again later.
      this.failure = { error: error as Error, since: this.failure?.since ?? new Date().toISOString() };
      this.errors.inc({ sink: this.description });
      this.reopenTimer = setTimeout(() => this.reopen(), this.backoff.fail());
      this.reopenTimer.unref();
      return;
    }
    this.stream = stream;
    this.attach(stream);
    // Reopened (an open error arrives as an `error` event instead): take envelopes again; the next write tells.
    stream.once('open', () => {
      if (this.stream === stream) this.failure = null;
    });
    if (!('pending' in stream) || (stream as Writable & { pending?: boolean }).pending === false) this.failure = null;
  }

  accept(kept: KeptEnvelope): Promise<void> {
    if (this.failure) return Promise.reject(new SinkUnavailableError(`${this.description} cannot be written: ${this.failure.error.message}`, 5));
    const stream = this.stream;
    this.pending++;
    return new Promise((resolve, reject) => {
      stream.write(toJsonLine(kept), (err) => {
        this.pending--;
        if (this.pending === 0) this.idle.splice(0).forEach((fn) => fn());
        if (err) {
          this.fail(stream, err);
          reject(new SinkUnavailableError(`${this.description} cannot be written: ${err.message}`, 5));
          return;
        }
        if (this.episode && stream === this.stream) {
          this.episode = false;
          this.backoff.reset();
          this.deps.logger.info({ sink: this.description }, `writing kept envelopes to ${this.description} again`);
        }
        resolve();
      });
    });
  }

  flush(timeoutMs = 10_000): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async close(timeoutMs = 10_000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    if (!this.ownsStream || this.stream.destroyed) return;
    await new Promise<void>((resolve) => {
      this.stream.once('error', () => resolve());
      this.stream.end(() => resolve());
    });
  }
}

/** Appends to `file` (its directory is created); several processes may append to the same file. */
export function createFileSink(file: string, deps: StreamSinkDeps, reopen?: ReopenOptions): StreamSink {
  const open = (): Writable => {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    return createWriteStream(file, { flags: 'a' });
  };
  return new StreamSink(`file:${file}`, open, open(), true, deps, reopen);
}

export function createStdoutSink(deps: StreamSinkDeps, stream: Writable = process.stdout): StreamSink {
  return new StreamSink('stdout', null, stream, false, deps);
}
