// A fleet on one Redis: two `serve` processes (configs from the control plane behind a counting proxy, roots counted
// into Redis) and one control plane; Redis restarted mid-test. Counts, fetches per key, invalidations, durability, logs.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startControlPlane, type ControlPlane } from '../src/control/control-plane';
import { CountingProxy } from '../src/demo/counting-proxy';
import { transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { SharedTrafficRecorder } from '../src/control/traffic/shared-recorder';
import { keyFor, sampleDefinitions, silentLogger } from './helpers/control';
import { killIfRunning, run, type Running } from './helpers/process';
import { startRedis, type RedisServer } from './helpers/redis';
import { tempDir } from './helpers/server';
import { EnvelopeSender } from './helpers/traffic';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'dist/cli.js');
const TOKEN = 'fleet-config-token';
const KEY = keyFor(101);
const PROJECT = 101;
/** Short enough for several expiries in a test, long enough that a refetch and its check fit in one. */
const EXPIRY_S = 4;
const COUNTDOWN_MS = 300;

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A trace root of project 101 named `name` (a transaction whose DSC carries the name). */
function root(name: string, release?: string): { projectId: number; publicKey: string; body: Buffer } {
  const shape = { traceId: randomBytes(16).toString('hex'), publicKey: KEY, transaction: name, release };
  return { projectId: PROJECT, publicKey: KEY, body: transactionEnvelope(shape, transactionEvent(shape, randomBytes(16).toString('hex'), 1, Date.now() / 1000)) };
}

