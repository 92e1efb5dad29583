// The envelope endpoint's features: authentication sources, encodings, CORS, responses, what drops remove, error tags, metrics.

import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { errorEnvelope, spanEnvelope, transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { SamplingEngine } from '../src/engine/engine';
import { planForward } from '../src/server/envelope/plan';
import { keyFromAuthHeader } from '../src/server/http/auth';
import { parseSinkSpec } from '../src/server/sinks/create';
import { ServerOptionsError } from '../src/server/errors';
import { parseEnvelope, postEnvelope, request, sampleRate, startTestServer, type TestServer } from './helpers/server';

const KEY = 'abd0f232775f45feab79864e580d160b';
const DROP_KEY = 'e12d836b15bb49d7bbf99e64295d995b';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer([
    { publicKey: KEY, projectId: 1, organizationId: 1, sampling: { version: 2, rules: [sampleRate(7, 'trace', 1)] } },
    { publicKey: DROP_KEY, projectId: 2, organizationId: 1, sampling: { version: 2, rules: [{ id: 8, type: 'project', condition: { op: 'and', inner: [] }, samplingValue: { type: 'factor', value: 0.5 } }, sampleRate(9, 'trace', 0)] } },
  ]);
});
afterAll(async () => {
  await t?.server.close();
});

const trace = (publicKey: string, n = 1, sampled?: boolean) => ({ traceId: `67e5504410b1426f9247bb680e5fe0${String(n).padStart(2, '0')}`, publicKey, transaction: '/a', ...(sampled === undefined ? {} : { sampled }) });
const lastKept = () => t.kept().at(-1)!;

describe('authentication', () => {
  const body = () => transactionEnvelope(trace(KEY), transactionEvent(trace(KEY), '9ec79c33ec9942ab8353589fcb2e04dc'));

  it('reads sentry_key from X-Sentry-Auth, Authorization, the query, or the envelope dsn', async () => {
    expect((await postEnvelope(t.server, 1, KEY, body())).status).toBe(200);
    expect((await request(`${t.server.url}/api/1/envelope/`, { body: body(), headers: { authorization: `Sentry sentry_key=${KEY}, sentry_version=7` } })).status).toBe(200);
    expect((await request(`${t.server.url}/api/1/envelope/?sentry_key=${KEY}&sentry_version=7`, { body: body() })).status).toBe(200);
    const withDsn = Buffer.concat([Buffer.from(`{"dsn":"http://${KEY}@127.0.0.1/1"}\n{"type":"client_report"}\n{"discarded_events":[]}\n`)]);
    expect((await request(`${t.server.url}/api/1/envelope/`, { body: withDsn })).status).toBe(200);
    expect(lastKept().bytes.equals(withDsn)).toBe(true);
  });

  it('parses auth headers', () => {
    expect(keyFromAuthHeader(`Sentry sentry_version=7,sentry_client=x/1, sentry_key=${KEY}`)).toBe(KEY);
    expect(keyFromAuthHeader('Sentry sentry_version=7')).toBeNull();
  });
});

describe('encodings', () => {
  const plain = transactionEnvelope(trace(KEY, 2), transactionEvent(trace(KEY, 2), '9ec79c33ec9942ab8353589fcb2e0402'));
  it.each([
    ['gzip', gzipSync(plain)],
    ['deflate', deflateSync(plain)],
    ['deflate', deflateRawSync(plain)],
    ['br', brotliCompressSync(plain)],
    ['identity', plain],
  ])('%s: stores the decompressed bytes exactly', async (encoding, body) => {
    const res = await postEnvelope(t.server, 1, KEY, body, { 'content-encoding': encoding });
    expect(res.status).toBe(200);
    expect(lastKept().bytes.equals(plain)).toBe(true);
    expect(lastKept().modified).toBe(false);
  });
});

