// Counting for the control plane: which envelopes are trace roots, with which name, decision and release, through the real server (the engine finds them in the decision's pass).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ReleaseObservation, RootRecord, TrafficRecorder } from '../src/control/traffic/recorder';
import { errorEnvelope, spanEnvelope, transactionEnvelope, transactionEvent, type TraceShape } from '../src/demo/envelopes';
import { IpcTrafficRecorder } from '../src/server/cluster';
import { postEnvelope, request, sampleRate, startTestServer, type TestServer } from './helpers/server';

const KEEP_KEY = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
const DROP_KEY = 'b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2';
const NO_MATCH_KEY = 'c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3';
const ORG = 9;

class RecordingRecorder implements TrafficRecorder {
  roots: RootRecord[] = [];
  releases: ReleaseObservation[] = [];
  recordRoot(root: RootRecord): void {
    this.roots.push(root);
  }
  observeRelease(observation: ReleaseObservation): void {
    this.releases.push(observation);
  }
  take(): { roots: RootRecord[]; releases: ReleaseObservation[] } {
    const out = { roots: this.roots, releases: this.releases };
    this.roots = [];
    this.releases = [];
    return out;
  }
}

let n = 0;
const traceId = (): string => `0123456789abcdef0123456789ab${String(++n).padStart(4, '0')}`;
const trace = (publicKey: string, extra: Partial<TraceShape> = {}): TraceShape => ({ traceId: traceId(), publicKey, transaction: '/dsc-name', release: '1.0', environment: 'production', ...extra });

function transaction(t: TraceShape, patch: (event: Record<string, any>) => void = () => {}, dsc: TraceShape = t): Buffer {
  const event = transactionEvent({ ...t, transaction: '/event-name' }, t.traceId, 3);
  patch(event);
  return transactionEnvelope(dsc, event);
}

function spans(t: TraceShape, items: object[], dsc: Record<string, unknown> = { trace_id: t.traceId, public_key: t.publicKey, transaction: t.transaction }): Buffer {
  const header = JSON.stringify({ trace: dsc });
  return Buffer.from(`${header}\n${JSON.stringify({ type: 'span', item_count: items.length, content_type: 'application/vnd.sentry.items.span.v2+json' })}\n${JSON.stringify({ items })}\n`);
}

const segment = (t: TraceShape, extra: object = {}) => ({
  trace_id: t.traceId,
  span_id: '1111111111111111',
  is_segment: true,
  name: '/segment-name',
  start_timestamp: 1,
  end_timestamp: 2,
  attributes: { 'sentry.release': { type: 'string', value: 'seg@3' }, 'sentry.environment': { type: 'string', value: 'canary' } },
  ...extra,
});
const child = (t: TraceShape) => ({ trace_id: t.traceId, span_id: '2222222222222222', parent_span_id: '1111111111111111', is_segment: false, name: 'db', start_timestamp: 1, end_timestamp: 2 });

