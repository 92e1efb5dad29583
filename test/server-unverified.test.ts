// With the configs upstream unreachable: keys are accepted unchecked (or refused with --reject-unknown-keys), and metrics and /stats stay bounded.

import { afterEach, describe, expect, it } from 'vitest';

import { freePort } from '../src/demo/free-port';
import { transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { keyOf } from './helpers/upstream';
import { postEnvelope, request, startTestServer, type TestServer } from './helpers/server';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.server.close();
  t = undefined;
});

/** A loopback port nothing listens on: the configs upstream is unreachable (connection refused). */
const deadPort = freePort;

const envelope = (key: string, n: number) => {
  const trace = { traceId: `67e5504410b1426f9247bb680e5f${String(n).padStart(4, '0')}`, publicKey: key, transaction: '/t' };
  return transactionEnvelope(trace, transactionEvent(trace, trace.traceId));
};

async function startUnreachable(options: { rejectUnknownKeys?: boolean; maxTrackedProjects?: number }): Promise<TestServer> {
  const port = await deadPort();
  return startTestServer([], { configs: { upstream: { url: `http://127.0.0.1:${port}` } }, authWait: 100, ...options });
}

describe('configs upstream unreachable', () => {
  it('accepts random keys and project ids unchecked, with bounded /stats entries and outcome series ("other" past the limit)', async () => {
    t = await startUnreachable({ maxTrackedProjects: 5 });
    const sent = Array.from({ length: 20 }, (_, i) => ({ key: keyOf(0xabc000 + i), projectId: 1000 + i }));
    for (const [i, { key, projectId }] of sent.entries()) {
      const res = await postEnvelope(t.server, projectId, key, envelope(key, i));
      expect(res.status, res.body).toBe(200);
    }
    const stats = (await request(`${t.server.url}/stats`, { method: 'GET' })).json();
    expect(Object.keys(stats.projects).sort()).toEqual(['1000', '1001', '1002', '1003', '1004', 'other']);
    expect(stats.projects.other.envelopes).toBe(15);
    const metrics = await t.server.registry.metrics();
    const projectLabels = new Set([...metrics.matchAll(/dynamic_sampling_server_outcomes_total\{project_id="([^"]+)"/g)].map((m) => m[1]));
    expect([...projectLabels].sort()).toEqual(['1000', '1001', '1002', '1003', '1004', 'other']);
    expect(t.kept()).toHaveLength(20);
  });

  it('--reject-unknown-keys: refuses unchecked keys with 503 and Retry-After, stores nothing', async () => {
    t = await startUnreachable({ rejectUnknownKeys: true });
    const key = keyOf(0xdef);
    const res = await postEnvelope(t.server, 1, key, envelope(key, 1));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.json().detail).toMatch(/cannot be checked now/);
    expect(t.kept()).toHaveLength(0);
    const stats = (await request(`${t.server.url}/stats`, { method: 'GET' })).json();
    expect(stats.projects).toEqual({});
  });
});
