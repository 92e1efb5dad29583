// `npm run load:fleet`: autocannon against 1, 2 and 4 `serve` processes sharing one Redis and one control plane; prints
// requests/s and p99 per fleet size and how often the fleet asked the upstream for each key per expiry (target: 1).

import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import Redis from 'ioredis';
import pino from 'pino';

import { startControlPlane } from '../control/control-plane';
import { CountingProxy } from './counting-proxy';
import { freePort } from './free-port';
import { runLoad } from './load';
import { loadCorpus } from './load-corpus';
import { DEMO_PROJECTS } from './projects';

const TOKEN = 'load-fleet-token';
const CONTROL_FILE = path.join(__dirname, '..', '..', 'examples', 'control.json');

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A redis-server of its own on a free port (no persistence), unless `--redis URL` is given. */
async function ownRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  child.once('error', (error) => process.stderr.write(`load:fleet: redis-server: ${error.message} (install it, or give --redis URL)\n`));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => 100 });
  probe.on('error', () => {});
  await until(async () => (await probe.ping()) === 'PONG', 'redis-server did not answer');
  probe.disconnect();
  return { url, stop: () => child.kill('SIGTERM') };
}

interface Fleet {
  urls: string[];
  stop(): Promise<void>;
}

/** Starts `n` serve processes counting into Redis and fetching through the proxy. */
async function startFleet(n: number, redis: string, upstream: string, expirySeconds: number, dir: string): Promise<Fleet> {
  const children: ChildProcess[] = [];
  const urls: string[] = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const args = ['serve', '--port', String(port), '--configs-upstream', upstream, '--configs-token', TOKEN, '--redis', redis, '--count-roots'];
    args.push('--configs-expiry', String(expirySeconds), '--summary-interval', '0', '--sink', `file:${path.join(dir, `kept-${n}-${i}.jsonl`)}`);
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'cli.js'), ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } });
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await until(async () => child.exitCode === null && (await fetch(`${url}/healthz`)).ok, `server ${i} did not become healthy`);
    urls.push(url);
  }
  return {
    urls,
    async stop() {
      await Promise.all(children.map((child) => new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      })));
    },
  };
}

async function main(): Promise<void> {
  const duration = Number(flag('duration', '10'));
  const connections = Number(flag('connections', '32'));
  const expiry = Number(flag('expiry', '3'));
  const sizes = flag('processes', '1,2,4').split(',').map(Number);
  const dir = mkdtempSync(path.join(tmpdir(), 'ds-load-fleet-'));
  const given = flag('redis', '');
  const redis = given === '' ? await ownRedis() : { url: given, stop: () => {} };
  // A copy: the package's definitions are never written to.
  const definitions = path.join(dir, 'control.json');
  copyFileSync(CONTROL_FILE, definitions);
  const plane = await startControlPlane({ definitions, redis: redis.url, tokens: [TOKEN], schedule: 'none', logger: pino({ level: 'error' }) });
  const proxy = new CountingProxy(plane.url);
  await proxy.start();
  const corpus = loadCorpus();
  process.stdout.write(`${corpus.length} envelopes over ${DEMO_PROJECTS.length} keys, ${connections} connections in all, ${duration} s per run, config expiry ${expiry} s; redis ${redis.url}\n`);
  process.stdout.write('processes | requests/s | p99 ms (worst process) | non-2xx | upstream answers per key per expiry (max)\n');
  try {
    for (const n of sizes) {
      const fleet = await startFleet(n, redis.url, proxy.url, expiry, dir);
      try {
        const share = Math.max(1, Math.round(connections / n));
        await Promise.all(fleet.urls.map((url) => runLoad({ url, duration: 2, connections: share, corpus }))); // warm-up: first fetches, JIT
        proxy.reset();
        const started = Date.now();
        const results = await Promise.all(fleet.urls.map((url) => runLoad({ url, duration, connections: share, corpus })));
        const seconds = (Date.now() - started) / 1000;
        const requests = results.reduce((sum, r) => sum + r.requests.total, 0);
        const p99 = Math.max(...results.map((r) => r.latency.p99));
        const non2xx = results.reduce((sum, r) => sum + r.non2xx + r.errors, 0);
        // A key expires seconds/expiry times in the run; fetched once per expiry by the whole fleet whatever its size
        // (refreshing up to 10 % ahead of expiry brings it to at most ~1.1).
        const perExpiry = Math.max(...DEMO_PROJECTS.map((p) => proxy.fetches(p.publicKey))) / (seconds / expiry);
        process.stdout.write(`${String(n).padStart(9)} | ${(requests / seconds).toFixed(0).padStart(10)} | ${String(p99).padStart(22)} | ${String(non2xx).padStart(7)} | ${perExpiry.toFixed(2)}\n`);
        if (non2xx > 0) process.exitCode = 1;
      } finally {
        await fleet.stop();
      }
    }
  } finally {
    await proxy.close();
    await plane.close();
    redis.stop();
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`load:fleet: ${error.message}\n`);
    process.exitCode = 1;
  });
}
