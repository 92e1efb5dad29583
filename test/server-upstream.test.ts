// The upstream sink: nothing kept is lost while the upstream is down for a while; a full queue answers 503 with Retry-After.

import http from 'node:http';
import { createServer as createNetServer } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { spanEnvelope, transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { Registry } from 'prom-client';

import { gunzipSync } from 'node:zlib';

import { generateRelayKeyPair, parsePublicKey, verifyRelaySignature } from '../src/configs/signing';
import { UpstreamSink } from '../src/server/sinks/upstream';
import type { KeptEnvelope } from '../src/server/sinks/types';
import { captureLogger, postEnvelope, request, sampleRate, startTestServer, waitFor, type TestServer } from './helpers/server';

const KEY = 'abd0f232775f45feab79864e580d160b';
const projects = [{ publicKey: KEY, projectId: 7, organizationId: 1, sampling: { version: 2, rules: [sampleRate(1, 'trace', 1)] } }];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A fake Relay: records what it accepts; can answer 503 or be switched off. */
class FakeUpstream {
  received: { path: string; auth: string | undefined; body: Buffer; headers: http.IncomingHttpHeaders }[] = [];
  status = 200;
  /** While true, answers wait for `release()`. */
  hold = false;
  private held: (() => void)[] = [];
  private server: http.Server | null = null;
  constructor(readonly port: number) {}

  start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = (): void => {
          if (this.status === 200) this.received.push({ path: req.url ?? '', auth: req.headers['x-sentry-auth'] as string | undefined, body: Buffer.concat(chunks), headers: req.headers });
          res.writeHead(this.status, this.status === 503 ? { 'retry-after': '0' } : {});
          res.end('{}');
        };
        if (this.hold) this.held.push(answer);
        else answer();
      });
    });
    return new Promise((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
  }

  /** Requests waiting for `release()`. */
  get waiting(): number {
    return this.held.length;
  }

  release(): void {
    this.hold = false;
    this.held.splice(0).forEach((answer) => answer());
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}

let t: TestServer | undefined;
let upstream: FakeUpstream | undefined;
afterEach(async () => {
  await upstream?.stop();
  await t?.server.close();
  t = undefined;
  upstream = undefined;
});

const envelopes = (n: number) =>
  Array.from({ length: n }, (_, i) => {
    const trace = { traceId: `67e5504410b1426f9247bb680e5f${String(i).padStart(4, '0')}`, publicKey: KEY, transaction: `/t/${i}` };
    return i % 2 === 0 ? transactionEnvelope(trace, transactionEvent(trace, `9ec79c33ec9942ab8353589fcb2e${String(i).padStart(4, '0')}`)) : spanEnvelope(trace);
  });
const b64 = (b: Buffer) => b.toString('base64');

describe('upstream sink', () => {
  it('keeps everything while the upstream is down, then delivers it all once it is back', async () => {
    const port = await freePort();
    upstream = new FakeUpstream(port);
    t = await startTestServer(projects, { sink: { type: 'upstream', url: `http://127.0.0.1:${port}`, initialBackoff: 20, maxBackoff: 200 } });
    const bodies = envelopes(40);

    // Down (connection refused) for the first half.
    const first = await Promise.all(bodies.slice(0, 20).map((b) => postEnvelope(t!.server, 7, KEY, b)));
    expect(first.map((r) => r.status)).toEqual(first.map(() => 200));
    await new Promise((r) => setTimeout(r, 300));

    // Answering 503 for the second half.
    upstream.status = 503;
    await upstream.start();
    const second = await Promise.all(bodies.slice(20).map((b) => postEnvelope(t!.server, 7, KEY, b)));
    expect(second.map((r) => r.status)).toEqual(second.map(() => 200));
    await new Promise((r) => setTimeout(r, 300));
    expect(upstream.received.length).toBe(0);

    // Back.
    upstream.status = 200;
    await waitFor(() => upstream!.received.length >= bodies.length, 10_000, 'every envelope to reach the upstream');
    expect(await t.server.sink.flush(1000)).toBe(true);
    expect(upstream.received.map((r) => b64(r.body)).sort()).toEqual(bodies.map(b64).sort());
    expect(new Set(upstream.received.map((r) => r.path))).toEqual(new Set(['/api/7/envelope/']));
    expect(upstream.received[0].auth).toContain(`sentry_key=${KEY}`);
    const metrics = await t.server.registry.metrics();
    expect(metrics).toMatch(/dynamic_sampling_server_upstream_retries_total\{reason="[^"]+"\} [1-9]/);
    expect(metrics).toContain('dynamic_sampling_server_upstream_sent_total 40');
  });

  it('answers 503 with Retry-After when the queue is full, and delivers what it queued', async () => {
    const port = await freePort();
    upstream = new FakeUpstream(port);
    t = await startTestServer(projects, { sink: { type: 'upstream', url: `http://127.0.0.1:${port}`, maxQueue: 5, concurrency: 1, initialBackoff: 50, maxBackoff: 100, retryAfter: 7 } });
    const bodies = envelopes(12);
    const accepted: Buffer[] = [];
    let refused: Awaited<ReturnType<typeof postEnvelope>> | undefined;
    for (const body of bodies) {
      const res = await postEnvelope(t.server, 7, KEY, body);
      if (res.status === 200) accepted.push(body);
      else {
        expect(res.status).toBe(503);
        refused = res;
      }
    }
    // 5 queued, plus the one being retried when a request arrived while it was out of the queue.
    expect(accepted.length).toBeGreaterThanOrEqual(5);
    expect(accepted.length).toBeLessThanOrEqual(8);
    expect(refused?.headers['retry-after']).toBe('7');
    expect(refused?.json().detail).toMatch(/forwarding queue is full/);
    const ready = await request(`${t.server.url}/readyz`, { method: 'GET' });
    expect(ready.status).toBe(503);
    expect(ready.json().sink.error).toMatch(/forwarding queue is full/);
    // Back-pressure, not a failure: a restart (liveness) would only lose the queue.
    expect((await request(`${t.server.url}/healthz`, { method: 'GET' })).status).toBe(200);
    await upstream.start();
    await waitFor(() => upstream!.received.length >= accepted.length, 10_000, 'the queued envelopes to arrive');
    expect(await t.server.sink.flush(1000)).toBe(true);
    expect(upstream.received.map((r) => b64(r.body)).sort()).toEqual(accepted.map(b64).sort());
    const metrics = await t.server.registry.metrics();
    expect(metrics).toContain('outcome="rate_limited",reason="sink_unavailable"');
  });
});

const kept = (body: Buffer, i: number): KeptEnvelope => ({
  receivedAt: Date.now(),
  projectId: 7,
  publicKey: KEY,
  eventId: `9ec79c33ec9942ab8353589fcb2e${String(i).padStart(4, '0')}`,
  decision: { decision: 'keep', kind: 'transaction', sampleRate: 1, randomValue: 0.5, matchedRuleIds: [], keepReason: 'sampled', traceFullySampled: true, spanCount: 0, code: 0 } as unknown as KeptEnvelope['decision'],
  modified: false,
  envelope: body,
});

describe('upstream sink forwarding', () => {
  it("passes the client's X-Forwarded-For (with its address appended), User-Agent and sentry_client on", async () => {
    const port = await freePort();
    upstream = new FakeUpstream(port);
    await upstream.start();
    t = await startTestServer(projects, { sink: { type: 'upstream', url: `http://127.0.0.1:${port}` } });
    const [proxied, direct] = envelopes(2);
    const sdk = 'sentry.javascript.browser/8.0.0';
    expect((await postEnvelope(t.server, 7, null, proxied, {
      'x-sentry-auth': `Sentry sentry_version=7, sentry_key=${KEY}, sentry_client=${sdk}`,
      'x-forwarded-for': '203.0.113.7, 198.51.100.2',
      'user-agent': 'Mozilla/5.0 (test)',
    })).status).toBe(200);
    expect((await request(`${t.server.url}/api/7/envelope/?sentry_key=${KEY}&sentry_client=sentry.python/2.1.0`, { body: direct, headers: { 'user-agent': 'python-requests/2' } })).status).toBe(200);
    await waitFor(() => upstream!.received.length === 2, 5000, 'both envelopes upstream');
    const byBody = (b: Buffer) => upstream!.received.find((r) => r.body.equals(b))!.headers;
    expect(byBody(proxied)).toMatchObject({ 'x-forwarded-for': '203.0.113.7, 198.51.100.2, 127.0.0.1', 'user-agent': 'Mozilla/5.0 (test)' });
    expect(byBody(proxied)['x-sentry-auth']).toContain(`sentry_client=${sdk}`);
    expect(byBody(direct)).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'user-agent': 'python-requests/2' });
    expect(byBody(direct)['x-sentry-auth']).toContain('sentry_client=sentry.python/2.1.0');
  });

  it("forwards like a Relay: the client's X-Sentry-Auth as received, the relay's signed id, and bodies compressed again on request", async () => {
    const port = await freePort();
    upstream = new FakeUpstream(port);
    await upstream.start();
    const relay = generateRelayKeyPair();
    const relayId = '4c8f2a1e-0000-4a2b-9c3d-000000000001';
    t = await startTestServer(projects, { sink: { type: 'upstream', url: `http://127.0.0.1:${port}`, relay: { relayId, secretKey: relay.secretKey }, encoding: 'gzip' } });
    const [body] = envelopes(1);
    const auth = `Sentry sentry_key=${KEY},sentry_version=7, sentry_client=custom-sdk/1.0, sentry_timestamp=1700000000`;
    expect((await postEnvelope(t.server, 7, null, body, { 'x-sentry-auth': auth })).status).toBe(200);
    await waitFor(() => upstream!.received.length === 1, 5000, 'the envelope upstream');
    const [received] = upstream.received;
    expect(received.headers).toMatchObject({ 'x-sentry-auth': auth, 'content-encoding': 'gzip', 'x-sentry-relay-id': relayId });
    expect(gunzipSync(received.body).equals(body)).toBe(true);
    // The signature covers the bytes sent (compressed), as the upstream reads them.
    expect(verifyRelaySignature(parsePublicKey(relay.publicKey), received.body, received.headers['x-sentry-relay-signature'] as string)).not.toBeNull();
    expect(() => new UpstreamSink({ url: 'http://127.0.0.1:1', encoding: 'zstd' as never }, { logger: captureLogger().logger, registry: new Registry() })).toThrow(/encoding must be one of identity, gzip, deflate, br/);
  });
});

