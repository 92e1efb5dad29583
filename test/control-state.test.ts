// The §6/§8 state through both stores (memory with a test clock, and a real redis-server): keys, TTLs, fallbacks, release boosts, counts.

import Redis from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { DynamicSamplingState } from '../src/control/state/ds-state';
import { formatTransactionRates, parseTransactionRates } from '../src/control/state/ordered-json';
import { ReleaseBoosts } from '../src/control/state/releases';
import type { KeyValueStore } from '../src/control/store/kv';
import { MemoryKeyValueStore } from '../src/control/store/memory-kv';
import { RedisKeyValueStore } from '../src/control/store/redis-kv';
import { lastWindow, TrafficCounts, type RootCount } from '../src/control/traffic/counts';
import { CountingTrafficRecorder, OVERFLOW_TRANSACTION } from '../src/control/traffic/recorder';
import { StoredStateError } from '../src/control/errors';
import { TestClock } from './helpers/control';
import { startRedis, type RedisServer } from './helpers/redis';

const HOUR = 3600_000;

let redis: RedisServer;
let raw: Redis;
beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

describe.each(['memory', 'redis'] as const)('state in %s', (kind) => {
  let clock: TestClock;
  let kv: KeyValueStore;
  let state: DynamicSamplingState;
  let releases: ReleaseBoosts;

  beforeEach(async () => {
    // Redis TTLs follow real time: the test clock starts at the real time so release windows line up.
    clock = new TestClock(kind === 'redis' ? Date.now() : Date.UTC(2024, 4, 1, 10, 0, 0));
    if (kind === 'redis') await raw.flushdb();
    kv = kind === 'memory' ? new MemoryKeyValueStore(clock.now) : new RedisKeyValueStore(redis.url);
    state = new DynamicSamplingState(kv, { factorTtlMs: 20 * 60_000 });
    releases = new ReleaseBoosts(kv);
    return () => kv.close();
  });

  it('project rates: stored value, 1.0 without traffic after the sliding window ran, else the fallback', async () => {
    expect(await state.projectRate(1, 11, 0.25)).toEqual({ rate: 0.25, source: 'fallback' });
    await state.markSlidingWindowExecuted();
    expect(await state.projectRate(1, 11, 0.25)).toEqual({ rate: 1.0, source: 'noTraffic' });
    expect(await state.setProjectRate(1, 11, 0.5)).toBeNull();
    expect(await state.setProjectRate(1, 11, 0.125)).toBe(0.5);
    expect(await state.projectRate(1, 11, 0.25)).toEqual({ rate: 0.125, source: 'stored' });
    await kv.hset('ds::o:1:prioritise_projects', { '12': 'garbage' });
    expect(await state.projectRate(1, 12, 0.25)).toEqual({ rate: 0.25, source: 'fallback' });
    expect(await kv.hget('ds::o:1:prioritise_projects', '11')).toBe('0.125');
    const ttl = await kv.pttl('ds::o:1:prioritise_projects');
    expect(ttl).toBeGreaterThan(24 * HOUR - 5000);
    expect(ttl).toBeLessThanOrEqual(24 * HOUR);
    expect(await kv.pttl('ds::sliding_window_org_executed')).toBeGreaterThan(HOUR - 5000);
  });

  it('factors: missing or unparsable read as 1.0, 1.0 is deleted, others stored with their TTL', async () => {
    expect(await state.factor({ organizationId: 1 })).toBe(1.0);
    await kv.set('ds::o:1:rate_rebalance_factor2', 'nope');
    expect(await state.factor({ organizationId: 1 })).toBe(1.0);
    await state.setFactor({ organizationId: 1 }, 0.8);
    expect(await kv.get('ds::o:1:rate_rebalance_factor2')).toBe('0.8');
    expect(await state.factor({ organizationId: 1 })).toBe(0.8);
    expect(await kv.pttl('ds::o:1:rate_rebalance_factor2')).toBeGreaterThan(20 * 60_000 - 5000);
    await state.setFactor({ organizationId: 1 }, 1.0);
    expect(await kv.exists('ds::o:1:rate_rebalance_factor2')).toBe(false);
    await state.setFactor({ projectId: 11 }, 2);
    expect(await kv.get('ds::p:11:rate_rebalance_factor2')).toBe('2.0');
  });

  it('transaction rates keep the stored order (also of integer-like names) and have a 24 h TTL', async () => {
    const named = [['/b', 0.5], ['10', 0.25], ['/a', 1]] as const;
    await state.setTransactionRates(1, 11, named, 0.0625);
    expect(await kv.get('ds::o:1:p:11:pri_tran')).toBe('[{"/b": 0.5, "10": 0.25, "/a": 1.0}, 0.0625]');
    expect(await state.transactionRates(1, 11)).toEqual({ named: [['/b', 0.5], ['10', 0.25], ['/a', 1]], implicit: 0.0625 });
    expect(await kv.pttl('ds::o:1:p:11:pri_tran')).toBeGreaterThan(24 * HOUR - 5000);
    expect(await state.transactionRates(1, 99)).toBeNull();
    await kv.set('ds::o:1:p:12:pri_tran', '{"not": "a list"}');
    expect(await state.transactionRates(1, 12)).toBeNull();
  });

  it('sliding-window org rates: missing → null, stored for 24 h', async () => {
    expect(await state.slidingWindowOrgRate(1)).toBeNull();
    await state.setSlidingWindowOrgRate(1, 0.3);
    expect(await state.slidingWindowOrgRate(1)).toBe(0.3);
    expect(await kv.pttl('ds::o:1:sliding_window_org_sample_rate')).toBeGreaterThan(24 * HOUR - 5000);
  });

  it('releases: boosted once per release and environment, never for older releases, hash expires 1 h after the last add', async () => {
    const t0 = clock.now();
    expect(await releases.observe({ projectId: 11, release: '1.0', environment: 'prod', platform: 'python', at: t0 })).toBe('boosted');
    expect(await releases.observe({ projectId: 11, release: '1.0', environment: 'prod', platform: 'python', at: t0 + 1000 })).toBe('alreadyObserved');
    expect(await releases.observe({ projectId: 11, release: '1.0', environment: '', platform: 'python', at: t0 + 2000 })).toBe('boosted');
    expect(await releases.observe({ projectId: 11, release: '2.0', environment: 'prod', platform: 'python', at: t0 + 3000 })).toBe('boosted');
    // 1.0 in a new environment after 2.0 appeared: 1.0 is older than the latest release.
    expect(await releases.observe({ projectId: 11, release: '1.0', environment: 'staging', platform: 'python', at: t0 + 4000 })).toBe('olderThanLatest');

    const hash = await kv.hgetall('ds::p:11:boosted_releases');
    expect(Object.keys(hash)).toEqual(['ds::r:1:e:prod', 'ds::r:1', 'ds::r:2:e:prod']);
    expect(Number(hash['ds::r:2:e:prod'])).toBeCloseTo((t0 + 3000) / 1000, 3);
    expect(await kv.get('ds::p:11:latest_release')).not.toBeNull();
    expect(await kv.get('ds::p:11:r:1:e:prod')).toBe('1');
    expect(await kv.pttl('ds::p:11:r:1:e:prod')).toBeGreaterThan(24 * HOUR - 5000);
    const ttl = await kv.pttl('ds::p:11:boosted_releases');
    expect(ttl).toBeGreaterThan(HOUR - 5000);
    expect(ttl).toBeLessThanOrEqual(HOUR);

    const boosted = await releases.boostedReleases(11, 'python', t0 + 5000);
    expect(boosted.map((r) => [r.version, r.environment])).toEqual([['1.0', 'prod'], ['1.0', null], ['2.0', 'prod']]);
    // python boosts last 4358 s; past that the entries are expired and deleted.
    expect(await releases.boostedReleases(11, 'python', t0 + 4359_000 + 3000)).toEqual([]);
    expect(await kv.hgetall('ds::p:11:boosted_releases')).toEqual({});
  });

  it('releases: at most 10 boosts, the least recently boosted one goes first', async () => {
    const t0 = clock.now();
    for (let i = 1; i <= 11; i++) {
      expect(await releases.observe({ projectId: 11, release: `r${i}`, environment: null, platform: 'android', at: t0 + i * 1000 })).toBe('boosted');
    }
    const boosted = await releases.boostedReleases(11, 'android', t0 + 20_000);
    expect(boosted.map((r) => r.version)).toEqual(['r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11']);
  });

  it('counts roots per org, project, transaction and decision, and queries windows', async () => {
    const counts = new TrafficCounts(kv);
    const recorder = new CountingTrafficRecorder({ counts, clock: clock.now, flushIntervalMs: 0, maxTransactionsPerProjectMinute: 3 });
    const t = clock.now();
    recorder.recordRoot({ orgId: 1, projectId: 11, transaction: '/a', decision: 'keep', count: 3, at: t });
    recorder.recordRoot({ orgId: 1, projectId: 11, transaction: '/a', decision: 'drop', count: 7, at: t });
    recorder.recordRoot({ orgId: 1, projectId: 12, transaction: '/b', decision: 'drop', at: t - 10 * 60_000 });
    recorder.recordRoot({ orgId: 2, projectId: 21, decision: 'keep', at: t - 2 * HOUR });
    for (const name of ['/c', '/d', '/e', '/f']) recorder.recordRoot({ orgId: 1, projectId: 13, transaction: name, decision: 'keep', at: t });
    recorder.recordRoot({ orgId: 1, projectId: 11, transaction: '/a', decision: 'maybe' as never, at: t }); // ignored
    await recorder.close();

    const hour = await counts.projectVolumes(lastWindow(t, HOUR));
    expect(hour.map((v) => [v.orgId, v.projectId, v.keep, v.drop, Object.fromEntries(v.transactions)])).toEqual([
      [1, 11, 3, 7, { '/a': 10 }],
      [1, 12, 0, 1, { '/b': 1 }],
      [1, 13, 4, 0, { '/c': 1, '/d': 1, '/e': 1, [OVERFLOW_TRANSACTION]: 1 }],
    ]);
    expect(await counts.orgVolumes(lastWindow(t, 5 * 60_000))).toEqual([{ orgId: 1, total: 14, keep: 7 }]);
    expect(await counts.orgVolumesHourly(t, 24)).toEqual([
      { orgId: 1, total: 15, keep: 7 },
      { orgId: 2, total: 1, keep: 1 },
    ]);
    const bucket = `dsctl:t:m:${Math.floor(t / 60_000)}:p:1:11`;
    expect(await kv.hgetall(bucket)).toEqual({ 'k:/a': '3', 'd:/a': '7' });
    expect(await kv.pttl(bucket)).toBeGreaterThan(2 * HOUR - 5000);
  });
});

