// Turns a sink description (`file:PATH`, `stdout`, `http(s)://URL`) into a sink.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

import { ServerOptionsError } from '../errors';
import { createFileSink, createStdoutSink } from './stream';
import type { EnvelopeSink } from './types';
import { UpstreamSink, type UpstreamSinkOptions } from './upstream';

export type SinkSpec =
  | { type: 'file'; path: string }
  | { type: 'stdout' }
  | ({ type: 'upstream' } & UpstreamSinkOptions);

export const DEFAULT_SINK_FILE = './data/kept.jsonl';

/** `file:PATH` (or a bare path), `stdout`, or an `http(s)://` URL of a Relay or Sentry. */
export function parseSinkSpec(text: string): SinkSpec {
  const value = text.trim();
  if (value === '') throw new ServerOptionsError('the sink is empty: use file:PATH, stdout or an http(s):// URL');
  if (value === 'stdout' || value === '-') return { type: 'stdout' };
  if (/^https?:\/\//i.test(value)) return { type: 'upstream', url: value };
  if (value.startsWith('file:')) {
    const path = value.slice('file:'.length);
    if (path === '') throw new ServerOptionsError('file: sink needs a path (file:./data/kept.jsonl)');
    return { type: 'file', path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw new ServerOptionsError(`unsupported sink: ${value} (use file:PATH, stdout or an http(s):// URL)`);
  return { type: 'file', path: value };
}

export function createSink(spec: SinkSpec, deps: { logger: Logger; registry: Registry }): EnvelopeSink {
  switch (spec.type) {
    case 'file':
      return createFileSink(spec.path, deps);
    case 'stdout':
      return createStdoutSink(deps);
    case 'upstream': {
      const { type: _type, ...options } = spec;
      return new UpstreamSink(options, deps);
    }
  }
}
