// Shutdown of the server as a process: SIGTERM under keep-alive load answers what is in flight with Connection: close and resets nothing acknowledged-or-written.

import { spawnSync } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import http from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { parseJsonLines } from '../src/server/sinks/record';
import { killIfRunning, run, type Running } from './helpers/process';
import { captureLogger, postEnvelope, request, requestTarget, sampleRate, startTestServer, tempDir, waitFor, writeProjects } from './helpers/server';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/main.js');
const CLI = path.join(ROOT, 'dist/cli.js');
const KEY = 'abd0f232775f45feab79864e580d160b';


let running: Running | null = null;
afterEach(async () => {
  await killIfRunning(running);
  running = null;
});

interface Outcome {
  eventId: string;
  status: number | null;
  connection: string | undefined;
  error: string | null;
}

/** POSTs on a keep-alive agent; resolves with the status and `Connection` header, or the error code. */
function post(agent: http.Agent, url: string, eventId: string): Promise<Outcome> {
  const trace = { traceId: eventId, publicKey: KEY, transaction: '/load' };
  const body = transactionEnvelope(trace, transactionEvent(trace, eventId));
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const req = http.request({ host: hostname, port, path: `/api/5/envelope/?sentry_key=${KEY}`, method: 'POST', agent, headers: { 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ eventId, status: res.statusCode ?? 0, connection: res.headers.connection, error: null }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ eventId, status: null, connection: undefined, error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ eventId, status: null, connection: undefined, error: err.code ?? err.message }));
    req.end(body);
  });
}

