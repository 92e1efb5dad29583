// The built entry points as users run them: `npm start` (dist/main.js) on embedded defaults, and `serve --workers 2`.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { spanEnvelope, transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { EMBEDDED_PROJECTS_FILE, parseDuration, parseStartArgs } from '../src/main';
import { parseJsonLines } from '../src/server/sinks/record';
import { killIfRunning, run, type Running } from './helpers/process';
import { request, tempDir, waitFor, writeProjects, sampleRate } from './helpers/server';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/main.js');
const CLI = path.join(ROOT, 'dist/cli.js');
const BACKEND = 'abd0f232775f45feab79864e580d160b';

function assertBuilt(): void {
  if (!existsSync(MAIN) || !existsSync(path.join(ROOT, 'dist/server/server.js'))) throw new Error('dist/ is not built: run `npm run build` first');
}


let running: Running | null = null;
afterEach(async () => {
  await killIfRunning(running);
  running = null;
});

const trace = (i: number) => ({ traceId: `67e5504410b1426f9247bb680e5f${String(i).padStart(4, '0')}`, publicKey: BACKEND, transaction: '/x' });

/** Roots counted by the control plane reach its state: after the tasks, the project's base rate is a rebalanced one. */
async function baseRateSource(controlUrl: string, projectId: number): Promise<string> {
  return (await request(`${controlUrl}/api/control/projects/${projectId}/sampling`, { method: 'GET' })).json().baseSampleRate.source;
}

describe('npm start (dist/main.js)', () => {
  it('runs the control plane and the server, prints the DSNs, stores kept envelopes under ./data, counts roots and prints summaries', async () => {
    assertBuilt();
    const cwd = tempDir('ds-start-');
    running = run(MAIN, ['--port', '0', '--summary-interval', '0.2', '--task-interval', '1h'], cwd);
    await waitFor(() => /shop-backend\s+http:\/\/\w+@127\.0\.0\.1:\d+\/42/.test(running!.output()), 15_000, 'the banner');
    expect(running.output()).toMatch(/control plane listening on http:\/\/127\.0\.0\.1:\d+: definitions .*control\.json/);
    expect(running.output()).toContain('rebalancing every 1 h (per-org pipeline, in-process)');
    const controlUrl = /control plane listening on (http:\/\/\S+):/.exec(running.output())![1];
    const dsn = /shop-backend\s+(http:\/\/\S+)/.exec(running.output())![1];
    const { username, host, pathname } = new URL(dsn);
    expect(username).toBe(BACKEND);
    // The 'development' environment is always kept by the generated config (boost dev environments).
    const body = spanEnvelope({ ...trace(1), environment: 'development' });
    const res = await request(`http://${host}/api${pathname}/envelope/?sentry_key=${username}`, { body });
    expect(res.status).toBe(200);
    await waitFor(() => /envelopes\/s \| project 42: kept 1, dropped 0/.test(running!.output()), 5000, 'a summary line');
    // The span segment was a trace root, counted into the control plane; its per-org pass reads whole
    // minutes only (the root's minute may not be over yet: then it stops at no_org_volume).
    expect(await baseRateSource(controlUrl, 42)).toBe('fallback');
    expect((await request(`${controlUrl}/api/control/tasks/run`, { method: 'POST' })).status).toBe(200);
    const pass = (await request(`${controlUrl}/api/control/organizations/1/per-org`, { method: 'GET' })).json();
    expect(['no_org_volume', 'completed']).toContain(pass.status);
    expect(await baseRateSource(controlUrl, 42)).toBe(pass.status === 'completed' ? 'rebalanced' : 'fallback');
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    const records = parseJsonLines(readFileSync(path.join(cwd, 'data', 'kept.jsonl'), 'utf8'));
    expect(records.map((r) => r.bytes.equals(body))).toEqual([true]);
    expect(records[0]).toMatchObject({ projectId: 42, publicKey: BACKEND, decision: { decision: 'keep', kind: 'spans', matchedRuleIds: [1001] } });
  });
});

