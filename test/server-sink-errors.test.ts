// The file sink after a write error: 503 while failing, the error logged once with the path and counted, /healthz and /readyz failing, then reopened.

import { existsSync, readFileSync, symlinkSync, unlinkSync } from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { parseJsonLines } from '../src/server/sinks/record';
import { captureLogger, postEnvelope, request, sampleRate, startTestServer, tempDir, waitFor, type TestServer } from './helpers/server';

const KEY = 'abd0f232775f45feab79864e580d160b';
const projects = [{ publicKey: KEY, projectId: 3, organizationId: 1, sampling: { version: 2, rules: [sampleRate(1, 'trace', 1)] } }];
const envelope = (n: number) => {
  const trace = { traceId: `67e5504410b1426f9247bb680e5f${String(n).padStart(4, '0')}`, publicKey: KEY, transaction: '/t' };
  return transactionEnvelope(trace, transactionEvent(trace, trace.traceId));
};

let t: TestServer | undefined;
afterEach(async () => {
  await t?.server.close();
  t = undefined;
});

describe('file sink write errors', () => {
  it('answers 503 while the file cannot be written, says so once (with the path), in /metrics, /healthz and /readyz, and recovers', async () => {
    // /dev/full fails every write with ENOSPC: a real full disk. The sink's path is a link to it, replaced later by a plain file.
    const dir = tempDir('ds-sink-');
    const file = path.join(dir, 'kept.jsonl');
    symlinkSync('/dev/full', file);
    const { logger, records } = captureLogger();
    t = await startTestServer(projects, { sink: { type: 'file', path: file }, logger });

    const first = await postEnvelope(t.server, 3, KEY, envelope(1));
    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toBeDefined();
    expect(first.json().detail).toMatch(/ENOSPC/);

    const health = await request(`${t.server.url}/healthz`, { method: 'GET' });
    expect(health.status).toBe(503);
    expect(health.json()).toMatchObject({ ok: false, sink: { ok: false, error: expect.stringMatching(/ENOSPC/) } });
    const ready = await request(`${t.server.url}/readyz`, { method: 'GET' });
    expect(ready.status).toBe(503);
    expect(ready.json()).toMatchObject({ ok: false, draining: false });

    // Still failing (or failing again after a reopen of the same full device): 503, no second log line.
    expect((await postEnvelope(t.server, 3, KEY, envelope(2))).status).toBe(503);
    const errors = () => records().filter((r) => r.level >= 50);
    expect(errors()).toHaveLength(1);
    expect(errors()[0].msg).toContain(file);
    expect(errors()[0].err.message).toMatch(/ENOSPC/);
    expect(await t.server.registry.metrics()).toMatch(new RegExp(`dynamic_sampling_server_sink_errors_total\\{sink="file:${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"\\} [1-9]`));

    // Space again: the sink reopens the path by itself and takes envelopes.
    unlinkSync(file);
    await waitFor(() => existsSync(file), 10_000, 'the sink to reopen its file');
    for (let i = 0; (await request(`${t.server.url}/healthz`, { method: 'GET' })).status !== 200; i++) {
      if (i > 200) throw new Error('the sink did not report healthy after reopening');
      await new Promise((r) => setTimeout(r, 20));
    }
    const kept = await postEnvelope(t.server, 3, KEY, envelope(3));
    expect(kept.status).toBe(200);
    expect(parseJsonLines(readFileSync(file, 'utf8')).map((r) => r.bytes.equals(envelope(3)))).toEqual([true]);
    expect((await request(`${t.server.url}/healthz`, { method: 'GET' })).status).toBe(200);
    expect((await request(`${t.server.url}/readyz`, { method: 'GET' })).status).toBe(200);
    expect(errors()).toHaveLength(1);
    expect(records().some((r) => /again/.test(r.msg))).toBe(true);
  });

  it('/healthz and /readyz answer ok with a healthy sink', async () => {
    t = await startTestServer(projects);
    expect((await request(`${t.server.url}/healthz`, { method: 'GET' })).json()).toEqual({ ok: true, sink: { ok: true, ready: true } });
    expect((await request(`${t.server.url}/readyz`, { method: 'GET' })).json()).toEqual({ ok: true, sink: { ok: true, ready: true }, draining: false });
  });
});