describe('stored transaction rates', () => {
  it('are written like Python json.dumps and refuse other shapes', () => {
    expect(formatTransactionRates([], 1)).toBe('[{}, 1.0]');
    expect(parseTransactionRates('[{}, 1]', 'k')).toEqual({ named: [], implicit: 1 });
    expect(parseTransactionRates('[ {"a\\"b": 1e-05 , "2": 0.5}, 0.25 ]', 'k')).toEqual({ named: [['a"b', 1e-5], ['2', 0.5]], implicit: 0.25 });
    expect(() => parseTransactionRates('[{"a": 1}]', 'k')).toThrow(StoredStateError);
    expect(() => parseTransactionRates('[{"a": 1}, 0.5] x', 'k')).toThrow(StoredStateError);
  });
});

describe('memory store', () => {
  it('expires keys with the injected clock', async () => {
    const clock = new TestClock(0);
    const kv = new MemoryKeyValueStore(clock.now);
    await kv.set('a', '1', 1000);
    await kv.hincrbyMany([{ key: 'h', field: 'f', by: 2 }], 500);
    expect(await kv.pttl('a')).toBe(1000);
    expect(await kv.pttl('nope')).toBe(-2);
    await kv.set('forever', 'x');
    expect(await kv.pttl('forever')).toBe(-1);
    clock.advance(500);
    expect(await kv.hgetall('h')).toEqual({});
    expect(await kv.get('a')).toBe('1');
    clock.advance(500);
    expect(await kv.get('a')).toBeNull();
    expect(await kv.getset('a', '2', 100)).toBeNull();
    expect(await kv.getset('a', '3')).toBe('2');
    expect(await kv.setnx('a', '4')).toBe(false);
    expect(kv.keys().sort()).toEqual(['a', 'forever']);
  });
});

