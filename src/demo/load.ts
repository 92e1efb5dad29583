// `npm run load`: autocannon against the ingestion server with realistic envelopes and against two floors (node:http running only the engine and appending kept bodies; node:http only appending every body), same client and envelopes, in turns (`--rounds N`); prints requests/s, latency, CPU per request, memory and the ratios (medians over the rounds).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import autocannon from 'autocannon';

import { loadCorpus, type LoadRequest } from './load-corpus';
import { freePort } from './free-port';

export interface LoadOptions {
  url: string;
  /** Seconds. */
  duration: number;
  connections: number;
  corpus?: LoadRequest[];
}

/** Runs autocannon with the corpus, one envelope per request in turn. */
export function runLoad(options: LoadOptions): Promise<autocannon.Result> {
  const corpus = options.corpus ?? loadCorpus();
  let next = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.duration,
        requests: [
          {
            method: 'POST',
            setupRequest: (request) => {
              const r = corpus[next++ % corpus.length];
              return { ...request, method: 'POST', path: r.path, headers: r.headers, body: r.body };
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}


async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the server did not become healthy within 20 s');
}

async function serverMemory(url: string): Promise<number | null> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (null elsewhere): unlike
 * requests/s, CPU per request hardly moves when other jobs share the machine.
 */
function cpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** µs of CPU per request between two `cpuMs` readings, or null. */
function cpuPerRequest(before: number | null, after: number | null, result: autocannon.Result): number | null {
  const requests = result.requests.total;
  return before === null || after === null || requests === 0 ? null : ((after - before) * 1000) / requests;
}

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

function summary(result: autocannon.Result, connections: number): string[] {
  return [
    `duration ${result.duration.toFixed(1)} s, ${connections} connections`,
    `requests/s: average ${result.requests.average.toFixed(0)}, p50 ${result.requests.p50}, min ${result.requests.min}`,
    `latency ms: p50 ${result.latency.p50}, p90 ${result.latency.p90}, p99 ${result.latency.p99}, max ${result.latency.max}`,
    `responses: 2xx ${result['2xx']}, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
  ];
}

/** Starts `args` with node (a server listening on `port`) and waits until `url` answers. */
async function spawnServer(args: string[], url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  await waitHealthy(url, child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** One server under load: the ingestion server, or a floor. */
interface Target {
  name: string;
  url: string;
  child: ChildProcess | null;
}

/** One measured run against a target. */
interface Measured {
  result: autocannon.Result;
  requests: number;
  /** µs of CPU per request (null when the process is not ours or /proc is missing). */
  cpu: number | null;
}

async function measure(target: Target, options: { duration: number; connections: number; corpus: LoadRequest[] }): Promise<Measured> {
  const cpuBefore = cpuMs(target.child?.pid);
  const result = await runLoad({ url: target.url, ...options });
  return { result, requests: result.requests.average, cpu: cpuPerRequest(cpuBefore, cpuMs(target.child?.pid), result) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The median requests/s and CPU per request of a target's runs. */
function medians(runs: Measured[]): { requests: number; cpu: number | null } {
  const cpus = runs.map((r) => r.cpu).filter((c): c is number => c !== null);
  return { requests: median(runs.map((r) => r.requests)), cpu: cpus.length === runs.length ? median(cpus) : null };
}

async function main(): Promise<void> {
  const duration = Number(flag('duration', '10'));
  const connections = Number(flag('connections', '32'));
  const rounds = Number(flag('rounds', '1'));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${flag('rounds', '1')}`);
  const workers = flag('workers', '1');
  const given = process.env.DS_URL ?? flag('url', '');
  const withFloors = given === '' && !process.argv.includes('--no-bare');
  const corpus = loadCorpus();
  const bytes = corpus.reduce((n, r) => n + r.body.length, 0);
  process.stdout.write(`corpus: ${corpus.length} envelopes, ${(bytes / corpus.length / 1024).toFixed(1)} KiB average; warming up 2 s per server\n`);
  const dir = mkdtempSync(path.join(tmpdir(), 'ds-load-'));

  const targets: Target[] = [];
  try {
    if (given === '') {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const args = [path.join(__dirname, '..', 'main.js'), '--port', String(port), '--summary-interval', '0', '--workers', workers, '--sink', `file:${path.join(dir, 'kept.jsonl')}`];
      targets.push({ name: 'server', url, child: await spawnServer(args, url) });
      process.stdout.write(`server: ${url} (${workers} worker${workers === '1' ? '' : 's'}), sink ${dir}/kept.jsonl\n`);
    } else {
      targets.push({ name: 'server', url: given, child: null });
    }
    // The floors: the same client and envelopes against a server that only runs the engine and
    // appends kept bodies, and against one that only appends every body.
    if (withFloors) {
      const floors = [
        { name: 'engine floor (node:http, the engine on each body, kept bodies appended; nothing else)', script: 'engine-floor-server.js', file: 'floor.bin' },
        { name: 'bare node:http server (read the body, append it to a file)', script: 'bare-server.js', file: 'bare.bin' },
      ];
      for (const floor of floors) {
        const port = await freePort();
        const url = `http://127.0.0.1:${port}`;
        targets.push({ name: floor.name, url, child: await spawnServer([path.join(__dirname, floor.script), String(port), path.join(dir, floor.file)], url) });
      }
    }
    for (const target of targets) await runLoad({ url: target.url, duration: 2, connections, corpus });

    const server = targets[0];
    const rssBefore = await serverMemory(server.url);
    // With several rounds the targets take turns, so that a slow spell of the machine falls on all of them.
    const runs: Measured[][] = targets.map(() => []);
    for (let round = 1; round <= rounds; round++) {
      for (let i = 0; i < targets.length; i++) runs[i].push(await measure(targets[i], { duration, connections, corpus }));
      if (rounds > 1) {
        const line = targets.map((t, i) => `${i === 0 ? 'server' : i === 1 ? 'engine floor' : 'bare'} ${runs[i][round - 1].requests.toFixed(0)} req/s ${runs[i][round - 1].cpu?.toFixed(1) ?? '?'} µs`);
        process.stdout.write(`round ${round}: ${line.join('; ')}\n`);
      }
    }
    const rssAfter = await serverMemory(server.url);
    const stats = (await (await fetch(`${server.url}/stats`)).json()) as { projects: Record<string, { envelopes: number; kept: number; dropped: number; errors: number }> };
    const mib = (n: number | null) => (n === null ? '?' : `${(n / 1048576).toFixed(0)} MiB`);
    const last = runs[0][rounds - 1].result;
    const serverFigures = medians(runs[0]);
    process.stdout.write(
      [
        ...summary(last, connections),
        `server rss: ${mib(rssBefore)} before, ${mib(rssAfter)} after`,
        ...(serverFigures.cpu === null ? [] : [`server CPU per request: ${serverFigures.cpu.toFixed(1)} µs`]),
        ...Object.entries(stats.projects).map(([id, p]) => `project ${id}: ${p.envelopes} envelopes, kept ${p.kept}, dropped ${p.dropped}, errors ${p.errors}`),
      ].join('\n') + '\n',
    );
    if (runs[0].some((r) => r.result.errors > 0 || r.result.non2xx > 0)) process.exitCode = 1;
    if (!withFloors) return;

    const [, engineFloor, bare] = runs.map(medians);
    for (let i = 1; i < targets.length; i++) {
      const figures = medians(runs[i]);
      process.stdout.write([`${targets[i].name}:`, ...summary(runs[i][rounds - 1].result, connections), ...(figures.cpu === null ? [] : [`CPU per request: ${figures.cpu.toFixed(1)} µs`])].join('\n') + '\n');
    }
    const of = rounds > 1 ? ` (medians of ${rounds} rounds)` : '';
    const ratio = serverFigures.requests / bare.requests;
    process.stdout.write(`ratio: the server handles ${ratio.toFixed(2)}x the requests/s of the bare server (${serverFigures.requests.toFixed(0)} / ${bare.requests.toFixed(0)}); the engine floor ${(engineFloor.requests / bare.requests).toFixed(2)}x${of}\n`);
    // The same comparison in CPU time, steadier on a shared machine (the servers started by this run only).
    if (serverFigures.cpu !== null && bare.cpu !== null) {
      const floorShare = engineFloor.cpu === null ? '' : `; the engine floor's is ${(bare.cpu / engineFloor.cpu).toFixed(2)}x (${engineFloor.cpu.toFixed(1)} µs)`;
      process.stdout.write(`cpu: the bare server's CPU per request is ${(bare.cpu / serverFigures.cpu).toFixed(2)}x the server's (${bare.cpu.toFixed(1)} / ${serverFigures.cpu.toFixed(1)} µs)${floorShare}${of}\n`);
    }
  } finally {
    for (const target of targets) if (target.child !== null) await stop(target.child);
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`load: ${error.message}\n`);
    process.exitCode = 1;
  });
}
