// The built entry points as users run them: `npm start` (dist/main.js) on embedded defaults, and `serve --workers 2`.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { spanEnvelope, transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { parseJsonLines } from '../src/server/sinks/record';
import { request, tempDir, waitFor, writeProjects, sampleRate } from './helpers/server';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/main.js');
const CLI = path.join(ROOT, 'dist/cli.js');
const BACKEND = 'abd0f232775f45feab79864e580d160b';

function assertBuilt(): void {
  if (!existsSync(MAIN) || !existsSync(path.join(ROOT, 'dist/server/server.js'))) throw new Error('dist/ is not built: run `npm run build` first');
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(script: string, args: string[], cwd: string): Running {
  const child = spawn(process.execPath, [script, ...args], { cwd, env: { ...process.env, LOG_LEVEL: 'warn', PORT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

let running: Running | null = null;
afterEach(async () => {
  if (running && running.child.exitCode === null) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
  running = null;
});

const trace = (i: number) => ({ traceId: `67e5504410b1426f9247bb680e5f${String(i).padStart(4, '0')}`, publicKey: BACKEND, transaction: '/x' });

describe('npm start (dist/main.js)', () => {
  it('serves the demo projects, prints their DSNs, stores kept envelopes under ./data and prints summaries', async () => {
    assertBuilt();
    const cwd = tempDir('ds-start-');
    running = run(MAIN, ['--port', '0', '--summary-interval', '0.2'], cwd);
    await waitFor(() => /shop-backend\s+http:\/\/\w+@127\.0\.0\.1:\d+\/42/.test(running!.output()), 15_000, 'the banner');
    const dsn = /shop-backend\s+(http:\/\/\S+)/.exec(running.output())![1];
    const { username, host, pathname } = new URL(dsn);
    expect(username).toBe(BACKEND);
    // The 'development' environment is always kept by the generated config (boost dev environments).
    const body = spanEnvelope({ ...trace(1), environment: 'development' });
    const res = await request(`http://${host}/api${pathname}/envelope/?sentry_key=${username}`, { body });
    expect(res.status).toBe(200);
    await waitFor(() => /envelopes\/s \| project 42: kept 1, dropped 0/.test(running!.output()), 5000, 'a summary line');
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    const records = parseJsonLines(readFileSync(path.join(cwd, 'data', 'kept.jsonl'), 'utf8'));
    expect(records.map((r) => r.bytes.equals(body))).toEqual([true]);
    expect(records[0]).toMatchObject({ projectId: 42, publicKey: BACKEND, decision: { decision: 'keep', kind: 'spans', matchedRuleIds: [1001] } });
  });
});

describe('dynamic-sampling serve', () => {
  it('runs two workers on one port; /stats and /metrics cover both; SIGTERM flushes and exits', async () => {
    assertBuilt();
    const dir = tempDir('ds-serve-');
    const file = writeProjects(dir, [{ publicKey: BACKEND, projectId: 5, organizationId: 1, sampling: { version: 2, rules: [sampleRate(1, 'trace', 1)] } }]);
    const sink = path.join(dir, 'out', 'kept.jsonl');
    running = run(CLI, ['serve', '--workers', '2', '--port', '0', '--configs-file', file, '--sink', `file:${sink}`, '--summary-interval', '0'], dir);
    await waitFor(() => /listening on (http:\/\/\S+) \(2 workers\)/.test(running!.output()), 15_000, 'the banner');
    const url = /listening on (http:\/\/\S+) /.exec(running.output())![1];
    const bodies = Array.from({ length: 40 }, (_, i) => transactionEnvelope(trace(i), transactionEvent(trace(i), trace(i).traceId)));
    // Wait until both workers took their first request (each loads the configs itself).
    const results = await Promise.all(bodies.map((body) => request(`${url}/api/5/envelope/?sentry_key=${BACKEND}`, { body })));
    expect(results.map((r) => r.status)).toEqual(bodies.map(() => 200));
    const stats = (await request(`${url}/stats`, { method: 'GET' })).json();
    expect(stats.projects['5'].envelopes).toBe(40);
    expect(stats.projects['5'].kept).toBe(40);
    const metrics = (await request(`${url}/metrics`, { method: 'GET' })).body;
    expect(metrics).toContain('dynamic_sampling_server_envelopes_total{project_id="5",kind="transaction",decision="keep"} 40');
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    const stored = parseJsonLines(readFileSync(sink, 'utf8'));
    expect(stored.map((r) => r.envelope).sort()).toEqual(bodies.map((b) => b.toString('base64')).sort());
  });

  it('explains what is missing', () => {
    assertBuilt();
    const out = spawnSync(process.execPath, [CLI, 'serve', '--port', '0'], { env: { ...process.env, DS_CONFIGS_FILE: '' }, encoding: 'utf8' });
    expect(out.status).toBe(2);
    expect(out.stderr).toContain('no project configs');
    const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--configs-file');
    const bad = spawnSync(process.execPath, [CLI, 'serve', '--bogus', '1'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown option --bogus');
  });
});
