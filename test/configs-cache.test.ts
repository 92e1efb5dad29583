// The in-memory cache: expiry, miss expiry, grace, invalidation, the bound, floods of unknown keys, states.

import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEY_STATES, ProjectConfigService, type ProjectConfigServiceOptions } from '../src/configs';
import { FakeUpstream, ManualClock, ValidatingInstaller, keyOf, projectState, samplingConfig, waitFor } from './helpers/upstream';

const silent = pino({ level: 'silent' });

describe('in-memory project config cache', () => {
  let upstream: FakeUpstream;
  let installer: ValidatingInstaller;
  let clock: ManualClock;
  const services: ProjectConfigService[] = [];

  function service(extra: Partial<ProjectConfigServiceOptions> = {}): ProjectConfigService {
    const s = new ProjectConfigService({
      source: { upstream: { url: upstream.url, batchInterval: 10 } },
      installer,
      logger: silent,
      now: clock.now,
      sweepInterval: 20,
      ...extra,
    });
    services.push(s);
    return s;
  }

  beforeEach(async () => {
    upstream = new FakeUpstream();
    await upstream.start();
    installer = new ValidatingInstaller();
    clock = new ManualClock();
  });

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
    await upstream.stop();
  });

  it('keeps a config fresh for 300 s, stale for 120 s more, then drops it (and the installer forgets it)', async () => {
    const key = keyOf(1);
    upstream.configs.set(key, projectState(key, 1, { sampling: samplingConfig(0.5) }));
    upstream.pendingCounts.set(key, 0);
    const s = service();
    await s.prefetch([key]);
    clock.advance(299_999);
    expect(s.stateOf(key)).toBe('fresh');
    clock.advance(1);
    expect(s.stateOf(key)).toBe('stale');
    clock.advance(119_999);
    expect(s.stateOf(key)).toBe('stale');
    expect(installer.configs.has(key)).toBe(true);
    clock.advance(1);
    // nobody asked for it during the grace period: it is forgotten at the next sweep
    await waitFor(() => s.stateOf(key) === undefined, 'forgotten');
    expect(installer.configs.has(key)).toBe(false);
    expect(installer.count('remove', key)).toBe(1);
    expect(upstream.requestsFor(key)).toBe(1);
  });

  it('caches disabled and unknown keys for 60 s, so a flood of bogus keys asks the upstream once per key', async () => {
    const s = service();
    const bogus = Array.from({ length: 1500 }, (_, i) => keyOf(0xbad000 + i));
    for (let round = 0; round < 3; round++) for (const key of bogus) expect(s.get(key).state).not.toBe('fresh');
    await s.prefetch(bogus);
    for (let round = 0; round < 5; round++) for (const key of bogus) expect(s.get(key)).toEqual({ state: 'disabled' });
    clock.advance(59_000);
    for (const key of bogus) s.get(key);
    await new Promise((r) => setTimeout(r, 50));
    expect(upstream.keysAsked).toHaveLength(1500);
    expect(upstream.requests.length).toBe(3);

    clock.advance(1_000); // miss expiry over: asked again (disabled meanwhile)
    expect(s.get(bogus[0]!)).toEqual({ state: 'disabled' });
    await waitFor(() => upstream.requestsFor(bogus[0]!) === 2, 'refetched after miss expiry');
  });

  it('answers keys that cannot be project keys as disabled without asking the upstream', async () => {
    const s = service();
    for (const key of ['', 'x'.repeat(65), 'has space', 'semi;colon', '../../etc/passwd']) {
      expect(s.get(key)).toEqual({ state: 'disabled' });
    }
    expect(s.get(undefined as unknown as string)).toEqual({ state: 'disabled' });
    expect(s.get({} as unknown as string)).toEqual({ state: 'disabled' });
    await new Promise((r) => setTimeout(r, 40));
    expect(upstream.requests).toHaveLength(0);
    expect(s.size).toBe(0);
  });

  it('is bounded: least recently used keys are evicted and removed from the installer', async () => {
    const s = service({ cache: { maxEntries: 50 } });
    const keys = Array.from({ length: 200 }, (_, i) => keyOf(5000 + i));
    keys.forEach((key, i) => upstream.configs.set(key, projectState(key, 5000 + i, { sampling: samplingConfig(0.1) })));
    const hot = keys[0]!;
    for (let i = 0; i < keys.length; i += 20) {
      s.get(hot); // kept recently used
      await s.prefetch(keys.slice(i, i + 20));
    }
    expect(s.size).toBeLessThanOrEqual(50);
    expect(s.stateOf(hot)).toBe('fresh');
    expect(s.stateOf(keys[1]!)).toBeUndefined();
    expect(installer.configs.size).toBeLessThanOrEqual(50);
    expect(installer.count('remove')).toBeGreaterThanOrEqual(150);
  });

  it('reports all five states', async () => {
    const fresh = keyOf(11);
    const disabled = keyOf(12);
    const pending = keyOf(13);
    upstream.configs.set(fresh, projectState(fresh, 11));
    upstream.configs.set(disabled, null);
    upstream.pendingCounts.set(pending, Number.POSITIVE_INFINITY);
    const s = service();
    await s.prefetch([fresh, disabled]);
    s.get(pending);
    await waitFor(() => upstream.requestsFor(pending) >= 2, 'pending asked twice');
    expect(s.stateOf(fresh)).toBe('fresh');
    expect(s.stateOf(disabled)).toBe('disabled');
    expect(s.stateOf(pending)).toBe('pending');
    upstream.mode = 'http500';
    clock.advance(300_000);
    expect(s.get(fresh).state).toBe('stale');
    const failing = keyOf(14);
    s.get(failing);
    await waitFor(() => s.stateOf(failing) === 'failed', 'failed');
    expect(KEY_STATES).toEqual(['fresh', 'stale', 'pending', 'disabled', 'failed']);
    expect(s.stateOf(keyOf(99))).toBeUndefined();
  });

  it('takes custom expiry, miss expiry and grace', async () => {
    const key = keyOf(20);
    const gone = keyOf(21);
    upstream.configs.set(key, projectState(key, 20));
    const s = service({ cache: { expiry: 1_000, missExpiry: 500, grace: 200 } });
    await s.prefetch([key, gone]);
    clock.advance(500);
    expect([s.stateOf(key), s.stateOf(gone)]).toEqual(['fresh', 'disabled']);
    clock.advance(200);
    expect(s.stateOf(gone)).toBeUndefined(); // expired past its grace, forgotten
    clock.advance(300);
    expect(s.stateOf(key)).toBe('stale');
    clock.advance(200);
    expect(s.get(key).state).toBe('pending'); // past grace: refetched from scratch
    await waitFor(() => s.stateOf(key) === 'fresh', 'fresh again');
  });

  describe('invalidation', () => {
    const a1 = keyOf(31); // project 1
    const a2 = keyOf(32); // project 1
    const b = keyOf(33); // project 2

    async function loaded(): Promise<ProjectConfigService> {
      upstream.configs.set(a1, projectState(a1, 1, { rev: 'a1', sampling: samplingConfig(0.1) }));
      upstream.configs.set(a2, projectState(a2, 1, { rev: 'a2', sampling: samplingConfig(0.1) }));
      upstream.configs.set(b, projectState(b, 2, { rev: 'b', sampling: samplingConfig(0.1) }));
      const s = service();
      await s.prefetch([a1, a2, b]);
      for (const key of [a1, a2, b]) upstream.configs.set(key, projectState(key, key === b ? 2 : 1, { rev: `${key}-2`, sampling: samplingConfig(0.9) }));
      return s;
    }

    it('of one key: the old config stays in force until the new one arrives', async () => {
      const s = await loaded();
      await s.invalidate({ publicKey: a1 });
      expect(s.stateOf(a1)).toMatch(/stale|fresh/);
      await waitFor(() => installer.rateOf(a1) === 0.9, 'a1 refetched');
      expect(s.stateOf(a1)).toBe('fresh');
      expect([installer.rateOf(a2), installer.rateOf(b)]).toEqual([0.1, 0.1]);
      expect(upstream.requestsFor(b)).toBe(1);
    });

    it('of a project, by id', async () => {
      const s = await loaded();
      await s.invalidate({ projectId: 1 });
      await waitFor(() => installer.rateOf(a1) === 0.9 && installer.rateOf(a2) === 0.9, 'project 1 refetched');
      expect(installer.rateOf(b)).toBe(0.1);
    });

    it('of everything', async () => {
      const s = await loaded();
      await s.invalidate('all');
      await waitFor(() => [a1, a2, b].every((k) => installer.rateOf(k) === 0.9), 'all refetched');
      const text = await s.registry.metrics();
      expect(text).toMatch(/dynamic_sampling_configs_invalidations_total\{scope="all"\} 1/);
    });

    it('while the upstream is down: stale configs are served through the grace period', async () => {
      const s = await loaded();
      upstream.mode = 'http500';
      await s.invalidate({ publicKey: b });
      expect(s.get(b)).toMatchObject({ state: 'stale', info: { projectId: 2 } });
      await waitFor(() => s.get(b).error !== undefined, 'refresh failed');
      expect(s.get(b)).toMatchObject({ state: 'stale', info: { projectId: 2 } });
      clock.advance(119_000);
      expect(s.get(b).state).toBe('stale');
      expect(installer.rateOf(b)).toBe(0.1);
      clock.advance(1_000);
      expect(s.get(b).state).toBe('failed');
    });

    it('rejects nothing into the caller, even for odd targets', async () => {
      const s = await loaded();
      await expect(s.invalidate({ projectId: 12345 })).resolves.toBeUndefined();
      await expect(s.invalidate({ publicKey: 'unknown' })).resolves.toBeUndefined();
      await expect(s.invalidate(null as never)).resolves.toBeUndefined();
    });
  });

  it('get never throws and close stops fetching', async () => {
    const s = service();
    await s.close();
    expect(s.get(keyOf(40))).toEqual({ state: 'pending' });
    await new Promise((r) => setTimeout(r, 40));
    expect(upstream.requests).toHaveLength(0);
    await s.close();
  });
});