describe('upstream sink shutdown', () => {
  it('ends close() as soon as the envelopes in flight are delivered, without waiting for its deadline', async () => {
    const port = await freePort();
    upstream = new FakeUpstream(port);
    upstream.hold = true;
    await upstream.start();
    const { logger, records } = captureLogger();
    const sink = new UpstreamSink({ url: `http://127.0.0.1:${port}` }, { logger, registry: new Registry() });
    const bodies = envelopes(3);
    await Promise.all(bodies.map((b, i) => sink.accept(kept(b, i))));
    await waitFor(() => upstream!.waiting === 3, 5000, 'the envelopes to be in flight');
    // A deadline far past the test's own timeout: only the drain can end this close().
    const closed = sink.close(120_000);
    upstream.release();
    await closed;
    expect(upstream.received.map((r) => b64(r.body)).sort()).toEqual(bodies.map(b64).sort());
    expect(records().filter((r) => r.level >= 50)).toEqual([]);
  });

  it('says what was really lost when the deadline ends it: envelopes never sent, and those in flight', async () => {
    const port = await freePort();
    upstream = new FakeUpstream(port);
    upstream.hold = true;
    await upstream.start();
    const { logger, records } = captureLogger();
    const sink = new UpstreamSink({ url: `http://127.0.0.1:${port}`, concurrency: 1 }, { logger, registry: new Registry() });
    const bodies = envelopes(3);
    await Promise.all(bodies.map((b, i) => sink.accept(kept(b, i))));
    await waitFor(() => upstream!.waiting === 1, 5000, 'one envelope in flight');
    await sink.close(100);
    const lost = records().filter((r) => r.level >= 50);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ neverSent: 2, inFlight: 1 });
    expect(lost[0].msg).toMatch(/2 envelopes never sent.*1 in flight/);
  });
});

describe('upstream sink logging', () => {
  it('logs a full queue once per interval, with the count of the repeats, not once per 503', async () => {
    const port = await freePort();
    upstream = new FakeUpstream(port);
    upstream.hold = true;
    await upstream.start();
    const { logger, records } = captureLogger();
    const sink = new UpstreamSink({ url: `http://127.0.0.1:${port}`, maxQueue: 1, concurrency: 1 }, { logger, registry: new Registry() });
    const bodies = envelopes(50);
    const results = await Promise.allSettled(bodies.map((b, i) => sink.accept(kept(b, i))));
    const refusals = results.filter((r) => r.status === 'rejected').length;
    expect(refusals).toBeGreaterThanOrEqual(47);
    const full = () => records().filter((r) => /forwarding queue full/.test(r.msg));
    expect(full()).toHaveLength(1);
    upstream.release();
    await sink.close(5000);
    // The repeats are counted into one line when the interval ends (here: at close).
    expect(full()).toHaveLength(2);
    expect(full()[1].repeated).toBe(refusals - 1);
  });
});