describe('npm start --reservoir-rules (dist/main.js)', () => {
  it('counts the samples of the demo investigation rule from the server decisions and notifies once it has 10', async () => {
    assertBuilt();
    running = run(MAIN, ['--port', '0', '--summary-interval', '0', '--task-interval', '1h', '--reservoir-rules'], tempDir('ds-start-'));
    await waitFor(() => /shop-backend\s+http:\/\/\w+@127\.0\.0\.1:\d+\/42/.test(running!.output()), 15_000, 'the banner');
    const url = /listening on (http:\/\/\S+)/.exec(running.output())![1];
    const controlUrl = /control plane listening on (http:\/\/\S+):/.exec(running.output())![1];
    const rule = async () => (await request(`${controlUrl}/api/control/organizations/1/custom-rules`, { method: 'GET' })).json().find((r: { ruleId: number }) => r.ruleId === 7);
    expect((await rule()).notificationSent).not.toBe(true);
    const checkout = (i: number) => ({ ...trace(i), transaction: '/api/checkout' });
    const now = Date.now() / 1000;
    for (let i = 0; i < 10; i++) {
      const body = transactionEnvelope(checkout(i), transactionEvent(checkout(i), checkout(i).traceId, 3, now));
      expect((await request(`${url}/api/42/envelope/?sentry_key=${BACKEND}`, { body })).status).toBe(200);
    }
    expect((await request(`${controlUrl}/api/control/tasks/run`, { method: 'POST' })).status).toBe(200);
    expect((await rule()).notificationSent).toBe(true);
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });
});

describe('npm start arguments', () => {
  it('runs the control plane by default, next to the server, every 10 minutes', () => {
    const args = parseStartArgs([], {});
    expect(args.serve.configs).toBeNull();
    expect(args.control).toMatchObject({ definitionsFile: null, taskIntervalMs: 600_000, options: { host: '127.0.0.1', port: 3001, tokens: [] } });
    const custom = parseStartArgs(['--port', '0', '--task-interval', '60s', '--sink', 'stdout', '--workers', '2', '--control', 'defs.yaml', '--control-token=a,b'], { DS_CONTROL_SCHEDULE: 'none' });
    expect(custom.serve).toMatchObject({ port: 0, workers: 2, sink: { type: 'stdout' }, configs: null });
    expect(custom.control).toMatchObject({ definitionsFile: 'defs.yaml', taskIntervalMs: 60_000, options: { port: 0, tokens: ['a', 'b'], schedule: 'none', taskIntervalMs: 60_000 } });
    expect(parseStartArgs(['--control-port', '4000'], { DS_TASK_INTERVAL: '2m', DS_CONTROL_TOKENS: 'x' }).control).toMatchObject({ taskIntervalMs: 120_000, options: { port: 4000, tokens: ['x'] } });
    expect(parseStartArgs([], { DS_CONTROL_TASK_INTERVAL_MS: '30000', DS_CONTROL_DEFINITIONS: 'd.json' }).control).toMatchObject({ taskIntervalMs: 30_000, definitionsFile: 'd.json' });
  });

  it('runs the per-org pipeline by default, the classic tasks with --pipeline classic', () => {
    expect(parseStartArgs([], {}).control!.options.pipeline).toBe('per-org');
    expect(parseStartArgs(['--pipeline', 'classic'], {}).control!.options.pipeline).toBe('classic');
    expect(parseStartArgs([], { DS_CONTROL_PIPELINE: 'classic' }).control!.options.pipeline).toBe('classic');
    expect(() => parseStartArgs(['--pipeline', 'batch'], {})).toThrow(/--pipeline must be per-org or classic/);
    expect(() => parseStartArgs([], { DS_CONTROL_PIPELINE: 'batch' })).toThrow(/DS_CONTROL_PIPELINE/);
  });

  it('runs the server alone with --no-control or a configs source', () => {
    expect(parseStartArgs(['--no-control'], {})).toMatchObject({ control: null, serve: { configs: { file: EMBEDDED_PROJECTS_FILE } } });
    // The embedded configs' reservoir rule is taken, unless said otherwise; other configs follow the flag.
    expect(parseStartArgs(['--no-control'], {}).serve.reservoirRules).toBe(true);
    expect(parseStartArgs(['--no-control', '--reservoir-rules=false'], {}).serve.reservoirRules).toBe(false);
    expect(parseStartArgs(['--no-control'], { DS_RESERVOIR_RULES: '0' }).serve.reservoirRules).toBe(false);
    expect(parseStartArgs(['--configs-file', 'p.json'], {}).serve.reservoirRules).toBe(false);
    expect(parseStartArgs([], { DS_NO_CONTROL: '1' }).control).toBeNull();
    expect(parseStartArgs([], { DS_NO_CONTROL: 'false' }).control).not.toBeNull();
    expect(parseStartArgs(['--configs-file', 'p.json'], {})).toMatchObject({ control: null, serve: { configs: { file: 'p.json' } } });
    expect(parseStartArgs([], { DS_CONFIGS_UPSTREAM: 'http://relay' })).toMatchObject({ control: null, serve: { configs: { upstream: { url: 'http://relay' } } } });
  });

  it('reads the timeouts (seconds) and --reject-unknown-keys, a flag without a value', () => {
    const args = parseStartArgs(['--reject-unknown-keys', '--port', '0', '--headers-timeout', '2.5', '--request-timeout=20', '--shutdown-timeout', '0'], {});
    expect(args.serve).toMatchObject({ port: 0, rejectUnknownKeys: true, headersTimeout: 2500, requestTimeout: 20_000, shutdownTimeout: 0 });
    expect(parseStartArgs([], { DS_REJECT_UNKNOWN_KEYS: '1', DS_REQUEST_TIMEOUT: '5' }).serve).toMatchObject({ rejectUnknownKeys: true, requestTimeout: 5000, headersTimeout: undefined });
    expect(parseStartArgs([], {}).serve.rejectUnknownKeys).toBe(false);
    expect(() => parseStartArgs(['--headers-timeout', '0'], {})).toThrow(/--headers-timeout must be a number of seconds > 0/);
    expect(() => parseStartArgs(['--request-timeout', 'soon'], {})).toThrow(/--request-timeout/);
  });

  it('refuses contradictions and bad values', () => {
    expect(() => parseStartArgs(['--control', 'd.json', '--configs-file', 'p.json'], {})).toThrow(/either --control or --configs-file/);
    expect(() => parseStartArgs(['--control', 'd.json', '--no-control'], {})).toThrow(/either --control or --no-control/);
    expect(() => parseStartArgs(['--task-interval', '10ms'], {})).toThrow(/at least 1 s/);
    expect(() => parseStartArgs(['--task-interval', 'soon'], {})).toThrow(/duration/);
    expect(() => parseStartArgs(['--control-port', '70000'], {})).toThrow(/control-port/);
    expect(() => parseStartArgs(['--bogus', '1'], {})).toThrow(/unknown option --bogus/);
    expect(() => parseStartArgs([], { DS_CONTROL_SCHEDULE: 'cron' })).toThrow(/DS_CONTROL_SCHEDULE/);
    expect([parseDuration('x', '90'), parseDuration('x', '1.5m'), parseDuration('x', '1h'), parseDuration('x', '2500ms')]).toEqual([90_000, 90_000, 3_600_000, 2500]);
  });
});

