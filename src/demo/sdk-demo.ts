// `npm run demo`: sends traces and errors with the real @sentry/node SDK to the server for a while, then prints what was kept and dropped per rule.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import * as Sentry from '@sentry/node';
import pino from 'pino';

import { createTracesSampler, type TracesSampler } from '../sdk';
import { DEMO_CUSTOM_RULE, DEMO_PROJECTS } from './projects';
import { SeededRandom } from './random';
import { describeRule } from '../rules/rule-names';
import { freePort } from './free-port';

interface StatsSnapshot {
  projects: Record<string, { envelopes: number; kept: number; dropped: number; errors: number; rules: Record<string, { kept: number; dropped: number }> }>;
}

const PROJECTS_FILE = path.join(__dirname, '..', '..', 'examples', 'projects.json');
const NAMES = ['/api/users/{id}', '/api/orders/{id}', '/api/search', '/api/products/{id}', DEMO_CUSTOM_RULE.transaction, '/health'];
const NAME_WEIGHTS = [30, 20, 15, 20, 8, 7];
const ENVIRONMENTS = ['production', 'production', 'production', 'staging', 'development'];
const RELEASES = ['shop@1.1.0', 'shop@1.2.0'];

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function weighted(random: SeededRandom): string {
  let roll = random.next() * NAME_WEIGHTS.reduce((a, b) => a + b, 0);
  for (let i = 0; i < NAMES.length; i++) {
    roll -= NAME_WEIGHTS[i];
    if (roll < 0) return NAMES[i];
  }
  return NAMES[0];
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).ok;
  } catch {
    return false;
  }
}


/** The control plane `npm start` runs next to the server at `url` (its port + 1), unless told otherwise. */
function controlUrlFor(url: string): string {
  const given = flag('control') ?? process.env.DS_CONTROL_URL;
  if (given) return given;
  const { hostname, port } = new URL(url);
  return `http://${hostname}:${Number(port || 80) + 1}`;
}