/** Whether a new connection to the server is refused (it stopped accepting). */
function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** A request the server holds in flight: its head is read (100 Continue proves it), half its body sent; `finish()` sends the rest. */
function slowRequest(url: string, eventId: string): Promise<{ finish: () => Promise<Outcome> }> {
  const trace = { traceId: eventId, publicKey: KEY, transaction: '/slow' };
  const body = transactionEnvelope(trace, transactionEvent(trace, eventId));
  const { hostname, port } = new URL(url);
  return new Promise((resolveStarted, reject) => {
    let answered: (o: Outcome) => void;
    const outcome = new Promise<Outcome>((r) => (answered = r));
    const req = http.request(
      { host: hostname, port, path: `/api/5/envelope/?sentry_key=${KEY}`, method: 'POST', agent: false, headers: { 'content-length': body.length, expect: '100-continue' } },
      (res) => {
        res.resume();
        res.on('end', () => answered({ eventId, status: res.statusCode ?? 0, connection: res.headers.connection, error: null }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => (answered ? answered({ eventId, status: null, connection: undefined, error: err.code ?? err.message }) : reject(err)));
    req.once('continue', () => {
      req.write(body.subarray(0, body.length >> 1));
      resolveStarted({
        finish: () => {
          req.end(body.subarray(body.length >> 1));
          return outcome;
        },
      });
    });
    req.flushHeaders();
  });
}

describe('SIGTERM', () => {
  it('under keep-alive load: in-flight requests are answered with Connection: close, nothing written is reset, no deadline', async () => {
    const dir = tempDir('ds-shutdown-');
    const file = writeProjects(dir, [{ publicKey: KEY, projectId: 5, organizationId: 1, sampling: { version: 2, rules: [sampleRate(1, 'trace', 1)] } }]);
    const sink = path.join(dir, 'kept.jsonl');
    running = run(CLI, ['serve', '--port', '0', '--configs-file', file, '--sink', `file:${sink}`, '--summary-interval', '0'], dir);
    await waitFor(() => /listening on (http:\/\/\S+)/.test(running!.output()), 15_000, 'the banner');
    const url = /listening on (http:\/\/\S+)/.exec(running.output())![1];

    const slow = await slowRequest(url, 'f'.repeat(32));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const outcomes: Outcome[] = [];
    let sent = 0;
    let signalled = false;
    const client = async (n: number): Promise<void> => {
      for (let i = 0; ; i++) {
        const outcome = await post(agent, url, `${n.toString(16)}${i.toString(16).padStart(31, '0')}`);
        outcomes.push(outcome);
        if (++sent === 200 && !signalled) {
          signalled = true;
          running!.child.kill('SIGTERM');
        }
        if (outcome.error !== null) return;
      }
    };
    const load = Promise.all([1, 2, 3, 4].map(client));
    await waitFor(() => signalled, 30_000, 'the load to reach 200 requests');
    // Once the server stopped accepting, the request it holds is still answered, with Connection: close.
    while (!(await refused(url))) await new Promise((r) => setTimeout(r, 20));
    const held = await slow.finish();
    expect(held).toMatchObject({ status: 200, connection: 'close' });
    outcomes.push(held);
    await load;
    agent.destroy();
    expect(await running.exited).toBe(0);

    const acked = new Set(outcomes.filter((o) => o.status === 200).map((o) => o.eventId));
    const written = parseJsonLines(readFileSync(sink, 'utf8')).map((r) => r.eventId);
    // Every envelope written to the sink was acknowledged to its client.
    expect(written.filter((id) => !acked.has(id))).toEqual([]);
    expect(written.length).toBe(acked.size);
    expect(written).toContain('f'.repeat(32));
    // The load's connections end with a Connection: close answer, or a request refused or reset before it was read.
    expect(outcomes.filter((o) => o.error !== null).map((o) => o.error).every((code) => code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'socket hang up')).toBe(true);
    expect(running.output()).not.toContain('shutdown deadline passed');
  }, 60_000);

  it('of an idle npm start exits at once; a // request before it got 400 and the process stayed up', async () => {
    const cwd = tempDir('ds-shutdown-');
    running = run(MAIN, ['--port', '0', '--summary-interval', '0'], cwd);
    await waitFor(() => /metrics: (http:\/\/\S+)\/metrics/.test(running!.output()), 15_000, 'the banner');
    const url = /metrics: (http:\/\/\S+)\/metrics/.exec(running.output())![1];
    for (const target of ['//', '///', '//:99999/', '//[::1']) expect((await requestTarget(url, target)).status, target).toBe(400);
    expect((await request(`${url}/healthz`, { method: 'GET' })).status).toBe(200);
    running.child.kill('SIGTERM');
    // A generous bound that only detects a hang (the shutdown deadline is 10 s).
    const exited = await Promise.race([running.exited, new Promise((r) => setTimeout(() => r('hung'), 5000))]);
    expect(exited).toBe(0);
    expect(running.output()).not.toContain('shutdown deadline passed');
  }, 30_000);
});

describe('shutdown deadline', () => {
  it('resets what is still unanswered, but answers a request whose envelope is in the sink', async () => {
    // The sink is a FIFO: opening it for writing waits for a reader, so the envelope sits in the sink.
    const dir = tempDir('ds-shutdown-');
    const fifo = path.join(dir, 'kept.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const { logger, records } = captureLogger();
    const t = await startTestServer([{ publicKey: KEY, projectId: 5, organizationId: 1, sampling: { version: 2, rules: [sampleRate(1, 'trace', 1)] } }], {
      sink: { type: 'file', path: fifo },
      shutdownTimeout: 200,
      logger,
    });
    const received: Buffer[] = [];
    let reader: ReturnType<typeof createReadStream> | null = null;
    try {
      const trace = { traceId: 'e'.repeat(32), publicKey: KEY, transaction: '/held' };
      const answer = postEnvelope(t.server, 5, KEY, transactionEnvelope(trace, transactionEvent(trace, trace.traceId)));
      // flush(0) resolves false while a write is pending: the envelope reached the sink.
      for (let i = 0; await t.server.sink.flush(0); i++) {
        if (i > 500) throw new Error('the envelope never reached the sink');
        await new Promise((r) => setTimeout(r, 10));
      }
      const closing = t.server.close();
      await waitFor(() => records().some((r) => /shutdown deadline passed/.test(r.msg)), 5000, 'the shutdown deadline');
      expect(records().find((r) => /shutdown deadline passed/.test(r.msg))).toMatchObject({ reset: 0, awaited: 1 });
      // A reader appears: the line is written, and only then answered.
      reader = createReadStream(fifo);
      reader.on('data', (c) => received.push(c as Buffer));
      const res = await answer;
      expect(res.status).toBe(200);
      expect(res.headers.connection).toBe('close');
      await closing;
      await new Promise<void>((r) => reader!.once('close', () => r()));
      expect(Buffer.concat(received).toString()).toContain('e'.repeat(32));
    } finally {
      if (reader === null) createReadStream(fifo).resume();
      await t.server.close();
    }
  }, 20_000);
});