describe('responses and CORS', () => {
  it('answers preflights and exposes headers to browsers', async () => {
    const pre = await request(`${t.server.url}/api/1/envelope/?sentry_key=${KEY}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(pre.status).toBe(200);
    expect(pre.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect(pre.headers['access-control-allow-methods']).toContain('POST');
    expect(pre.headers['access-control-allow-headers']).toContain('content-type');
    const post = await request(`${t.server.url}/api/1/envelope/?sentry_key=${KEY}`, {
      body: spanEnvelope(trace(KEY)),
      headers: { origin: 'https://shop.example.com', 'content-type': 'text/plain;charset=UTF-8' },
    });
    expect(post.status).toBe(200);
    expect(post.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect(post.json().id).toMatch(/^[0-9a-f]{32}$/);
  });

  it("answers the envelope's event id", async () => {
    const res = await postEnvelope(t.server, 1, KEY, errorEnvelope(trace(KEY), '8ec79c33-ec99-42ab-8353-589fcb2e04dc'));
    expect(res.json()).toEqual({ id: '8ec79c33ec9942ab8353589fcb2e04dc' });
  });
});

describe('what a drop removes', () => {
  const dsc = JSON.stringify({ trace_id: '67e5504410b1426f9247bb680e5fe0c8', public_key: DROP_KEY, sampled: 'true' });
  const event = transactionEvent(trace(DROP_KEY), '9ec79c33ec9942ab8353589fcb2e04dc');

  it('a dropped transaction loses its attachments but keeps its profile and unrelated items', async () => {
    const body = Buffer.from(
      `{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","trace":${dsc}}\n` +
        `{"type":"transaction"}\n${JSON.stringify(event)}\n` +
        '{"type":"attachment","length":3,"filename":"a.txt"}\nabc\n' +
        '{"type":"profile"}\n{"version":"1","profile":{}}\n' +
        '{"type":"client_report"}\n{"discarded_events":[]}\n',
    );
    const res = await postEnvelope(t.server, 2, DROP_KEY, body);
    expect(res.status).toBe(200);
    const record = lastKept();
    expect(record.decision).toMatchObject({ decision: 'drop', kind: 'transaction', matchedRuleIds: [8, 9] });
    expect(record.modified).toBe(true);
    const forwarded = parseEnvelope(record.bytes);
    expect(forwarded.items.map((i) => i.header.type)).toEqual(['profile', 'client_report']);
    expect(record.bytes.toString()).toBe(
      `{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","trace":${dsc}}\n{"type":"profile"}\n{"version":"1","profile":{}}\n{"type":"client_report"}\n{"discarded_events":[]}\n`,
    );
    const metrics = (await request(`${t.server.url}/metrics`, { method: 'GET' })).body;
    // Relay reports rule categories, not ids: rules 8 and 9 are both "other" (0).
    expect(metrics).toContain('dynamic_sampling_server_outcomes_total{project_id="2",item_type="transaction",outcome="filtered_sampling",reason="Sampled:0"} 1');
    expect(metrics).toContain('dynamic_sampling_server_outcomes_total{project_id="2",item_type="attachment",outcome="filtered_sampling",reason="Sampled:0"} 1');
    expect(metrics).toContain('dynamic_sampling_server_outcomes_total{project_id="2",item_type="profile",outcome="accepted",reason=""} 1');
    expect(metrics).toMatch(/dynamic_sampling_server_decision_duration_seconds_bucket\{le="[^"]+",kind="transaction"\} \d+/);
    expect(metrics).toContain('dynamic_sampling_configs_');
  });

  it('a dropped span envelope loses its spans; an error sent along is kept and tagged sampled=false', async () => {
    const spans = spanEnvelope({ ...trace(DROP_KEY), sampled: true });
    const nl = spans.indexOf(10);
    const error = '{"event_id":"8ec79c33ec9942ab8353589fcb2e04dc","exception":{"values":[]},"contexts":{"trace":{"trace_id":"67e5504410b1426f9247bb680e5fe001"}}}';
    const body = Buffer.concat([spans, Buffer.from(`{"type":"event","length":${error.length}}\n${error}\n`)]);
    expect((await postEnvelope(t.server, 2, DROP_KEY, body)).status).toBe(200);
    const record = lastKept();
    expect(record.decision).toMatchObject({ decision: 'drop', kind: 'spans' });
    const forwarded = parseEnvelope(record.bytes);
    expect(forwarded.items.map((i) => i.header.type)).toEqual(['event']);
    expect(record.bytes.subarray(0, nl).equals(spans.subarray(0, nl))).toBe(true);
    const tagged = forwarded.items[0];
    expect(tagged.header.length).toBe(tagged.payload.length);
    expect(JSON.parse(tagged.payload.toString())).toEqual({ ...JSON.parse(error), contexts: { trace: { trace_id: '67e5504410b1426f9247bb680e5fe001', sampled: false } } });
  });

  it('a span v2 container without a DSC is refused before sampling: not forwarded, counted as invalid (missing_dsc)', async () => {
    const spans = spanEnvelope({ ...trace(KEY, 3) });
    const nl = spans.indexOf(10);
    // The same items under an envelope header without `trace`.
    const body = Buffer.concat([Buffer.from(`{"event_id":"7ec79c33ec9942ab8353589fcb2e04dc"}`), spans.subarray(nl)]);
    const before = t.kept().length;
    expect((await postEnvelope(t.server, 1, KEY, body)).status).toBe(200);
    expect(t.kept().length).toBe(before);
    const metrics = (await request(`${t.server.url}/metrics`, { method: 'GET' })).body;
    expect(metrics).toContain('dynamic_sampling_server_outcomes_total{project_id="1",item_type="span",outcome="invalid",reason="missing_dsc"} 2');
  });

  it('an error of a kept trace is tagged sampled=true; one without a sampled flag in its DSC is not tagged', async () => {
    expect((await postEnvelope(t.server, 1, KEY, errorEnvelope(trace(KEY, 3, true), '8ec79c33ec9942ab8353589fcb2e0403'))).status).toBe(200);
    const tagged = lastKept();
    expect(tagged.decision.traceFullySampled).toBe(true);
    expect(JSON.parse(parseEnvelope(tagged.bytes).items[0].payload.toString()).contexts.trace.sampled).toBe(true);
    const untaggedBody = errorEnvelope(trace(KEY, 4), '8ec79c33ec9942ab8353589fcb2e0404');
    expect((await postEnvelope(t.server, 1, KEY, untaggedBody)).status).toBe(200);
    expect(lastKept().bytes.equals(untaggedBody)).toBe(true);
  });
});

describe('the error tag the engine plans', () => {
  // Error events of a trace whose root project keeps (sampled) or drops everything, through the engine's plan.
  const engine = new SamplingEngine();
  const KEEP_ALL = 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0';
  const DROP_ALL = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';
  engine.putProject(KEEP_ALL, { projectId: 1, organizationId: 1 }, { version: 2, rules: [sampleRate(1, 'trace', 1)] });
  engine.putProject(DROP_ALL, { projectId: 2, organizationId: 1 }, { version: 2, rules: [sampleRate(1, 'trace', 0)] });
  const tagged = (payload: Buffer, sampled = true): string | null => {
    const key = sampled ? KEEP_ALL : DROP_ALL;
    const header = Buffer.from(`${JSON.stringify({ trace: { trace_id: '67e5504410b1426f9247bb680e5fe0c8', public_key: key, sampled: true } })}\n{"type":"event"}\n`);
    const body = Buffer.concat([header, payload, Buffer.from('\n')]);
    const code = engine.sampleEnvelope(body, key);
    expect(code).toBeGreaterThanOrEqual(0);
    const plan = planForward(body, engine.plan, engine.decideEnvelope(body, key).traceFullySampled);
    return plan.modified ? plan.forward!.subarray(header.length, plan.forward!.length - 1).toString() : null;
  };
  const tag = (json: string, sampled = true) => tagged(Buffer.from(json), sampled);
  it('inserts the flag and changes no other byte', () => {
    expect(tag('{"a": 1.0, "contexts": {"trace": {"trace_id": "x"}}}')).toBe('{"a": 1.0, "contexts": {"trace": {"sampled":true,"trace_id": "x"}}}');
    expect(tag('{"a":1}')).toBe('{"contexts":{"trace":{"sampled":true}},"a":1}');
    expect(tag('{}', false)).toBe('{"contexts":{"trace":{"sampled":false}}}');
    expect(tag('{"contexts":{}}')).toBe('{"contexts":{"trace":{"sampled":true}}}');
    expect(tag('{"contexts":null}')).toBe('{"contexts":{"trace":{"sampled":true}}}');
    expect(tag('{"contexts":{"trace":null}}')).toBe('{"contexts":{"trace":{"sampled":true}}}');
    expect(tag('{"contexts":{"trace":{"sampled":null}}}', false)).toBe('{"contexts":{"trace":{"sampled":false}}}');
    expect(tag('{"contexts":{"os":{"name":"a\\"}"},"trace":{"x":[1,{"sampled":3}]}}}')).toBe('{"contexts":{"os":{"name":"a\\"}"},"trace":{"sampled":true,"x":[1,{"sampled":3}]}}}');
    expect(tag('{"big": 12345678901234567890, "contexts":{"trace":{}}}')).toBe('{"big": 12345678901234567890, "contexts":{"trace":{"sampled":true}}}');
  });
  it('leaves set flags, non-objects and invalid JSON alone', () => {
    expect(tag('{"contexts":{"trace":{"sampled":false}}}')).toBeNull();
    expect(tag('{"contexts":"nope"}')).toBeNull();
    expect(tag('[1]')).toBeNull();
    expect(tag('{"contexts":')).toBeNull();
    expect(tagged(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]))).toBeNull();
  });
  it('edits the last of duplicate keys, as JSON.parse reads them', () => {
    const out = tag('{"contexts":{"trace":{"a":1}},"contexts":{"trace":{"b":2}}}')!;
    expect(JSON.parse(out).contexts.trace).toEqual({ sampled: true, b: 2 });
  });
});

describe('sink specs', () => {
  it('parses file, stdout and upstream sinks', () => {
    expect(parseSinkSpec('file:./x.jsonl')).toEqual({ type: 'file', path: './x.jsonl' });
    expect(parseSinkSpec('./y.jsonl')).toEqual({ type: 'file', path: './y.jsonl' });
    expect(parseSinkSpec('stdout')).toEqual({ type: 'stdout' });
    expect(parseSinkSpec('http://relay:3000')).toEqual({ type: 'upstream', url: 'http://relay:3000' });
    expect(() => parseSinkSpec('kafka://x')).toThrow(ServerOptionsError);
  });
});
