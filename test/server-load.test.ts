// Load: autocannon against the server on 127.0.0.1 with realistic envelopes: no errors, no kept envelope lost, memory flat.

import { readFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadCorpus } from '../src/demo/load-corpus';
import { runLoad } from '../src/demo/load';
import { startServer, type RunningServer } from '../src/server/server';
import { silentLogger, tempDir, waitFor } from './helpers/server';

const PROJECTS_FILE = path.resolve(__dirname, '..', 'examples', 'projects.json');

let server: RunningServer;
let sinkFile: string;
let forwarded = 0;
let accepted = 0;
beforeAll(async () => {
  sinkFile = path.join(tempDir('ds-load-'), 'kept.jsonl');
  server = await startServer({
    port: 0,
    configs: { file: PROJECTS_FILE },
    sink: { type: 'file', path: sinkFile },
    summaryInterval: 0,
    logger: silentLogger,
    onEnvelope: (o) => {
      accepted++;
      if (o.forwarded !== null) forwarded++;
    },
  });
  await server.sampler.prefetch(['abd0f232775f45feab79864e580d160b', 'e12d836b15bb49d7bbf99e64295d995b', '0c5b3c9f0b8e4a1e9a0d2f6d1c7e8b9a']);
});
afterAll(async () => {
  await server?.close();
});

const lines = () => readFileSync(sinkFile, 'utf8').split('\n').filter((l) => l !== '').length;

describe('load', () => {
  it('serves bursts with zero errors, loses no kept envelope, and keeps memory flat', async () => {
    const corpus = loadCorpus(1000);
    const bursts = [];
    const rss: number[] = [];
    for (let i = 0; i < 3; i++) {
      const result = await runLoad({ url: server.url, duration: 2, connections: 16, corpus });
      bursts.push(result);
      expect(result.errors).toBe(0);
      expect(result.timeouts).toBe(0);
      expect(result.non2xx).toBe(0);
      expect(result['2xx']).toBeGreaterThan(100);
      rss.push(process.memoryUsage().rss);
    }
    // Every accepted envelope was either dropped whole or written to the sink.
    const total = bursts.reduce((n, r) => n + r['2xx'], 0);
    await waitFor(() => accepted >= total, 5000, 'the server to finish the requests in flight');
    // Requests autocannon cut off at the end of a burst may still be finishing: wait until nothing moves.
    for (let seen = -1; seen !== accepted; ) {
      seen = accepted;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await server.sink.flush(5000)).toBe(true);
    expect(lines()).toBe(forwarded);
    const stats = server.stats.snapshot();
    expect(Object.values(stats.projects).reduce((n, p) => n + p.envelopes, 0)).toBe(accepted);
    expect(forwarded).toBeGreaterThan(0);
    expect(forwarded).toBeLessThan(accepted);
    // Memory flat: the last burst does not grow the process much beyond the first.
    expect(rss[2] - rss[0]).toBeLessThan(96 * 1024 * 1024);
    const figures = bursts.map((r) => `${r.requests.average.toFixed(0)} req/s, p99 ${r.latency.p99} ms`).join('; ');
    process.stdout.write(`load (in-process, 16 connections): ${figures}; rss ${rss.map((b) => (b / 1048576).toFixed(0)).join(' → ')} MiB\n`);
  });
});
