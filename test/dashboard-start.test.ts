// `npm start` (dist/main.js) prints the dashboard's address; the page is served there, and the ingestion server it runs
// feeds the dashboard its /stats and recent envelopes.

import path from 'node:path';

import { afterEach, expect, it } from 'vitest';

import { transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { LOCAL, requestFrom } from './helpers/clients';
import { killIfRunning, run, type Running } from './helpers/process';
import { tempDir, waitFor } from './helpers/server';

const MAIN = path.resolve(__dirname, '..', 'dist', 'main.js');
const BACKEND_KEY = 'abd0f232775f45feab79864e580d160b';

let running: Running | null = null;
afterEach(async () => killIfRunning(running));

it('npm start prints the dashboard address; the page loads and shows what the server it runs decided', async () => {
  running = run(MAIN, ['--port', '0', '--summary-interval', '0'], tempDir('ds-dashboard-'));
  await waitFor(() => /metrics: http/.test(running!.output()), 15_000, 'the banner');
  const dashboard = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/dashboard\/)$/m.exec(running.output())?.[1];
  expect(dashboard, running.output()).toBeDefined();
  const page = await requestFrom(LOCAL, dashboard!);
  expect([page.status, page.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
  expect(page.text).toContain('<script src="/dashboard/dashboard.js">');

  const server = /ingestion server listening on (http:\/\/\S+)/.exec(running.output())![1];
  const trace = { traceId: 'c'.repeat(32), publicKey: BACKEND_KEY, transaction: '/api/search', environment: 'production', release: 'shop@1.2.0' };
  const sent = await requestFrom(LOCAL, `${server}/api/42/envelope/`, {
    method: 'POST',
    body: transactionEnvelope(trace, transactionEvent(trace, 'd'.repeat(32))),
    headers: { 'content-type': 'application/x-sentry-envelope', 'x-sentry-auth': `Sentry sentry_key=${BACKEND_KEY}, sentry_version=7` },
  });
  expect(sent.status, sent.text).toBe(200);

  const control = new URL(dashboard!).origin;
  const overview = (await requestFrom(LOCAL, `${control}/api/control/dashboard/overview`)).json();
  expect(overview.serverConnected).toBe(true);
  const backend = overview.organizations[0].projects.find((p: { id: number }) => p.id === 42);
  expect(backend.server.envelopes).toBe(1);
  const recent = (await requestFrom(LOCAL, `${control}/api/control/dashboard/recent`)).json();
  expect(recent.map((r: { traceId: string; projectId: number }) => [r.traceId, r.projectId])).toEqual([[trace.traceId, 42]]);
  expect(recent[0].decision).toBe(backend.server.kept === 1 ? 'keep' : 'drop');
});