describe('counting trace roots in the ingestion server', () => {
  const recorder = new RecordingRecorder();
  let ts: TestServer;
  const send = async (key: string, body: Buffer): Promise<{ roots: RootRecord[]; releases: ReleaseObservation[] }> => {
    const projectId = key === KEEP_KEY ? 5 : key === DROP_KEY ? 6 : 7;
    const res = await postEnvelope(ts.server, projectId, key, body);
    expect(res.status).toBe(200);
    return recorder.take();
  };

  beforeAll(async () => {
    ts = await startTestServer(
      [
        { publicKey: KEEP_KEY, projectId: 5, organizationId: ORG, sampling: { version: 2, rules: [sampleRate(1, 'trace', 1)] } },
        { publicKey: DROP_KEY, projectId: 6, organizationId: ORG, sampling: { version: 2, rules: [sampleRate(1, 'trace', 0)] } },
        { publicKey: NO_MATCH_KEY, projectId: 7, organizationId: ORG, sampling: { version: 2, rules: [] } },
      ],
      { recorder },
    );
  });
  afterAll(async () => {
    await ts?.server.close();
  });

  it('counts a root transaction with the DSC name and its decision, and observes its release', async () => {
    // The event's spans all carry parent_span_id: only contexts.trace decides.
    expect(await send(KEEP_KEY, transaction(trace(KEEP_KEY)))).toEqual({
      roots: [{ orgId: ORG, projectId: 5, transaction: '/dsc-name', decision: 'keep', kind: 'transaction', release: '1.0', environment: 'production' }],
      releases: [{ projectId: 5, release: '1.0', environment: 'production' }],
    });
    expect(await send(DROP_KEY, transaction(trace(DROP_KEY)))).toEqual({ roots: [{ orgId: ORG, projectId: 6, transaction: '/dsc-name', decision: 'drop', kind: 'transaction', release: '1.0', environment: 'production' }], releases: [] });
    // No rule matched: kept, counted as keep.
    expect((await send(NO_MATCH_KEY, transaction(trace(NO_MATCH_KEY)))).roots).toEqual([{ orgId: ORG, projectId: 7, transaction: '/dsc-name', decision: 'keep', kind: 'transaction', release: '1.0', environment: 'production' }]);
  });

  it('counts the DSC name as rules read it: identifiers scrubbed', async () => {
    const named = trace(KEEP_KEY, { transaction: '/users/1234/orders/98765' });
    expect((await send(KEEP_KEY, transaction(named))).roots).toEqual([{ orgId: ORG, projectId: 5, transaction: '/users/*/orders/*', decision: 'keep', kind: 'transaction', release: '1.0', environment: 'production' }]);
  });

  it('does not count transactions with a parent span; observes their own release when kept', async () => {
    const root = trace(KEEP_KEY, { release: '9.9' });
    const body = transaction(trace(KEEP_KEY), (e) => {
      e.contexts.trace.parent_span_id = 'abcdefabcdefabcd';
      e.release = '2.0';
      e.environment = 'staging';
    }, root);
    expect(await send(KEEP_KEY, body)).toEqual({ roots: [], releases: [{ projectId: 5, release: '2.0', environment: 'staging' }] });
    const dropped = transaction(trace(DROP_KEY), (e) => (e.contexts.trace.parent_span_id = 'abcdefabcdefabcd'));
    expect(await send(DROP_KEY, dropped)).toEqual({ roots: [], releases: [] });
  });

  it('treats a null parent_span_id as a root, falls back to the event name, and skips transactions without a trace context', async () => {
    const t = trace(KEEP_KEY);
    const noName = { ...t, transaction: undefined as unknown as string };
    const body = transaction(t, (e) => {
      e.contexts.trace.parent_span_id = null;
      e.transaction = '/a "quoted" \\ name';
      e.release = undefined;
    }, noName);
    const got = await send(KEEP_KEY, body);
    expect(got.roots).toEqual([{ orgId: ORG, projectId: 5, transaction: '/a "quoted" \\ name', decision: 'keep', kind: 'transaction', release: '1.0', environment: 'production' }]);
    expect(got.releases).toEqual([{ projectId: 5, release: '1.0', environment: 'production' }]); // the root's DSC
    expect(await send(KEEP_KEY, transaction(trace(KEEP_KEY), (e) => delete e.contexts.trace))).toEqual({ roots: [], releases: [] });
  });

  it('counts root segment spans of streamed traces, not remote-parent segments or child-only containers', async () => {
    const t = trace(KEEP_KEY);
    expect(await send(KEEP_KEY, spans(t, [child(t), segment(t)]))).toEqual({
      roots: [{ orgId: ORG, projectId: 5, transaction: '/dsc-name', decision: 'keep', kind: 'segment', release: null, environment: null }],
      releases: [{ projectId: 5, release: 'seg@3', environment: 'canary' }],
    });
    const remote = trace(KEEP_KEY);
    expect((await send(KEEP_KEY, spans(remote, [segment(remote, { parent_span_id: '9999999999999999' })]))).roots).toEqual([]);
    const children = trace(KEEP_KEY);
    expect(await send(KEEP_KEY, spans(children, [child(children), child(children)]))).toEqual({ roots: [], releases: [] });
    // `is_segment: true` deeper than the span itself does not make a segment.
    const nested = trace(KEEP_KEY);
    expect(await send(KEEP_KEY, spans(nested, [{ ...child(nested), parent_span_id: undefined, attributes: { is_segment: true } }]))).toEqual({ roots: [], releases: [] });
    // The demo's (and SDKs') container, a DSC without transaction, and pretty-printed JSON.
    expect((await send(DROP_KEY, spanEnvelope(trace(DROP_KEY), 3))).roots).toEqual([{ orgId: ORG, projectId: 6, transaction: '/dsc-name', decision: 'drop', kind: 'segment', release: '1.0', environment: 'production' }]);
    const bare = trace(KEEP_KEY);
    const pretty = Buffer.from(
      `${JSON.stringify({ trace: { trace_id: bare.traceId, public_key: KEEP_KEY } })}\n{"type":"span"}\n${JSON.stringify({ items: [segment(bare, { attributes: undefined })] }, null, 2).replace(/\n/g, ' ')}\n`,
    );
    expect(await send(KEEP_KEY, pretty)).toEqual({ roots: [{ orgId: ORG, projectId: 5, transaction: '/segment-name', decision: 'keep', kind: 'segment', release: null, environment: null }], releases: [] });
  });

  it('counts one root per envelope: 10,000 root transactions in one envelope (one DSC, one trace) are one root', async () => {
    const t = trace(KEEP_KEY);
    const payload = JSON.stringify(transactionEvent({ ...t, transaction: '/event-name' }, t.traceId, 0));
    const item = `${JSON.stringify({ type: 'transaction', length: Buffer.byteLength(payload) })}\n${payload}\n`;
    const body = Buffer.from(`${JSON.stringify({ event_id: t.traceId, trace: { trace_id: t.traceId, public_key: KEEP_KEY, transaction: '/dsc-name', release: '1.0' } })}\n${item.repeat(10_000)}`);
    expect((await send(KEEP_KEY, body)).roots).toEqual([{ orgId: ORG, projectId: 5, transaction: '/dsc-name', decision: 'keep', kind: 'transaction', release: '1.0', environment: null }]);
    // Streamed: many root segments in one envelope still make one root.
    const s = trace(KEEP_KEY);
    const segments = Array.from({ length: 500 }, (_, i) => segment(s, { span_id: i.toString(16).padStart(16, '0') }));
    expect((await send(KEEP_KEY, spans(s, segments))).roots).toEqual([{ orgId: ORG, projectId: 5, transaction: '/dsc-name', decision: 'keep', kind: 'segment', release: null, environment: null }]);
  });

  it('counts nothing for errors, and never fails a request because of the recorder', async () => {
    expect(await send(KEEP_KEY, errorEnvelope(trace(KEEP_KEY), traceId()))).toEqual({ roots: [], releases: [] });
    const original = recorder.recordRoot;
    recorder.recordRoot = () => {
      throw new Error('recorder down');
    };
    try {
      expect((await postEnvelope(ts.server, 5, KEEP_KEY, transaction(trace(KEEP_KEY)))).status).toBe(200);
    } finally {
      recorder.recordRoot = original;
    }
    const metrics = (await request(`${ts.server.url}/metrics`, { method: 'GET' })).body;
    expect(metrics).toMatch(/dynamic_sampling_server_roots_recorded_total\{kind="segment",decision="keep"\} \d+/);
    expect(metrics).toMatch(/dynamic_sampling_server_roots_recorded_total\{kind="transaction",decision="drop"\} \d+/);
  });
});

