// Counting for the control plane through the real server: what Relay counts as count_per_root_project (every transaction and segment span, toward the root project), with which name, decision and release (the engine counts in the decision's pass).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MemoryKeyValueStore } from '../src/control/store/memory-kv';
import { TrafficCounts } from '../src/control/traffic/counts';
import { CountingTrafficRecorder, type ReleaseObservation, type RootRecord, type TrafficRecorder } from '../src/control/traffic/recorder';
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

  it('counts a transaction with the DSC name and its decision, and observes its release', async () => {
    // The event's spans all carry parent_span_id: they are not segments.
    expect(await send(KEEP_KEY, transaction(trace(KEEP_KEY)))).toEqual({
      roots: [{ orgId: ORG, projectId: 5, transaction: '/dsc-name', decision: 'keep', kind: 'transaction', count: 1, release: '1.0', environment: 'production' }],
      releases: [{ projectId: 5, release: '1.0', environment: 'production' }],
    });
    expect(await send(DROP_KEY, transaction(trace(DROP_KEY)))).toEqual({ roots: [{ orgId: ORG, projectId: 6, transaction: '/dsc-name', decision: 'drop', kind: 'transaction', count: 1, release: '1.0', environment: 'production' }], releases: [] });
    // No rule matched: kept, counted as keep.
    expect((await send(NO_MATCH_KEY, transaction(trace(NO_MATCH_KEY)))).roots).toEqual([{ orgId: ORG, projectId: 7, transaction: '/dsc-name', decision: 'keep', kind: 'transaction', count: 1, release: '1.0', environment: 'production' }]);
  });

  it('counts the DSC name as rules read it: identifiers scrubbed', async () => {
    const named = trace(KEEP_KEY, { transaction: '/users/1234/orders/98765' });
    expect((await send(KEEP_KEY, transaction(named))).roots).toEqual([{ orgId: ORG, projectId: 5, transaction: '/users/*/orders/*', decision: 'keep', kind: 'transaction', count: 1, release: '1.0', environment: 'production' }]);
  });

  it('counts transactions with a parent span too, toward the root project, as Relay does; observes their own release when kept', async () => {
    // A transaction of project 7 continuing a trace that started in project 5 (the DSC's key).
    const root = trace(KEEP_KEY, { release: '9.9' });
    const body = transaction(trace(NO_MATCH_KEY), (e) => {
      e.contexts.trace.parent_span_id = 'abcdefabcdefabcd';
      e.release = '2.0';
      e.environment = 'staging';
    }, root);
    expect(await send(NO_MATCH_KEY, body)).toEqual({
      roots: [{ orgId: ORG, projectId: 5, transaction: '/dsc-name', decision: 'keep', kind: 'transaction', count: 1, release: '9.9', environment: 'production' }],
      releases: [{ projectId: 7, release: '2.0', environment: 'staging' }],
    });
    // The root project's trace rule drops it: counted as a drop, no release.
    const dropped = transaction(trace(KEEP_KEY), (e) => (e.contexts.trace.parent_span_id = 'abcdefabcdefabcd'), trace(DROP_KEY));
    expect(await send(KEEP_KEY, dropped)).toEqual({ roots: [{ orgId: ORG, projectId: 6, transaction: '/dsc-name', decision: 'drop', kind: 'transaction', count: 1, release: '1.0', environment: 'production' }], releases: [] });
  });

  it('counts under the DSC name only (none when the DSC has none, as Relay tags it), and skips transactions without a trace context', async () => {
    const t = trace(KEEP_KEY);
    const noName = { ...t, transaction: undefined as unknown as string };
    const body = transaction(t, (e) => {
      e.contexts.trace.parent_span_id = null;
      e.transaction = '/a "quoted" \\ name';
      e.release = undefined;
    }, noName);
    const got = await send(KEEP_KEY, body);
    expect(got.roots).toEqual([{ orgId: ORG, projectId: 5, transaction: null, decision: 'keep', kind: 'transaction', count: 1, release: '1.0', environment: 'production' }]);
    expect(got.releases).toEqual([{ projectId: 5, release: '1.0', environment: 'production' }]); // the root's DSC
    expect(await send(KEEP_KEY, transaction(trace(KEEP_KEY), (e) => delete e.contexts.trace))).toEqual({ roots: [], releases: [] });
  });

  it('counts segment spans, root or not, and nothing for child-only containers', async () => {
    const t = trace(KEEP_KEY);
    expect(await send(KEEP_KEY, spans(t, [child(t), segment(t)]))).toEqual({
      roots: [{ orgId: ORG, projectId: 5, transaction: '/dsc-name', decision: 'keep', kind: 'segment', count: 1, release: null, environment: null }],
      releases: [{ projectId: 5, release: 'seg@3', environment: 'canary' }],
    });
    // A segment with a remote parent (a service called by another) is a segment: Relay counts it.
    const remote = trace(KEEP_KEY);
    expect((await send(KEEP_KEY, spans(remote, [segment(remote, { parent_span_id: '9999999999999999' })]))).roots).toEqual([
      { orgId: ORG, projectId: 5, transaction: '/dsc-name', decision: 'keep', kind: 'segment', count: 1, release: null, environment: null },
    ]);
    const children = trace(KEEP_KEY);
    expect(await send(KEEP_KEY, spans(children, [child(children), child(children)]))).toEqual({ roots: [], releases: [] });
    // `is_segment: true` deeper than the span itself does not make a segment.
    const nested = trace(KEEP_KEY);
    expect(await send(KEEP_KEY, spans(nested, [{ ...child(nested), parent_span_id: undefined, attributes: { is_segment: true } }]))).toEqual({ roots: [], releases: [] });
    // The demo's (and SDKs') container, a DSC without transaction, and pretty-printed JSON.
    expect((await send(DROP_KEY, spanEnvelope(trace(DROP_KEY), 3))).roots).toEqual([{ orgId: ORG, projectId: 6, transaction: '/dsc-name', decision: 'drop', kind: 'segment', count: 1, release: '1.0', environment: 'production' }]);
    const bare = trace(KEEP_KEY);
    const pretty = Buffer.from(
      `${JSON.stringify({ trace: { trace_id: bare.traceId, public_key: KEEP_KEY } })}\n{"type":"span"}\n${JSON.stringify({ items: [segment(bare, { attributes: undefined })] }, null, 2).replace(/\n/g, ' ')}\n`,
    );
    expect(await send(KEEP_KEY, pretty)).toEqual({ roots: [{ orgId: ORG, projectId: 5, transaction: null, decision: 'keep', kind: 'segment', count: 1, release: null, environment: null }], releases: [] });
  });

  it('counts what Relay counts of a batch: every segment of a container, nothing of an envelope Relay rejects for its second transaction', async () => {
    const s = trace(KEEP_KEY);
    const segments = Array.from({ length: 500 }, (_, i) => segment(s, { span_id: i.toString(16).padStart(16, '0'), ...(i % 5 === 4 ? { is_segment: false, parent_span_id: '1111111111111111' } : {}) }));
    expect((await send(KEEP_KEY, spans(s, segments))).roots).toEqual([{ orgId: ORG, projectId: 5, transaction: '/dsc-name', decision: 'keep', kind: 'segment', count: 400, release: null, environment: null }]);
    // 10,000 transaction items in one envelope: Relay refuses the envelope (`duplicate_item`) and counts none.
    const t = trace(KEEP_KEY);
    const payload = JSON.stringify(transactionEvent({ ...t, transaction: '/event-name' }, t.traceId, 0));
    const item = `${JSON.stringify({ type: 'transaction', length: Buffer.byteLength(payload) })}\n${payload}\n`;
    const body = Buffer.from(`${JSON.stringify({ event_id: t.traceId, trace: { trace_id: t.traceId, public_key: KEEP_KEY, transaction: '/dsc-name', release: '1.0' } })}\n${item.repeat(10_000)}`);
    expect(await send(KEEP_KEY, body)).toEqual({ roots: [], releases: [] });
  });

  it('counts a transaction and the segments next to it, each with its own decision', async () => {
    // Project 6 drops its traces; spans next to a transaction get the spans' decision (the same trace rule here).
    const t = trace(DROP_KEY);
    const event = transactionEvent({ ...t, transaction: '/event-name' }, t.traceId, 1);
    const tx = transactionEnvelope(t, event);
    const container = spans(t, [segment(t), segment(t, { span_id: '3333333333333333', parent_span_id: '1111111111111111' })]);
    const body = Buffer.concat([tx, container.subarray(container.indexOf(10) + 1)]);
    expect((await send(DROP_KEY, body)).roots).toEqual([
      { orgId: ORG, projectId: 6, transaction: '/dsc-name', decision: 'drop', kind: 'transaction', count: 1, release: '1.0', environment: 'production' },
      { orgId: ORG, projectId: 6, transaction: '/dsc-name', decision: 'drop', kind: 'segment', count: 2, release: '1.0', environment: 'production' },
    ]);
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

describe("the control plane's counts of a multi-project trace", () => {
  // A trace started by project 5 (KEEP_KEY) that continues in project 7: what the control plane's
  // own recorder and counts store hold afterwards, as Sentry's count_per_root_project queries see it.
  const kv = new MemoryKeyValueStore();
  const counts = new TrafficCounts(kv);
  const recorder = new CountingTrafficRecorder({ counts, flushIntervalMs: 0 });
  let ts: TestServer;

  beforeAll(async () => {
    ts = await startTestServer(
      [
        { publicKey: KEEP_KEY, projectId: 5, organizationId: ORG, sampling: { version: 2, rules: [sampleRate(1, 'trace', 1)] } },
        { publicKey: NO_MATCH_KEY, projectId: 7, organizationId: ORG, sampling: { version: 2, rules: [] } },
      ],
      { recorder },
    );
  });
  afterAll(async () => {
    await ts?.server.close();
    await recorder.close();
  });

  it('counts every transaction and segment of the trace toward the root project, under the DSC name', async () => {
    const t = trace(KEEP_KEY);
    const sends = [
      // The root transaction in project 5, two child transactions in project 7 (one envelope each).
      [5, KEEP_KEY, transaction(t)],
      [7, NO_MATCH_KEY, transaction(t, (e) => (e.contexts.trace.parent_span_id = 'abcdefabcdefabcd'))],
      [7, NO_MATCH_KEY, transaction(t, (e) => (e.contexts.trace.parent_span_id = 'abcdefabcdefabcd'))],
      // Streamed spans of project 7: one container of 6 spans, 3 of them segments.
      [7, NO_MATCH_KEY, spans(t, [segment(t), child(t), segment(t, { parent_span_id: '9' }), child(t), segment(t), child(t)])],
    ] as const;
    for (const [projectId, key, body] of sends) expect((await postEnvelope(ts.server, projectId, key, body)).status).toBe(200);
    await recorder.flush();
    const now = Date.now();
    const window = { from: now - 120_000, to: now + 60_000 };
    const volumes = await counts.projectVolumes(window);
    expect(volumes.map((v) => ({ projectId: v.projectId, keep: v.keep, drop: v.drop, names: Object.fromEntries(v.transactions) }))).toEqual([
      { projectId: 5, keep: 6, drop: 0, names: { '/dsc-name': 6 } },
    ]);
    const classes = await counts.rootClasses(window);
    expect(classes.map((c) => [c.projectId, c.kind, c.transaction, c.keep])).toEqual(
      expect.arrayContaining([
        [5, 'transaction', '/dsc-name', 3],
        [5, 'segment', '/dsc-name', 3],
      ]),
    );
    expect(classes).toHaveLength(2);
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
