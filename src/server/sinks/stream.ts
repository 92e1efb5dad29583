// Sinks that write JSON Lines to a stream: a file (appended, directory created) or standard output.

import { mkdirSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';

import { SinkUnavailableError } from '../errors';
import { toJsonLine } from './record';
import type { EnvelopeSink, KeptEnvelope } from './types';

/** Writes one line per kept envelope; `accept` resolves once the stream has written it. */
export class StreamSink implements EnvelopeSink {
  private pending = 0;
  private failed: Error | null = null;
  private idle: (() => void)[] = [];

  constructor(
    readonly description: string,
    private readonly stream: Writable,
    private readonly ownsStream: boolean,
  ) {
    stream.on('error', (err) => {
      this.failed = err;
    });
  }

  accept(kept: KeptEnvelope): Promise<void> {
    if (this.failed) return Promise.reject(new SinkUnavailableError(`${this.description} cannot be written: ${this.failed.message}`, 5));
    this.pending++;
    return new Promise((resolve, reject) => {
      this.stream.write(toJsonLine(kept), (err) => {
        this.pending--;
        if (this.pending === 0) this.idle.splice(0).forEach((fn) => fn());
        if (err) reject(new SinkUnavailableError(`${this.description} cannot be written: ${err.message}`, 5));
        else resolve();
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
    if (!this.ownsStream) return;
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
  }
}

/** Appends to `file` (its directory is created); several processes may append to the same file. */
export function createFileSink(file: string): StreamSink {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const stream = createWriteStream(file, { flags: 'a' });
  return new StreamSink(`file:${file}`, stream, true);
}

export function createStdoutSink(stream: Writable = process.stdout): StreamSink {
  return new StreamSink('stdout', stream, false);
}