describe('a fleet of ingestion processes behind one control plane on one Redis', () => {
  let redis: RedisServer;
  let raw: Redis;
  let plane: ControlPlane;
  let proxy: CountingProxy;
  let definitionsFile: string;
  const servers: Array<{ process: Running; url: string; sender: EnvelopeSender }> = [];

  /** Roots counted in Redis under a transaction name, by decision (every minute bucket of project 101). */
  async function counted(name: string): Promise<{ keep: number; drop: number }> {
    const out = { keep: 0, drop: 0 };
    for (const key of await raw.keys(`dsctl:t:m:*:p:1:${PROJECT}`)) {
      const hash = await raw.hgetall(key);
      out.keep += Number(hash[`k:${name}`] ?? 0);
      out.drop += Number(hash[`d:${name}`] ?? 0);
    }
    return out;
  }

  /** Sends `n` roots named `name` to each server; every request must be accepted. */
  async function send(name: string, n: number): Promise<void> {
    for (const server of servers) {
      const statuses = await server.sender.sendAll(Array.from({ length: n }, () => root(name)));
      expect(statuses.every((s) => s === 200)).toBe(true);
    }
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/ is not built: run `npm run build` first');
    redis = await startRedis();
    raw = new Redis(redis.url);
    raw.on('error', () => {}); // the test's own client, while Redis is restarted
    const dir = tempDir('ds-fleet-');
    definitionsFile = path.join(dir, 'control.json');
    writeFileSync(definitionsFile, JSON.stringify(sampleDefinitions()));
    plane = await startControlPlane({
      definitions: definitionsFile,
      redis: redis.url,
      tokens: [TOKEN],
      schedule: 'none',
      invalidationCountdownMs: COUNTDOWN_MS,
      logger: silentLogger,
    });
    proxy = new CountingProxy(plane.url);
    await proxy.start();
    for (let i = 0; i < 2; i++) {
      const args = ['serve', '--port', '0', '--configs-upstream', proxy.url, '--configs-token', TOKEN, '--redis', redis.url, '--count-roots'];
      args.push('--configs-expiry', String(EXPIRY_S), '--sink', `file:${path.join(dir, `kept-${i}.jsonl`)}`, '--summary-interval', '0');
      const child = run(CLI, args, dir);
      await until(() => /listening on http:\/\/\S+/.test(child.output()), `server ${i} listening`);
      const url = /listening on (http:\/\/\S+)/.exec(child.output())![1];
      servers.push({ process: child, url, sender: new EnvelopeSender(url, 8) });
    }
  }, 60_000);

  afterAll(async () => {
    for (const server of servers) {
      server.sender.close();
      await killIfRunning(server.process);
    }
    await plane?.close();
    await proxy?.close();
    raw?.disconnect();
    await redis?.stop();
  });

  it('counts every root of every process, fetches each key once per expiry and per change, and rides out a Redis restart', async () => {
    // 1. Every process counts into the Redis the control plane reads; the first lookups fetch once for the fleet.
    await send('/a', 40);
    await until(async () => (await counted('/a')).keep + (await counted('/a')).drop >= 80, 'the roots of both processes counted');
    const a = await counted('/a');
    expect(a.keep + a.drop).toBe(80);
    expect(proxy.fetches(KEY)).toBe(1);

    // 2. At expiry (refreshed ahead of it, at a random point per process) one process fetches; the other reads its result.
    let round = 0;
    await until(async () => {
      await send(`/b${round++}`, 2);
      return proxy.fetches(KEY) >= 2;
    }, 'the refetch at expiry');
    expect(proxy.fetches(KEY)).toBe(2);

    // 3. A change through the admin API reaches both processes (the control plane publishes the invalidation), fetched once.
    const before = proxy.fetches(KEY);
    const change = await fetch(`${plane.url}/api/control/organizations/1`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ targetSampleRate: 1 }) });
    expect(change.status).toBe(200);
    await until(() => proxy.fetches(KEY) > before, 'the refetch after the change');
    expect(proxy.fetches(KEY)).toBe(before + 1);
    // At a target of 1 every root is kept: a batch on each process fully kept shows both took the new config.
    round = 0;
    await until(async () => {
      const name = `/c${round++}`;
      await send(name, 10);
      await until(async () => {
        const c = await counted(name);
        return c.keep + c.drop === 20;
      }, `batch ${name} counted`);
      return (await counted(name)).drop === 0;
    }, 'both processes keep everything');

    // 4. Redis restarts (empty): roots counted meanwhile are buffered and written once it is back.
    await redis.stop();
    await send('/d', 15);
    // Every process has seen the outage (its one line) before Redis comes back.
    await until(() => servers.every((server) => /redis unreachable/.test(server.process.output())), 'both processes noticed the outage');
    await redis.start();
    await until(async () => (await counted('/d')).keep === 30, 'the outage roots flushed after the restart');
    expect(await counted('/d')).toEqual({ keep: 30, drop: 0 });

    // 5. Right after the restart (both processes resubscribed), a change reaches both, though Redis lost every cached config.
    await until(async () => ((await raw.pubsub('NUMSUB', 'dynamic-sampling:configs:events')) as [string, number])[1] >= 2, 'both processes resubscribed');
    const settled = proxy.fetches(KEY);
    await until(async () => {
      // Revalidation after the outage refetches once; wait until it is over before changing.
      const n = proxy.fetches(KEY);
      await new Promise((r) => setTimeout(r, 500));
      return proxy.fetches(KEY) === n;
    }, 'revalidation after the restart done');
    expect(proxy.fetches(KEY)).toBeGreaterThanOrEqual(settled);
    const beforeSecond = proxy.fetches(KEY);
    const second = await fetch(`${plane.url}/api/control/organizations/1`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ targetSampleRate: 0.05 }) });
    expect(second.status).toBe(200);
    await until(() => proxy.fetches(KEY) > beforeSecond, 'the refetch after the second change');
    expect(proxy.fetches(KEY)).toBe(beforeSecond + 1);
    // At 5 % a batch of 20 per process is all kept only by chance (0.95^20 ≈ 36 %): wait for drops on each process.
    for (const [i, server] of servers.entries()) {
      round = 0;
      await until(async () => {
        const name = `/e${i}-${round++}`;
        const statuses = await server.sender.sendAll(Array.from({ length: 20 }, () => root(name)));
        expect(statuses.every((s) => s === 200)).toBe(true);
        await until(async () => {
          const c = await counted(name);
          return c.keep + c.drop === 20;
        }, `batch ${name} counted`);
        return (await counted(name)).drop > 0;
      }, `process ${i} samples at the new rate`);
    }

    // 6. The admin changes are durable: in the definitions file, so a reload after the empty restart keeps them.
    expect(JSON.parse(readFileSync(definitionsFile, 'utf8')).organizations[0].targetSampleRate).toBe(0.05);
    await raw.flushall();
    await plane.definitions.reload();
    expect(plane.definitions.organization(1)!.targetSampleRate).toBe(0.05);

    // 7. One line per Redis connection and outage, and its recovery; never ioredis's unhandled errors.
    for (const server of servers) {
      const output = server.process.output();
      expect(output).not.toMatch(/Unhandled error event/);
      const outages = output.match(/redis unreachable/g) ?? [];
      expect(outages.length).toBeGreaterThan(0);
      // configs (client + subscriber report as one), reservoir counters, traffic counts.
      expect(outages.length).toBeLessThanOrEqual(3);
    }
  }, 120_000);

  it('hands the releases a serve process sees to the control plane, which boosts them', async () => {
    const server = servers[1];
    await until(async () => {
      const statuses = await server.sender.sendAll(Array.from({ length: 20 }, () => root('/r', 'fleet@1.0')));
      expect(statuses.every((s) => s === 200)).toBe(true);
      return (await raw.hget(`dsctl:releases:p:${PROJECT}`, 'fleet@1.0')) !== null;
    }, 'the release observed by the control plane');
    await until(async () => (await raw.exists(`ds::p:${PROJECT}:boosted_releases`)) === 1, 'the release boosted');
  }, 60_000);

  it('bounds what it buffers during an outage and counts what it dropped beyond', async () => {
    const recorder = new SharedTrafficRecorder({ redis: redis.url, flushIntervalMs: 0, maxBufferedRecords: 2, logger: silentLogger });
    try {
      await recorder.flush();
      await redis.stop();
      for (const name of ['/x', '/y', '/z']) recorder.recordRoot({ orgId: 1, projectId: PROJECT, transaction: name, decision: 'keep', count: 5 });
      recorder.recordRoot({ orgId: 1, projectId: PROJECT, transaction: '/x', decision: 'keep', count: 1 });
      expect(recorder.bufferedRecords).toBe(2);
      expect(recorder.droppedRoots).toBe(5);
      await recorder.flush(); // fails: kept
      expect(recorder.bufferedRecords).toBe(2);
      await redis.start();
      await until(async () => {
        await recorder.flush();
        return recorder.bufferedRecords === 0;
      }, 'flushed after the restart');
      expect(await counted('/x')).toEqual({ keep: 6, drop: 0 });
      expect(await counted('/y')).toEqual({ keep: 5, drop: 0 });
      expect(await counted('/z')).toEqual({ keep: 0, drop: 0 });
    } finally {
      if (!redis.running) await redis.start();
      await recorder.close();
    }
  }, 60_000);
});
