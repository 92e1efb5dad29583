// A fleet on one Redis: three `serve` processes (configs from the control plane behind a counting proxy, roots counted
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
/** The ingestion processes of the fleet. */
const PROCESSES = 3;
/** Short enough for several expiries in a test, long enough that a refetch and its check fit in one. */
const EXPIRY_S = 6;
/** The serve processes' default `cache.refreshAhead` with Redis: refreshes start up to this part of the expiry early. */
const REFRESH_AHEAD = 0.1;
/** After an expiry, time enough for every process's refresh (a batch interval, a Redis read, a notice) to be over. */
const REFRESH_SETTLE_MS = 1_000;
const COUNTDOWN_MS = 300;
const SHARED_ENTRY = `dynamic-sampling:configs:cfg:${KEY}`;

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

  /** When the config of KEY that Redis holds was fetched (the fleet's current fetch), once it was fetched after `after`. */
  async function sharedFetchedAt(after = 0): Promise<number> {
    let fetchedAt = 0;
    await until(async () => {
      const stored = await raw.get(SHARED_ENTRY);
      fetchedAt = stored === null ? 0 : (JSON.parse(stored) as { fetchedAt: number }).fetchedAt;
      return fetchedAt > after;
    }, 'the fetched config written to Redis');
    return fetchedAt;
  }

  /** Where the fleet's fetching stands: the proxy's count of KEY's configs, and each process's upstream requests. */
  async function fetchState(): Promise<{ fetched: number; requests: number[] }> {
    return { fetched: proxy.fetches(KEY), requests: await Promise.all(servers.map((server) => requestsMade(server))) };
  }

  /**
   * Since `base`, the fleet fetched KEY once (that fetch made at `since`), by one process: the others asked the
   * upstream nothing (a process's requests also count `pending` answers, hence processes, not requests). A check
   * that runs late may see the next expiry's refetch too: one more is allowed per refresh window opened since, so a
   * slow machine loosens the check instead of failing it (on time, it must be exactly one).
   */
  async function expectOneFetchSince(base: { fetched: number; requests: number[] }, since: number): Promise<void> {
    const now = await fetchState();
    const windows = Math.floor((Date.now() - since) / (EXPIRY_S * 1000 * (1 - REFRESH_AHEAD)));
    expect(now.fetched - base.fetched).toBeGreaterThanOrEqual(1);
    expect(now.fetched - base.fetched).toBeLessThanOrEqual(1 + windows);
    const fetchers = now.requests.filter((n, i) => n > base.requests[i]).length;
    expect(fetchers).toBeGreaterThanOrEqual(1);
    expect(fetchers).toBeLessThanOrEqual(1 + windows);
  }

  /** A process's counter of invalidations received (its /metrics), all scopes. */
  async function invalidationsSeen(server: { url: string }): Promise<number> {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    let total = 0;
    for (const match of text.matchAll(/^dynamic_sampling_configs_invalidations_total(?:\{[^}]*\})? (\d+)$/gm)) total += Number(match[1]);
    return total;
  }

  /**
   * Sets the organisation's target through the admin API and waits until every process heard the
   * invalidation and samples with the new config (`allKept`: every root kept, else some dropped);
   * the fleet fetched it once. Returns when the shared cache entry was written (after `fetchedAfter`).
   */
  async function changeTarget(rate: number, fetchedAfter: number, what: string, tag: string, allKept: boolean): Promise<number> {
    const before = await fetchState();
    const seenBefore = await Promise.all(servers.map((server) => invalidationsSeen(server)));
    const change = await fetch(`${plane.url}/api/control/organizations/1`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ targetSampleRate: rate }) });
    expect(change.status).toBe(200);
    await until(() => proxy.fetches(KEY) > before.fetched, `the refetch after ${what}`);
    const changed = await sharedFetchedAt(fetchedAfter);
    await until(async () => (await Promise.all(servers.map((server) => invalidationsSeen(server)))).every((n, i) => n > seenBefore[i]), `${what} seen by every process`);
    await eachProcessSamples(tag, allKept);
    await expectOneFetchSince(before, changed);
    return changed;
  }

  /** Upstream requests a process made itself (its /metrics): their sum over the fleet is what the proxy saw. */
  async function requestsMade(server: { url: string }): Promise<number> {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const match = /^dynamic_sampling_configs_requests_total\{outcome="ok"\} (\d+)$/m.exec(text);
    return match ? Number(match[1]) : 0;
  }

  /**
   * Until every process samples KEY with a config that keeps (`allKept`) or drops some roots: a batch of 20
   * roots to each process, named per process, until its counts show it.
   */
  async function eachProcessSamples(tag: string, allKept: boolean): Promise<void> {
    for (const [i, server] of servers.entries()) {
      let round = 0;
      await until(async () => {
        const name = `/${tag}${i}-${round++}`;
        const statuses = await server.sender.sendAll(Array.from({ length: 20 }, () => root(name)));
        expect(statuses.every((s) => s === 200)).toBe(true);
        await until(async () => {
          const c = await counted(name);
          return c.keep + c.drop === 20;
        }, `batch ${name} counted`);
        const c = await counted(name);
        return allKept ? c.drop === 0 : c.drop > 0;
      }, `process ${i} samples at the new rate`);
    }
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
    for (let i = 0; i < PROCESSES; i++) {
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
    // Every process subscribed to the config events (the count to find again after the restart).
    const subscribers = async (): Promise<number> => ((await raw.pubsub('NUMSUB', 'dynamic-sampling:configs:events')) as [string, number])[1];
    await until(async () => (await subscribers()) === PROCESSES, 'every process subscribed');

    // 1. Every process counts into the Redis the control plane reads; the first lookups fetch once for the fleet.
    await send('/a', 40);
    await until(async () => {
      const a = await counted('/a');
      return a.keep + a.drop >= 40 * PROCESSES;
    }, 'the roots of every process counted');
    const a = await counted('/a');
    expect(a.keep + a.drop).toBe(40 * PROCESSES);
    // One process asked the upstream, the others read its result.
    const first = await sharedFetchedAt();
    await expectOneFetchSince({ fetched: 0, requests: servers.map(() => 0) }, first);
    expect(proxy.fetches(KEY)).toBe(1);

    // 2. At expiry (refreshed ahead of it, at a random point per process) one process fetches; the others read its result.
    const atExpiry = await fetchState();
    let round = 0;
    await until(async () => {
      await send(`/b${round++}`, 2);
      return proxy.fetches(KEY) >= 2;
    }, 'the refetch at expiry');
    const second = await sharedFetchedAt(first);
    // Traffic to every process until all of them are past the old entry's expiry (each refreshed or took the
    // refetched one), and still before the next refresh can start: any fetch of its own would show here.
    await until(async () => {
      await send(`/b${round++}`, 2);
      return Date.now() >= first + EXPIRY_S * 1000 + REFRESH_SETTLE_MS;
    }, 'every process past the expiry');
    await expectOneFetchSince(atExpiry, second);

    // 3. A change through the admin API reaches every process (the control plane publishes the invalidation:
    // each one counts it, none waits for its expiry), and is fetched once for the fleet.
    // At a target of 1 every root is kept: a batch fully kept on each process shows it took the new config.
    const changed = await changeTarget(1, second, 'the change', 'c', true);

    // 4. Redis restarts (empty): roots counted meanwhile are buffered and written once it is back.
    await redis.stop();
    await send('/d', 15);
    // Every process has seen the outage (its one line) before Redis comes back.
    await until(() => servers.every((server) => /redis unreachable/.test(server.process.output())), 'every process noticed the outage');
    await redis.start();
    await until(async () => (await counted('/d')).keep === 15 * PROCESSES, 'the outage roots flushed after the restart');
    expect(await counted('/d')).toEqual({ keep: 15 * PROCESSES, drop: 0 });

    // 5. Right after the restart (every process resubscribed), a change reaches all of them, though Redis lost every cached config.
    await until(async () => (await subscribers()) === PROCESSES, 'every process resubscribed');
    const settled = proxy.fetches(KEY);
    await until(async () => {
      // Revalidation after the outage refetches (through the claim; at most once per process); wait until it is over.
      const n = proxy.fetches(KEY);
      await new Promise((r) => setTimeout(r, 500));
      return proxy.fetches(KEY) === n;
    }, 'revalidation after the restart done');
    expect(proxy.fetches(KEY) - settled).toBeLessThanOrEqual(PROCESSES);
    // At 5 % a batch of 20 is all kept only by chance (0.95^20 ≈ 36 %): batches until each process drops some.
    await changeTarget(0.05, changed, 'the second change', 'e', false);

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