describe('traffic recorder', () => {
  it('adds each root to the record of its name, decision, kind, release and environment, also after a failed write', async () => {
    const clock = new TestClock(Date.UTC(2024, 4, 1, 10, 0, 0));
    const written: RootCount[][] = [];
    let down = true;
    const counts = {
      add: async (batch: readonly RootCount[]) => {
        if (down) throw new Error('store down');
        written.push(batch.map((record) => ({ ...record })));
      },
    } as unknown as TrafficCounts;
    const recorder = new CountingTrafficRecorder({ counts, clock: clock.now, flushIntervalMs: 0 });
    const root = { orgId: 1, projectId: 11, transaction: '/a', decision: 'keep' as const };
    recorder.recordRoot(root);
    recorder.recordRoot({ ...root, release: 'r1' });
    recorder.recordRoot({ ...root, release: 'r1', environment: 'prod' });
    recorder.recordRoot({ ...root, kind: 'segment' });
    recorder.recordRoot({ ...root, decision: 'drop' });
    recorder.recordRoot({ ...root, transaction: '/b' });
    recorder.recordRoot({ ...root, projectId: 12 });
    expect(recorder.bufferedRecords).toBe(7);
    await recorder.flush();
    // Kept for the next write, and found again by the roots that follow.
    expect(recorder.bufferedRecords).toBe(7);
    recorder.recordRoot({ ...root, count: 2 });
    recorder.recordRoot({ ...root, release: 'r1', environment: 'prod' });
    recorder.recordRoot({ ...root, decision: 'drop', count: 4 });
    expect(recorder.bufferedRecords).toBe(7);
    down = false;
    await recorder.flush();
    expect(recorder.bufferedRecords).toBe(0);
    const summary = written.flat().map((r) => `${r.projectId} ${r.transaction} ${r.decision} ${r.kind} ${r.release} ${r.environment} ${r.count}`);
    expect(summary.sort()).toEqual([
      '11 /a drop transaction null null 5',
      '11 /a keep segment null null 1',
      '11 /a keep transaction null null 3',
      '11 /a keep transaction r1 null 1',
      '11 /a keep transaction r1 prod 2',
      '11 /b keep transaction null null 1',
      '12 /a keep transaction null null 1',
    ]);
    // The next minute starts new records.
    clock.advance(60_000);
    recorder.recordRoot(root);
    await recorder.close();
    expect(written.at(-1)).toEqual([{ ...root, count: 1, at: clock.now(), kind: 'transaction', release: null, environment: null }]);
  });
});
