// Builds Sentry envelopes (transactions, span v2 containers, errors) the way current SDKs send them.

import type { DynamicSamplingContext } from '../engine/types';

export interface TraceShape {
  traceId: string;
  publicKey: string;
  release?: string;
  environment?: string;
  transaction: string;
  sampleRate?: number;
  sampled?: boolean;
}

export function dscFor(t: TraceShape): DynamicSamplingContext {
  const dsc: DynamicSamplingContext = { trace_id: t.traceId, public_key: t.publicKey, transaction: t.transaction };
  if (t.release !== undefined) dsc.release = t.release;
  if (t.environment !== undefined) dsc.environment = t.environment;
  if (t.sampleRate !== undefined) dsc.sample_rate = String(t.sampleRate);
  if (t.sampled !== undefined) dsc.sampled = t.sampled ? 'true' : 'false';
  return dsc;
}

/** A transaction event for the trace, with `spanCount` child spans. */
export function transactionEvent(t: TraceShape, eventId: string, spanCount = 3, now = 1_700_000_000): Record<string, unknown> {
  const spans = [];
  for (let i = 0; i < spanCount; i++) {
    spans.push({
      span_id: eventId.slice(i % 16, (i % 16) + 16).padEnd(16, '0'),
      parent_span_id: eventId.slice(0, 16),
      trace_id: t.traceId,
      op: i % 2 === 0 ? 'db.query' : 'http.client',
      description: i % 2 === 0 ? `SELECT * FROM table_${i} WHERE id = $1` : `GET https://api.example.com/items/${i}`,
      start_timestamp: now + i * 0.001,
      timestamp: now + i * 0.001 + 0.0005,
      status: 'ok',
      origin: 'auto.http.otel.http',
      data: { 'sentry.op': 'db', 'db.system': 'postgresql', 'otel.kind': 'CLIENT' },
    });
  }
  return {
    event_id: eventId,
    type: 'transaction',
    transaction: t.transaction,
    transaction_info: { source: 'route' },
    platform: 'node',
    release: t.release,
    environment: t.environment,
    start_timestamp: now,
    timestamp: now + 0.25,
    contexts: {
      trace: { trace_id: t.traceId, span_id: eventId.slice(0, 16), op: 'http.server', status: 'ok', origin: 'auto.http.otel.http' },
      runtime: { name: 'node', version: 'v20.20.2' },
      os: { name: 'linux', version: '6.1.0' },
    },
    tags: { 'http.method': 'GET' },
    request: { method: 'GET', url: `https://shop.example.com${t.transaction}`, headers: { 'user-agent': 'demo/1.0' } },
    sdk: { name: 'sentry.javascript.node', version: '10.0.0' },
    spans,
    measurements: {},
    breadcrumbs: { values: [{ timestamp: now - 1, category: 'console', level: 'log', message: 'handling request' }] },
  };
}

function envelopeHeader(t: TraceShape, eventId?: string, dsn?: string): string {
  return JSON.stringify({
    ...(eventId === undefined ? {} : { event_id: eventId }),
    sent_at: '2024-01-01T00:00:00.000Z',
    sdk: { name: 'sentry.javascript.node', version: '10.0.0' },
    ...(dsn === undefined ? {} : { dsn }),
    trace: dscFor(t),
  });
}

/** A transaction envelope: header with the DSC, one `transaction` item with a `length`. */
export function transactionEnvelope(t: TraceShape, event: Record<string, unknown>, dsn?: string): Buffer {
  const payload = Buffer.from(JSON.stringify(event));
  const itemHeader = JSON.stringify({ type: 'transaction', length: payload.length });
  return Buffer.concat([Buffer.from(`${envelopeHeader(t, event.event_id as string, dsn)}\n${itemHeader}\n`), payload, Buffer.from('\n')]);
}

/** A streamed-span envelope: one `span` item holding a span v2 container (what current SDKs send). */
export function spanEnvelope(t: TraceShape, spanCount = 2, now = 1_700_000_000): Buffer {
  const items = [];
  for (let i = 0; i < spanCount; i++) {
    items.push({
      trace_id: t.traceId,
      span_id: t.traceId.slice(i, i + 16),
      ...(i === 0 ? { is_segment: true } : { parent_span_id: t.traceId.slice(0, 16) }),
      name: i === 0 ? t.transaction : `db.query ${i}`,
      status: 'ok',
      start_timestamp: now,
      end_timestamp: now + 0.1,
      attributes: {
        'sentry.op': { type: 'string', value: i === 0 ? 'http.server' : 'db' },
        'sentry.release': { type: 'string', value: t.release ?? '' },
        'sentry.environment': { type: 'string', value: t.environment ?? '' },
      },
    });
  }
  const payload = JSON.stringify({ items });
  const itemHeader = JSON.stringify({
    type: 'span',
    item_count: spanCount,
    content_type: 'application/vnd.sentry.items.span.v2+json',
  });
  return Buffer.from(`${envelopeHeader(t)}\n${itemHeader}\n${payload}\n`);
}

/** An error envelope (items without `length`). */
export function errorEnvelope(t: TraceShape, eventId: string): Buffer {
  const event = {
    event_id: eventId,
    level: 'error',
    platform: 'node',
    exception: { values: [{ type: 'Error', value: 'boom' }] },
    contexts: { trace: { trace_id: t.traceId, span_id: t.traceId.slice(0, 16) } },
  };
  return Buffer.from(`${envelopeHeader(t, eventId)}\n{"type":"event"}\n${JSON.stringify(event)}\n`);
}
