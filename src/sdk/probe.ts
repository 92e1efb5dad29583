// The envelope the head sampler asks the engine about: the DSC the SDK will send and what is known
// of the item at span start, with fixed trace and event ids whose seeded values tell which one decided.

/** The fields rules can read at span start (absent values as undefined). */
export interface ProbeFields {
  /** `transaction`: a transaction event (all three stages); `span`: a span v2 container (project and trace stages). */
  item: 'transaction' | 'span';
  /** The project the SDK sends to. */
  publicKey: string;
  /** The DSC's project key: the project that started the trace. */
  rootKey: string;
  release: string | undefined;
  environment: string | undefined;
  /** The DSC's transaction (the SDK leaves it out for URL-sourced names). */
  dscTransaction: string | undefined;
  /** The transaction (segment) name. */
  name: string;
  /** `transaction_info.source` (`route`, `url`, `custom`, ...). */
  source: string | undefined;
  op: string | undefined;
  /** The request method, when the span knows it. */
  method: string | undefined;
  /** The DSC's user id (only set when the project's rules read user fields: it splits the outcome cache). */
  userId?: string | undefined;
}

export const PROBE_TRACE_ID = '5b8efff798038103d269b633813fc60c';
export const PROBE_EVENT_ID = 'c0ffee00b1a5e5b1a5e5b1a5e5c0ffee';
const PROBE_SPAN_ID = '5b8efff798038103';

export function buildProbe(f: ProbeFields, nowMs: number): Buffer {
  const dsc: Record<string, string> = { trace_id: PROBE_TRACE_ID, public_key: f.rootKey };
  if (f.release !== undefined) dsc.release = f.release;
  if (f.environment !== undefined) dsc.environment = f.environment;
  if (f.dscTransaction !== undefined) dsc.transaction = f.dscTransaction;
  if (f.userId !== undefined) dsc.user_id = f.userId;
  const now = nowMs / 1000;
  if (f.item === 'span') {
    const attributes: Record<string, { type: 'string'; value: string }> = {};
    if (f.op !== undefined) attributes['sentry.op'] = { type: 'string', value: f.op };
    const span = { trace_id: PROBE_TRACE_ID, span_id: PROBE_SPAN_ID, is_segment: true, name: f.name, status: 'ok', start_timestamp: now, end_timestamp: now, attributes };
    const header = JSON.stringify({ trace: dsc });
    return Buffer.from(`${header}\n{"type":"span","item_count":1,"content_type":"application/vnd.sentry.items.span.v2+json"}\n${JSON.stringify({ items: [span] })}\n`);
  }
  const event: Record<string, unknown> = {
    event_id: PROBE_EVENT_ID,
    type: 'transaction',
    transaction: f.name,
    platform: 'node',
    start_timestamp: now,
    timestamp: now,
    contexts: { trace: { trace_id: PROBE_TRACE_ID, span_id: PROBE_SPAN_ID, ...(f.op === undefined ? {} : { op: f.op }) } },
  };
  if (f.source !== undefined) event.transaction_info = { source: f.source };
  if (f.release !== undefined) event.release = f.release;
  if (f.environment !== undefined) event.environment = f.environment;
  if (f.method !== undefined) event.request = { method: f.method };
  const header = JSON.stringify({ event_id: PROBE_EVENT_ID, trace: dsc });
  const payload = JSON.stringify(event);
  return Buffer.from(`${header}\n{"type":"transaction","length":${Buffer.byteLength(payload)}}\n${payload}\n`);
}