describe('IpcTrafficRecorder (cluster workers)', () => {
  it('aggregates roots per minute, project, decision and name, and sends releases once a minute', () => {
    const sent: any[] = [];
    const ipc = new IpcTrafficRecorder((m) => sent.push(m));
    const at = Date.UTC(2024, 0, 1, 12, 0, 30);
    for (let i = 0; i < 3; i++) ipc.recordRoot({ orgId: 1, projectId: 2, transaction: '/a', decision: 'keep', at });
    ipc.recordRoot({ orgId: 1, projectId: 2, transaction: '/a', decision: 'drop', at, count: 2 });
    // Another release or kind is another class (the rate budget tells them apart).
    ipc.recordRoot({ orgId: 1, projectId: 2, transaction: '/a', decision: 'drop', at, kind: 'segment', release: '2.0', environment: null });
    ipc.observeRelease({ projectId: 2, release: '1.0', environment: null });
    ipc.observeRelease({ projectId: 2, release: '1.0', environment: null });
    ipc.close();
    expect(sent).toHaveLength(1);
    expect(sent[0].roots).toEqual([
      { orgId: 1, projectId: 2, transaction: '/a', decision: 'keep', count: 3, at: Date.UTC(2024, 0, 1, 12, 0, 0) },
      { orgId: 1, projectId: 2, transaction: '/a', decision: 'drop', count: 2, at: Date.UTC(2024, 0, 1, 12, 0, 0) },
      { orgId: 1, projectId: 2, transaction: '/a', decision: 'drop', count: 1, at: Date.UTC(2024, 0, 1, 12, 0, 0), kind: 'segment', release: '2.0', environment: null },
    ]);
    expect(sent[0].releases).toHaveLength(1);
  });
});
