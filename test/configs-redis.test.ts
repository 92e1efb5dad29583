// The Redis shared cache: a fleet shares fetched configs and invalidations; Redis going away and coming back.

import Redis from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProjectConfigService, type ProjectConfigServiceOptions } from '../src/configs';
import { sharedChannel } from '../src/configs/redis-cache';
import { startRedis, type RedisServer } from './helpers/redis';
import { FakeUpstream, ManualClock, ValidatingInstaller, keyOf, projectState, samplingConfig, waitFor } from './helpers/upstream';

const silent = pino({ level: 'silent' });

describe('Redis shared cache', () => {
  let redis: RedisServer;
  let upstream: FakeUpstream;
  let clock: ManualClock;
  let prefix: string;
  let testNo = 0;
  const services: ProjectConfigService[] = [];

  /** One "process" of the fleet: its own service, installer and Redis connections. */
  function member(extra: Partial<ProjectConfigServiceOptions> = {}): { s: ProjectConfigService; installer: ValidatingInstaller } {
    const installer = new ValidatingInstaller();
    const s = new ProjectConfigService({
      source: { upstream: { url: upstream.url, batchInterval: 20, initialBackoff: 50, maxBackoff: 200 } },
      redis: redis.url,
      redisPrefix: prefix,
      installer,
      logger: silent,
      now: clock.now,
      sweepInterval: 20,
      ...extra,
    });
    services.push(s);
    return { s, installer };
  }

  /** Connected, and every member subscribed (a fixed pause was not enough on a loaded CI machine). */
  async function ready(...members: Array<{ s: ProjectConfigService }>): Promise<void> {
    await waitFor(() => members.every((m) => m.s.sharedCacheAvailable), 'redis connected');
    const raw = new Redis(redis.url);
    try {
      const deadline = Date.now() + 5000;
      for (;;) {
        const [, subscribers] = (await raw.pubsub('NUMSUB', sharedChannel(prefix))) as [string, number];
        if (Number(subscribers) >= members.length) break;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${members.length} subscribers (${subscribers})`);
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      raw.disconnect();
    }
  }

  beforeAll(async () => {
    redis = await startRedis(); // fails loudly when redis-server is missing
  });

  afterAll(async () => {
    await redis?.stop();
  });

  beforeEach(async () => {
    if (!redis.running) await redis.start();
    upstream = new FakeUpstream();
    await upstream.start();
    clock = new ManualClock();
    prefix = `test${++testNo}:`;
  });

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
    await upstream.stop();
  });

  it('a key fetched by one process is served to another from Redis, without asking the upstream again', async () => {
    const key = keyOf(1);
    upstream.configs.set(key, projectState(key, 1, { sampling: samplingConfig(0.3) }));
    const a = member();
    const b = member();
    await ready(a, b);
    expect(await a.s.prefetch([key])).toEqual({ [key]: 'fresh' });
    expect(await b.s.prefetch([key])).toEqual({ [key]: 'fresh' });
    expect(b.installer.rateOf(key)).toBe(0.3);
    expect(upstream.requestsFor(key)).toBe(1);
    expect(await b.s.registry.metrics()).toMatch(/cache_hits_total\{cache="redis"\} 1/);

    // unknown keys are shared too
    const unknown = keyOf(2);
    await a.s.prefetch([unknown]);
    expect(await b.s.prefetch([unknown])).toEqual({ [unknown]: 'disabled' });
    expect(upstream.requestsFor(unknown)).toBe(1);

    // entries carry their fetch time: expiry is the same in every process
    const raw = new Redis(redis.url);
    try {
      const stored = JSON.parse((await raw.get(`${prefix}cfg:${key}`))!);
      expect(stored).toMatchObject({ v: 1, fetchedAt: clock.t, state: { projectId: 1 } });
      const ttl = await raw.pttl(`${prefix}cfg:${key}`);
      expect(ttl).toBeGreaterThan(400_000);
      expect(ttl).toBeLessThanOrEqual(420_000);
    } finally {
      raw.disconnect();
    }
  });

  it('a refresh by one process reaches the others (publish/subscribe)', async () => {
    const key = keyOf(3);
    upstream.configs.set(key, projectState(key, 3, { rev: 'a', sampling: samplingConfig(0.1) }));
    const a = member();
    const b = member();
    await ready(a, b);
    await a.s.prefetch([key]);
    await b.s.prefetch([key]);
    upstream.configs.set(key, projectState(key, 3, { rev: 'b', sampling: samplingConfig(0.2) }));
    clock.advance(300_000);
    a.s.get(key); // a refreshes; b is told and reloads from Redis
    await waitFor(() => b.installer.rateOf(key) === 0.2, 'b sees the new config');
    expect(b.s.stateOf(key)).toBe('fresh');
    expect(upstream.requestsFor(key)).toBe(2);
  });

  it('invalidations reach every process: by key, by project, everything', async () => {
    const k1 = keyOf(11); // project 1
    const k2 = keyOf(12); // project 1
    const k3 = keyOf(13); // project 2
    const set = (rate: number): void => {
      upstream.configs.set(k1, projectState(k1, 1, { rev: `r${rate}`, sampling: samplingConfig(rate) }));
      upstream.configs.set(k2, projectState(k2, 1, { rev: `r${rate}`, sampling: samplingConfig(rate) }));
      upstream.configs.set(k3, projectState(k3, 2, { rev: `r${rate}`, sampling: samplingConfig(rate) }));
    };
    set(0.1);
    const a = member();
    const b = member();
    await ready(a, b);
    await a.s.prefetch([k1, k2, k3]);
    await b.s.prefetch([k1, k2, k3]);
    expect(upstream.requests).toHaveLength(1);

    set(0.2);
    await a.s.invalidate({ publicKey: k1 });
    await waitFor(() => b.installer.rateOf(k1) === 0.2, 'b has the new k1');
    expect([b.installer.rateOf(k2), b.installer.rateOf(k3)]).toEqual([0.1, 0.1]);

    set(0.3);
    await b.s.invalidate({ projectId: 1 }); // b knows the keys of project 1
    await waitFor(() => a.installer.rateOf(k1) === 0.3 && a.installer.rateOf(k2) === 0.3, 'a has project 1 anew');
    expect(a.installer.rateOf(k3)).toBe(0.1);

    set(0.4);
    const c = member(); // a third process, which never saw project 2: the shared entry is gone all the same
    await ready(c);
    await a.s.invalidate('all');
    await waitFor(() => [k1, k2, k3].every((k) => b.installer.rateOf(k) === 0.4), 'b has everything anew');
    expect(await c.s.prefetch([k3])).toEqual({ [k3]: 'fresh' });
    expect(c.installer.rateOf(k3)).toBe(0.4);
  });

  it('an invalidated key is refetched at once by the processes holding it, once for the fleet', async () => {
    const key = keyOf(21);
    upstream.configs.set(key, projectState(key, 21, { rev: 'a', sampling: samplingConfig(0.1) }));
    const a = member();
    const b = member();
    const c = member();
    await ready(a, b, c);
    await b.s.prefetch([key]);
    await c.s.prefetch([key]);
    expect(upstream.requestsFor(key)).toBe(1);
    upstream.configs.set(key, projectState(key, 21, { rev: 'b', sampling: samplingConfig(0.5) }));
    await a.s.invalidate({ publicKey: key }); // a never loaded the key itself
    await waitFor(() => b.installer.rateOf(key) === 0.5 && c.installer.rateOf(key) === 0.5, 'b and c refetched without being asked');
    expect(upstream.requestsFor(key)).toBe(2);
  });

  it('at expiry, processes asking for a key at the same moment fetch it once (one claims, the others wait for its result)', async () => {
    const keys = [keyOf(51), keyOf(52), keyOf(53)];
    for (const [i, key] of keys.entries()) upstream.configs.set(key, projectState(key, 51 + i, { rev: 'a', sampling: samplingConfig(0.1) }));
    const fleet = [member(), member(), member()];
    await ready(...fleet);
    await Promise.all(fleet.map((m) => m.s.prefetch(keys)));
    for (const key of keys) expect(upstream.requestsFor(key)).toBe(1);

    for (const key of keys) upstream.configs.set(key, projectState(key, 0, { rev: 'b', sampling: samplingConfig(0.7) }));
    clock.advance(300_000); // expired everywhere at once
    for (const m of fleet) for (const key of keys) expect(m.s.get(key).state).toBe('stale');
    await waitFor(() => fleet.every((m) => keys.every((key) => m.installer.rateOf(key) === 0.7)), 'every process has the new configs');
    for (const key of keys) expect(upstream.requestsFor(key)).toBe(2);
    const awaited = await Promise.all(fleet.map(async (m) => /fetches_awaited_total (\d+)/.exec(await m.s.registry.metrics())?.[1]));
    expect(awaited.map(Number).reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
  });

  it('refreshes ahead of expiry at a random point per process, so the fleet does not expire at once', async () => {
    const key = keyOf(61);
    upstream.configs.set(key, projectState(key, 61, { rev: 'a', sampling: samplingConfig(0.1) }));
    const a = member({ cache: { refreshAhead: 0.5 } });
    await ready(a);
    await a.s.prefetch([key]);
    upstream.configs.set(key, projectState(key, 61, { rev: 'b', sampling: samplingConfig(0.6) }));
    // Within the first half of the expiry nothing is refreshed; by its end it is, while still fresh.
    clock.advance(140_000);
    expect(a.s.get(key).state).toBe('fresh');
    await new Promise((r) => setTimeout(r, 100));
    expect(upstream.requestsFor(key)).toBe(1);
    clock.advance(159_999);
    expect(a.s.get(key).state).toBe('fresh');
    await waitFor(() => a.installer.rateOf(key) === 0.6, 'refreshed before expiry');
    expect(upstream.requestsFor(key)).toBe(2);
  });

  it('keeps working from memory when Redis stops, and shares again once it is back', async () => {
    const k1 = keyOf(31);
    const k2 = keyOf(32);
    const k3 = keyOf(33);
    for (const [k, id] of [[k1, 31], [k2, 32], [k3, 33]] as const) upstream.configs.set(k, projectState(k, id, { sampling: samplingConfig(0.5) }));
    const a = member();
    const b = member();
    await ready(a, b);
    await a.s.prefetch([k1]);

    await redis.stop();
    await waitFor(() => !a.s.sharedCacheAvailable && !b.s.sharedCacheAvailable, 'redis seen down');
    // lookups go on: from memory, and from the upstream for new keys; nothing throws
    expect(a.s.get(k1).state).toBe('fresh');
    expect(await a.s.prefetch([k2])).toEqual({ [k2]: 'fresh' });
    expect(await b.s.prefetch([k1])).toEqual({ [k1]: 'fresh' }); // from the upstream this time
    await expect(a.s.invalidate({ projectId: 31 })).resolves.toBeUndefined();
    await waitFor(() => a.s.stateOf(k1) === 'fresh', 'a refetched k1 by itself');
    expect(await a.s.registry.metrics()).toMatch(/redis_errors_total\{operation="[a-z]+"\} [1-9]/);

    await redis.start(); // same port, empty
    await waitFor(() => a.s.sharedCacheAvailable && b.s.sharedCacheAvailable, 'reconnected', 10_000);
    await new Promise((r) => setTimeout(r, 100)); // resubscribed
    // what a holds was written back; new fetches are shared again
    const raw = new Redis(redis.url);
    try {
        const deadline = Date.now() + 3000;
      while ((await raw.exists(`${prefix}cfg:${k2}`)) !== 1) {
        if (Date.now() > deadline) throw new Error('k2 not written back after reconnect');
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      raw.disconnect();
    }
    const before = upstream.requestsFor(k3);
    await a.s.prefetch([k3]);
    expect(await b.s.prefetch([k3])).toEqual({ [k3]: 'fresh' });
    expect(upstream.requestsFor(k3)).toBe(before + 1);
    // and invalidations travel again
    upstream.configs.set(k3, projectState(k3, 33, { rev: 'new', sampling: samplingConfig(0.9) }));
    await a.s.invalidate({ publicKey: k3 });
    await waitFor(() => b.installer.rateOf(k3) === 0.9, 'b got the invalidated key anew');
  });

  it('after a Redis outage every process refetches what it holds: invalidations sent meanwhile were lost', async () => {
    const key = keyOf(71);
    upstream.configs.set(key, projectState(key, 71, { rev: 'a', sampling: samplingConfig(0.1) }));
    const a = member();
    const b = member();
    await ready(a, b);
    await a.s.prefetch([key]);
    await b.s.prefetch([key]);
    await redis.stop();
    await waitFor(() => !a.s.sharedCacheAvailable && !b.s.sharedCacheAvailable, 'redis seen down');
    upstream.configs.set(key, projectState(key, 71, { rev: 'b', sampling: samplingConfig(0.8) }));
    await a.s.invalidate({ publicKey: key }); // reaches a only
    await waitFor(() => a.installer.rateOf(key) === 0.8, 'a refetched by itself');
    expect(b.installer.rateOf(key)).toBe(0.1);
    await redis.start();
    await waitFor(() => b.installer.rateOf(key) === 0.8, 'b revalidated after the outage', 10_000);
  });

  it('starts without Redis and begins sharing once it comes up', async () => {
    await redis.stop();
    const key = keyOf(41);
    upstream.configs.set(key, projectState(key, 41));
    const a = member();
    expect(await a.s.prefetch([key])).toEqual({ [key]: 'fresh' });
    await redis.start();
    const b = member();
    await ready(a, b);
    expect(await b.s.prefetch([key])).toEqual({ [key]: 'fresh' });
    expect(b.s.stateOf(key)).toBe('fresh');
    expect(upstream.requestsFor(key)).toBe(1); // b found a's entry, written back on reconnect
  });
});