/** The server to send to: the one `npm start` runs, or a child server (with its control plane) started for the demo. */
async function ensureServer(): Promise<{ url: string; controlUrl: string; child: ChildProcess | null }> {
  const url = flag('url') ?? process.env.DS_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`;
  if (await healthy(url)) return { url, controlUrl: controlUrlFor(url), child: null };
  const port = await freePort();
  const controlPort = await freePort();
  const own = `http://127.0.0.1:${port}`;
  process.stdout.write(`no server at ${url}: starting one on ${own} for the demo (npm start runs one you can keep)\n`);
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'main.js'), '--port', String(port), '--control-port', String(controlPort), '--summary-interval', '0'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  const deadline = Date.now() + 20_000;
  while (!(await healthy(own))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('the demo server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: own, controlUrl: `http://127.0.0.1:${controlPort}`, child };
}

async function stats(url: string): Promise<StatsSnapshot> {
  const token = (process.env.DS_METRICS_TOKEN ?? '').split(',')[0].trim();
  return (await (await fetch(`${url}/stats`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).json()) as StatsSnapshot;
}

type Rule = { type: string; id: number; samplingValue: { type: string; value?: number; limit?: number } };

/** The sampling rules of each demo project (by project id), and where they come from. */
interface RuleSource {
  description: string;
  rules: Map<number, Rule[]>;
}

/** The rules in force: from the control plane `npm start` runs (its admin API), else from the configs file `--no-control` serves. */
async function currentRules(controlUrl: string): Promise<RuleSource> {
  // Reading rules is admin read access (config tokens give none): a read token, else an admin token, if the user set one.
  const env = process.env;
  const token = [env.DS_CONTROL_READ_TOKEN, env.DS_CONTROL_ADMIN_TOKEN].map((t) => (t ?? '').split(',')[0].trim()).find((t) => t !== '');
  try {
    const rules = new Map<number, Rule[]>();
    for (const project of DEMO_PROJECTS) {
      const res = await fetch(`${controlUrl}/api/control/projects/${project.projectId}/sampling`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(2000),
      });
      if (!res.ok) throw new Error(`status ${res.status}`);
      const body = (await res.json()) as { config?: { rules?: Rule[] } };
      rules.set(project.projectId, body.config?.rules ?? []);
    }
    return { description: `generated now by the control plane at ${controlUrl}`, rules };
  } catch {
    const file = JSON.parse(readFileSync(PROJECTS_FILE, 'utf8')) as { configs: Record<string, { projectId?: number; config?: { sampling?: { rules?: Rule[] } } } | null> };
    const rules = new Map<number, Rule[]>();
    for (const state of Object.values(file.configs)) if (state?.projectId !== undefined) rules.set(state.projectId, state.config?.sampling?.rules ?? []);
    return { description: `in ${path.relative(process.cwd(), PROJECTS_FILE)} (no control plane answered at ${controlUrl})`, rules };
  }
}

function printReport(before: StatsSnapshot, after: StatsSnapshot, traces: number, errors: number, lifecycle: string, rules: RuleSource): void {
  const out: string[] = [`\nsent ${traces} traces and ${errors} errors with @sentry/node (${lifecycle} lifecycle)`];
  for (const project of DEMO_PROJECTS) {
    const now = after.projects[project.projectId];
    if (!now) continue;
    const then = before.projects[project.projectId];
    const kept = now.kept - (then?.kept ?? 0);
    const dropped = now.dropped - (then?.dropped ?? 0);
    const errs = now.errors - (then?.errors ?? 0);
    if (kept + dropped + errs === 0) continue;
    out.push(`\n${project.slug} (project ${project.projectId}): kept ${kept}, dropped ${dropped} (effective rate ${(kept / Math.max(1, kept + dropped)).toFixed(2)}), errors ${errs} (never dropped)`);
    out.push('  matched rule ids              kept  dropped');
    for (const [chain, r] of Object.entries(now.rules)) {
      const k = r.kept - (then?.rules[chain]?.kept ?? 0);
      const d = r.dropped - (then?.rules[chain]?.dropped ?? 0);
      if (k + d > 0) out.push(`  ${chain.padEnd(28)} ${String(k).padStart(6)} ${String(d).padStart(8)}`);
    }
  }
  out.push(`\nrule ids (id, type, value, bias), ${rules.description}; trace rules come from the project that started the trace:`);
  for (const project of DEMO_PROJECTS) {
    out.push(`  ${project.slug}:`);
    for (const rule of rules.rules.get(project.projectId) ?? []) out.push(`    ${describeRule(rule)}`);
  }
  out.push('\nper-rule outcomes are also at /metrics (dynamic_sampling_server_outcomes_total, reason="Sampled:<ids>")');
  process.stdout.write(`${out.join('\n')}\n`);
}

/**
 * With `--sdk-sampler` (or DS_SDK_SAMPLER=1): the application samples before sending, with the
 * server's rules from the same source (the control plane when it answers, else the configs file).
 */
async function sdkSampler(controlUrl: string): Promise<{ sampler: TracesSampler; source: string; counts: { kept: number; dropped: number } } | null> {
  if (!process.argv.includes('--sdk-sampler') && !['1', 'true', 'yes'].includes(String(process.env.DS_SDK_SAMPLER ?? '').toLowerCase())) return null;
  const counts = { kept: 0, dropped: 0 };
  const onDecision = (_traceId: string, _name: string, d: { keep: boolean }) => void counts[d.keep ? 'kept' : 'dropped']++;
  const token = (process.env.DS_CONTROL_TOKENS ?? '').split(',')[0].trim();
  const upstream = await fetch(`${controlUrl}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
  const logger = pino({ level: 'warn' });
  const sampler = upstream
    ? createTracesSampler({ upstream: { url: controlUrl, ...(token ? { token } : {}) }, onDecision, logger })
    : createTracesSampler({ file: PROJECTS_FILE, onDecision, logger });
  await sampler.rules.prefetch(DEMO_PROJECTS.map((p) => p.publicKey), { timeout: 5000 });
  return { sampler, source: upstream ? `the control plane at ${controlUrl}` : path.relative(process.cwd(), PROJECTS_FILE), counts };
}

async function main(): Promise<void> {
  const lifecycle = process.argv.includes('--static') ? 'static' : 'stream';
  const maxTraces = Number(flag('traces') ?? 300);
  const seconds = Number(flag('seconds') ?? 20);
  const { url, controlUrl, child } = await ensureServer();
  try {
    const backend = DEMO_PROJECTS[0];
    const frontend = DEMO_PROJECTS[1];
    const { hostname, port } = new URL(url);
    const head = await sdkSampler(controlUrl);
    if (head) process.stdout.write(`SDK-side sampling on: tracesSampler with the rules of ${head.source}\n`);
    Sentry.init({
      dsn: `http://${backend.publicKey}@${hostname}:${port}/${backend.projectId}`,
      ...(head ? { tracesSampler: head.sampler } : { tracesSampleRate: 1 }),
      traceLifecycle: lifecycle,
      defaultIntegrations: false,
      release: RELEASES[1],
      environment: 'production',
    });
    const before = await stats(url);
    const random = new SeededRandom(Date.now() & 0xffff);
    const started = Date.now();
    let traces = 0;
    let errors = 0;
    process.stdout.write(`sending up to ${maxTraces} traces for up to ${seconds} s to ${url} (DSN of ${backend.slug})\n`);
    while (traces < maxTraces && Date.now() - started < seconds * 1000) {
      const name = weighted(random);
      const traceId = random.hex32();
      // A third of the traces come from the frontend project (its trace rules apply; they continue a trace its
      // pageload started, with the release and environment of its baggage); the rest start here, as trace roots
      // (release and environment of Sentry.init), which the control plane counts and rebalances.
      const root = random.next() < 0.33 ? frontend : backend;
      const withError = random.next() < 0.05;
      const handle = () =>
        Sentry.startSpan({ name, op: 'http.server', forceTransaction: true }, async () => {
          for (let i = 0; i < 2 + random.int(4); i++) Sentry.startSpan({ name: `SELECT ${i}`, op: 'db.query' }, () => undefined);
          if (withError) {
            Sentry.captureException(new Error(`demo failure in ${name}`));
            errors++;
          }
        });
      if (root === backend) {
        await Sentry.startNewTrace(handle);
      } else {
        const baggage = [
          `sentry-trace_id=${traceId}`,
          `sentry-public_key=${root.publicKey}`,
          `sentry-release=${random.pick(RELEASES)}`,
          `sentry-environment=${random.pick(ENVIRONMENTS)}`,
          `sentry-transaction=${encodeURIComponent(name)}`,
          // With the SDK sampler the incoming trace carries no decision yet: the rules make it here.
          ...(head ? [] : ['sentry-sample_rate=1', 'sentry-sampled=true']),
        ].join(',');
        await Sentry.continueTrace({ sentryTrace: `${traceId}-${random.hex16()}${head ? '' : '-1'}`, baggage }, handle);
      }
      traces++;
      await new Promise((r) => setTimeout(r, 20));
    }
    await Sentry.flush(10_000);
    await Sentry.close(5000);
    printReport(before, await stats(url), traces, errors, lifecycle, await currentRules(controlUrl));
    if (head) {
      process.stdout.write(`\nSDK sampler: sent ${head.counts.kept} traces, dropped ${head.counts.dropped} before sending; the server's drops above are what it dropped of what was sent (0 when both agree; a server that has not loaded a trace's root project yet, as for the first traces started in another project, evaluates without it)\n`);
      await head.sampler.close();
    }
  } finally {
    child?.kill('SIGTERM');
  }
}

main().catch((error: Error) => {
  process.stderr.write(`demo: ${error.message}\n`);
  process.exitCode = 1;
});