describe('npm start variants', () => {
  it('--no-control serves examples/projects.json alone', async () => {
    assertBuilt();
    running = run(MAIN, ['--port', '0', '--summary-interval', '0', '--no-control'], tempDir('ds-start-'));
    await waitFor(() => /metrics: http/.test(running!.output()), 15_000, 'the banner');
    expect(running.output()).toMatch(/project configs: .*examples\/projects\.json/);
    expect(running.output()).toMatch(/shop-backend\s+http:\/\/abd0f232775f45feab79864e580d160b@127\.0\.0\.1:\d+\/42/);
    expect(running.output()).not.toContain('control plane');
    // shop-backend's config, reservoir rule included, is in force (not rejected).
    expect(running.output()).not.toContain('sampling config rejected');
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });

  it('--workers 2: the workers count into the primary\'s control plane over IPC', async () => {
    assertBuilt();
    const cwd = tempDir('ds-start-');
    // The classic tasks read the current minute's counts at once.
    running = run(MAIN, ['--port', '0', '--summary-interval', '0', '--workers', '2', '--sink', 'stdout', '--pipeline', 'classic'], cwd);
    // The banner's lines are written one by one: wait for the last one read here.
    await waitFor(() => /listening on (http:\/\/\S+) \(2 workers\)[\s\S]*control plane listening on/.test(running!.output()), 15_000, 'the banner');
    const url = /listening on (http:\/\/\S+) /.exec(running.output())![1];
    const controlUrl = /control plane listening on (http:\/\/\S+):/.exec(running.output())![1];
    expect(await baseRateSource(controlUrl, 42)).toBe('fallback');
    const bodies = Array.from({ length: 20 }, (_, i) => spanEnvelope(trace(i)));
    const results = await Promise.all(bodies.map((body) => request(`${url}/api/42/envelope/?sentry_key=${BACKEND}`, { body })));
    expect(results.map((r) => r.status)).toEqual(bodies.map(() => 200));
    await new Promise((r) => setTimeout(r, 1200)); // the workers hand their counts over every 500 ms
    expect((await request(`${controlUrl}/api/control/tasks/run`, { method: 'POST' })).status).toBe(200);
    // Without counts the projects task leaves the rates alone ('fallback').
    expect(await baseRateSource(controlUrl, 42)).toBe('rebalanced');
    running.child.kill('SIGTERM');
    expect(await running.exited).toBe(0);
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
