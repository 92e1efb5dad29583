// `npm run load`: autocannon against the ingestion server with realistic envelopes, then against two floors (node:http running only the engine and appending kept bodies; node:http only appending every body), same client and envelopes; prints requests/s, latency, CPU per request, memory and the ratios.

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

async function main(): Promise<void> {
  const duration = Number(flag('duration', '10'));
  const connections = Number(flag('connections', '32'));
  const workers = flag('workers', '1');
  const given = process.env.DS_URL ?? flag('url', '');
  const corpus = loadCorpus();
  const bytes = corpus.reduce((n, r) => n + r.body.length, 0);
  process.stdout.write(`corpus: ${corpus.length} envelopes, ${(bytes / corpus.length / 1024).toFixed(1)} KiB average; warming up 2 s per server\n`);
  const dir = mkdtempSync(path.join(tmpdir(), 'ds-load-'));

  let url = given;
  let child: ChildProcess | null = null;
  if (url === '') {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const args = [path.join(__dirname, '..', 'main.js'), '--port', String(port), '--summary-interval', '0', '--workers', workers, '--sink', `file:${path.join(dir, 'kept.jsonl')}`];
    child = await spawnServer(args, url);
    process.stdout.write(`server: ${url} (${workers} worker${workers === '1' ? '' : 's'}), sink ${dir}/kept.jsonl\n`);
  }
  let server: autocannon.Result;
  let serverCpu: number | null = null;
  try {
    await runLoad({ url, duration: 2, connections, corpus });
    const rssBefore = await serverMemory(url);
    const cpuBefore = cpuMs(child?.pid);
    server = await runLoad({ url, duration, connections, corpus });
    serverCpu = cpuPerRequest(cpuBefore, cpuMs(child?.pid), server);
    const rssAfter = await serverMemory(url);
    const stats = (await (await fetch(`${url}/stats`)).json()) as { projects: Record<string, { envelopes: number; kept: number; dropped: number; errors: number }> };
    const mib = (n: number | null) => (n === null ? '?' : `${(n / 1048576).toFixed(0)} MiB`);
    process.stdout.write(
      [
        ...summary(server, connections),
        `server rss: ${mib(rssBefore)} before, ${mib(rssAfter)} after`,
        ...(serverCpu === null ? [] : [`server CPU per request: ${serverCpu.toFixed(1)} µs`]),
        ...Object.entries(stats.projects).map(([id, p]) => `project ${id}: ${p.envelopes} envelopes, kept ${p.kept}, dropped ${p.dropped}, errors ${p.errors}`),
      ].join('\n') + '\n',
    );
    if (server.errors > 0 || server.non2xx > 0) process.exitCode = 1;
  } finally {
    if (child !== null) await stop(child);
  }
  if (given !== '' || process.argv.includes('--no-bare')) return;

  // The floors: the same client and envelopes against a server that only runs the engine and
  // appends kept bodies, and against one that only appends every body.
  const floors = [
    { name: 'engine floor (node:http, the engine on each body, kept bodies appended; nothing else)', script: 'engine-floor-server.js', file: 'floor.bin' },
    { name: 'bare node:http server (read the body, append it to a file)', script: 'bare-server.js', file: 'bare.bin' },
  ];
  const results: { requests: number; cpu: number | null }[] = [];
  for (const floor of floors) {
    const port = await freePort();
    const floorUrl = `http://127.0.0.1:${port}`;
    const child = await spawnServer([path.join(__dirname, floor.script), String(port), path.join(dir, floor.file)], floorUrl);
    try {
      await runLoad({ url: floorUrl, duration: 2, connections, corpus });
      const cpuBefore = cpuMs(child.pid);
      const result = await runLoad({ url: floorUrl, duration, connections, corpus });
      const cpu = cpuPerRequest(cpuBefore, cpuMs(child.pid), result);
      results.push({ requests: result.requests.average, cpu });
      process.stdout.write([`${floor.name}:`, ...summary(result, connections), ...(cpu === null ? [] : [`CPU per request: ${cpu.toFixed(1)} µs`])].join('\n') + '\n');
    } finally {
      await stop(child);
    }
  }
  const [engineFloor, bare] = results;
  const ratio = server.requests.average / bare.requests;
  process.stdout.write(`ratio: the server handles ${ratio.toFixed(2)}x the requests/s of the bare server (${server.requests.average.toFixed(0)} / ${bare.requests.toFixed(0)}); the engine floor ${(engineFloor.requests / bare.requests).toFixed(2)}x\n`);
  // The same comparison in CPU time, steadier on a shared machine (the server started by this run only).
  if (serverCpu !== null && bare.cpu !== null) {
    const floorShare = engineFloor.cpu === null ? '' : `; the engine floor's is ${(bare.cpu / engineFloor.cpu).toFixed(2)}x (${engineFloor.cpu.toFixed(1)} µs)`;
    process.stdout.write(`cpu: the bare server's CPU per request is ${(bare.cpu / serverCpu).toFixed(2)}x the server's (${bare.cpu.toFixed(1)} / ${serverCpu.toFixed(1)} µs)${floorShare}\n`);
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`load: ${error.message}\n`);
    process.exitCode = 1;
  });
}
