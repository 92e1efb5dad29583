// Upstream failures: 500s, timeouts, closed connections, garbage JSON, bad entries; grace, failed state, backoff, recovery.

import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProjectConfigService } from '../src/configs';
import { FakeUpstream, ManualClock, ValidatingInstaller, keyOf, projectState, samplingConfig, waitFor, type UpstreamMode } from './helpers/upstream';

const silent = pino({ level: 'silent' });

async function metricValue(s: ProjectConfigService, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = s.registry.getSingleMetric(`dynamic_sampling_configs_${name}`);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

async function waitForMetric(s: ProjectConfigService, name: string, labels: Record<string, string>, atLeast: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await metricValue(s, name, labels)) < atLeast) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${name} >= ${atLeast}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('upstream failures', () => {
  let upstream: FakeUpstream;
  let installer: ValidatingInstaller;
  let clock: ManualClock;
  let s: ProjectConfigService;
  let logged: Array<Record<string, unknown>>;

  beforeEach(async () => {
    upstream = new FakeUpstream();
    await upstream.start();
    installer = new ValidatingInstaller();
    clock = new ManualClock();
    logged = [];
    const capture = { write: (line: string) => void logged.push(JSON.parse(line)) };
    s = new ProjectConfigService({
      source: {
        upstream: { url: upstream.url, batchInterval: 20, requestTimeout: 150, initialBackoff: 40, backoffMultiplier: 1.5, maxBackoff: 150 },
      },
      installer,
      logger: pino({ level: 'warn' }, capture),
      now: clock.now,
      sweepInterval: 20,
    });
  });

  afterEach(async () => {
    await s.close();
    await upstream.stop();
  });

  const failures: Array<[UpstreamMode, string]> = [
    ['http500', 'http_error'],
    ['hang', 'timeout'],
    ['close', 'network'],
    ['garbage', 'invalid_response'],
  ];

  for (const [mode, outcome] of failures) {
    it(`${mode}: serves fresh then stale configs through the grace period, then fails, backs off, and recovers`, async () => {
      const key = keyOf(1);
      upstream.configs.set(key, projectState(key, 1, { sampling: samplingConfig(0.3) }));
      await s.prefetch([key]);
      expect(s.get(key).state).toBe('fresh');

      upstream.mode = mode;
      clock.advance(300_000); // expiry reached: stale, refresh starts and fails
      expect(s.get(key)).toMatchObject({ state: 'stale', info: { projectId: 1 } });
      await waitForMetric(s, 'requests_total', { outcome }, 2);
      expect(await metricValue(s, 'backoff_seconds')).toBeGreaterThan(0);
      expect(await metricValue(s, 'upstream_consecutive_failures')).toBeGreaterThanOrEqual(2);
      // still served within the grace period, and the engine still holds it
      clock.advance(119_000);
      expect(s.get(key)).toMatchObject({ state: 'stale', info: { projectId: 1 } });
      expect(s.get(key).error).toBeDefined();
      expect(installer.rateOf(key)).toBe(0.3);

      clock.advance(1_000); // grace over: failed, removed from the engine (its events are kept)
      expect(s.get(key)).toMatchObject({ state: 'failed' });
      expect(s.get(key).info).toBeUndefined();
      expect(installer.configs.has(key)).toBe(false);
      expect(installer.count('remove', key)).toBe(1);

      upstream.mode = 'ok'; // recovery is automatic: nobody needs to ask for the key again
      await waitFor(() => s.stateOf(key) === 'fresh', 'recovered', 5000);
      expect(installer.rateOf(key)).toBe(0.3);
      expect(s.get(key).error).toBeUndefined();
      expect(await metricValue(s, 'backoff_seconds')).toBe(0);
    });
  }

  it('a key never fetched successfully is failed while the upstream fails, and recovers without being asked again', async () => {
    upstream.mode = 'http500';
    const key = keyOf(2);
    upstream.configs.set(key, projectState(key, 2, { sampling: samplingConfig(0.5) }));
    expect(s.get(key).state).toBe('pending');
    await waitFor(() => s.stateOf(key) === 'failed', 'failed');
    expect(s.get(key).error).toMatch(/HTTP 500/);
    upstream.mode = 'ok';
    await waitFor(() => s.stateOf(key) === 'fresh', 'recovered');
    expect(installer.rateOf(key)).toBe(0.5);
  });

  it('backoff grows ×1.5 up to its bound and is reset by a success', async () => {
    upstream.mode = 'http500';
    s.get(keyOf(3));
    await waitFor(() => upstream.requests.length >= 6, 'six failed rounds', 5000);
    // 40, 60, 90, 135, then capped at 150 ms
    expect(await metricValue(s, 'backoff_seconds')).toBeCloseTo(0.15, 5);
    const times = upstream.requests.length;
    upstream.mode = 'ok';
    await waitFor(() => s.stateOf(keyOf(3)) === 'disabled', 'answered', 5000);
    expect(upstream.requests.length).toBeGreaterThan(times);
    expect(await metricValue(s, 'backoff_seconds')).toBe(0);
  });

  it('one bad project state in a batch does not affect the others', async () => {
    const good = keyOf(10);
    const badShape = keyOf(11);
    const notObject = keyOf(12);
    upstream.configs.set(good, projectState(good, 10, { sampling: samplingConfig(0.1) }));
    upstream.configs.set(badShape, { projectId: 'eleven', config: {} });
    upstream.configs.set(notObject, 'garbage');
    const states = await s.prefetch([good, badShape, notObject]);
    expect(states).toEqual({ [good]: 'fresh', [badShape]: 'failed', [notObject]: 'failed' });
    expect(upstream.requests).toHaveLength(1);
    expect(installer.rateOf(good)).toBe(0.1);
    expect(s.get(badShape).error).toMatch(/ProjectStateError.*projectId/);
    expect(await metricValue(s, 'parse_failures_total', { kind: 'project_state' })).toBe(2);
    // an unparsable state is asked for again only after the miss expiry
    s.get(badShape);
    await new Promise((r) => setTimeout(r, 60));
    expect(upstream.requestsFor(badShape)).toBe(1);
  });

  it('an unparsable project state leaves the previous one in force', async () => {
    const key = keyOf(13);
    upstream.configs.set(key, projectState(key, 13, { sampling: samplingConfig(0.4) }));
    await s.prefetch([key]);
    upstream.configs.set(key, { projectId: 13, config: 'not an object' });
    clock.advance(300_000);
    expect(s.get(key).state).toBe('stale');
    await waitFor(() => s.get(key).error !== undefined, 'parse failure recorded');
    expect(s.get(key)).toMatchObject({ state: 'stale', info: { projectId: 13 } });
    expect(installer.rateOf(key)).toBe(0.4);
  });

  it('a sampling config the engine rejects leaves the previous config in force and is reported with key and rule id', async () => {
    const key = keyOf(14);
    const other = keyOf(15);
    upstream.configs.set(key, projectState(key, 14, { rev: 'a', sampling: samplingConfig(0.2, 1001) }));
    upstream.configs.set(other, projectState(other, 15, { sampling: samplingConfig(0.9) }));
    await s.prefetch([key, other]);
    expect(installer.rateOf(key)).toBe(0.2);

    const broken = { version: 2, rules: [{ id: 4242, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'bogus', value: 1 } }] };
    upstream.configs.set(key, projectState(key, 14, { rev: 'b', sampling: broken }));
    upstream.configs.set(other, projectState(other, 15, { rev: 'c', sampling: samplingConfig(0.8) }));
    clock.advance(300_000);
    s.get(key);
    s.get(other);
    await waitFor(() => s.get(key).rev === 'b' && s.get(other).rev === 'c', 'refreshed');
    expect(installer.rateOf(key)).toBe(0.2); // previous config still in force
    expect(installer.rateOf(other)).toBe(0.8); // the other project is unaffected
    expect(s.get(key)).toMatchObject({ state: 'fresh', rejected: { ruleId: 4242, path: 'rules[0].samplingValue.type' } });
    expect(installer.events.filter((e) => e.op === 'rejected')).toEqual([{ op: 'rejected', publicKey: key, ruleId: 4242 }]);
    expect(await metricValue(s, 'parse_failures_total', { kind: 'sampling' })).toBe(1);
    expect(logged).toContainEqual(
      expect.objectContaining({ publicKey: key, ruleId: 4242, path: 'rules[0].samplingValue.type', msg: expect.stringMatching(/previous config stays in force/) }),
    );

    // the same rejected config is not offered again; a fixed one is taken
    clock.advance(300_000);
    s.get(key);
    await waitFor(() => upstream.requestsFor(key) === 3, 'third fetch');
    await new Promise((r) => setTimeout(r, 30));
    expect(installer.count('rejected', key)).toBe(1);
    upstream.configs.set(key, projectState(key, 14, { rev: 'd', sampling: samplingConfig(0.6, 1001) }));
    clock.advance(300_000);
    s.get(key);
    await waitFor(() => installer.rateOf(key) === 0.6, 'fixed config taken');
    expect(s.get(key).rejected).toBeUndefined();
  });

  it('a installer that throws something else never reaches the caller', async () => {
    const key = keyOf(16);
    upstream.configs.set(key, projectState(key, 16, { sampling: samplingConfig(0.5) }));
    const throwing = new ProjectConfigService({
      source: { upstream: { url: upstream.url, batchInterval: 10 } },
      installer: { put: () => { throw new TypeError('engine exploded'); }, remove: () => { throw new Error('nope'); } },
      logger: silent,
    });
    try {
      expect(await throwing.prefetch([key])).toEqual({ [key]: 'fresh' });
      await expect(throwing.invalidate('all')).resolves.toBeUndefined();
    } finally {
      await throwing.close();
    }
  });

  it('an upstream that is not listening at all counts as network failures', async () => {
    await upstream.stop();
    const key = keyOf(17);
    s.get(key);
    await waitFor(() => s.stateOf(key) === 'failed', 'failed');
    expect(await metricValue(s, 'requests_total', { outcome: 'network' })).toBeGreaterThan(0);
    expect(s.get(key).error).toMatch(/UpstreamNetworkError/);
  });
});
