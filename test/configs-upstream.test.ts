// Project configs from a Relay-protocol upstream: requests, batching, pending, unchanged, revisions, deadlines, auth.

import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProjectConfigService, UpstreamSource, createMetrics, generateRelayKeyPair, type ProjectConfigServiceOptions, type SourceResult } from '../src/configs';
import { FakeUpstream, ManualClock, ValidatingInstaller, keyOf, projectState, samplingConfig, waitFor } from './helpers/upstream';

const silent = pino({ level: 'silent' });

describe('project configs from an upstream', () => {
  let upstream: FakeUpstream;
  let installer: ValidatingInstaller;
  let clock: ManualClock;
  const services: ProjectConfigService[] = [];

  function service(upstreamOptions: Record<string, unknown> = {}, extra: Partial<ProjectConfigServiceOptions> = {}): ProjectConfigService {
    const s = new ProjectConfigService({
      source: { upstream: { url: upstream.url, batchInterval: 20, initialBackoff: 50, maxBackoff: 200, ...upstreamOptions } },
      installer,
      logger: silent,
      now: clock.now,
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

  it('answers pending at once, then fresh with the project info, and hands the sampling config to the installer', async () => {
    const key = keyOf(1);
    upstream.configs.set(key, projectState(key, 42, { organizationId: 7, sampling: samplingConfig(0.25) }));
    const s = service();
    expect(s.get(key)).toEqual({ state: 'pending' });
    await waitFor(() => s.stateOf(key) === 'fresh', 'fresh');
    expect(s.get(key)).toMatchObject({ state: 'fresh', info: { publicKey: key, projectId: 42, organizationId: 7 }, rev: 'rev-42-1' });
    expect(installer.configs.get(key)?.info).toEqual({ publicKey: key, projectId: 42, organizationId: 7 });
    expect(installer.rateOf(key)).toBe(0.25);
    const [request] = upstream.requests;
    expect(request).toMatchObject({ keys: [key], revisions: [null], fullConfig: true, noCache: false });
    expect(request!.headers['content-type']).toBe('application/json');
  });

  it('reads the legacy dynamicSampling field and passes null for projects without a sampling config', async () => {
    const legacy = keyOf(2);
    const none = keyOf(3);
    upstream.configs.set(legacy, projectState(legacy, 2, { dynamicSampling: samplingConfig(0.5) }));
    upstream.configs.set(none, projectState(none, 3));
    const s = service();
    expect(await s.prefetch([legacy, none])).toEqual({ [legacy]: 'fresh', [none]: 'fresh' });
    expect(installer.rateOf(legacy)).toBe(0.5);
    expect(installer.configs.get(none)?.sampling).toBeNull();
  });

  it('treats null and keys missing from the answer as disabled, and disabled states too', async () => {
    const nullKey = keyOf(4);
    const missing = keyOf(5);
    const flagged = keyOf(6);
    upstream.configs.set(nullKey, null);
    upstream.configs.set(flagged, { disabled: true });
    const s = service();
    expect(await s.prefetch([nullKey, missing, flagged])).toEqual({ [nullKey]: 'disabled', [missing]: 'disabled', [flagged]: 'disabled' });
    expect(s.get(missing)).toEqual({ state: 'disabled' });
    expect(installer.events).toEqual([]);
  });

  it('batches keys asked for within the window: at most 500 a request and 5 requests in flight', async () => {
    upstream.delay = 150;
    const s = service({ batchInterval: 100 });
    const keys = Array.from({ length: 2700 }, (_, i) => keyOf(1000 + i));
    for (const key of keys) s.get(key);
    const states = await s.prefetch(keys);
    expect(Object.values(states).every((st) => st === 'disabled')).toBe(true);
    expect(upstream.requests.map((r) => r.keys.length)).toEqual([500, 500, 500, 500, 500, 200]);
    expect(upstream.maxInFlight).toBe(5);
    expect(new Set(upstream.keysAsked).size).toBe(2700);
    const metric = await s.registry.getSingleMetric('dynamic_sampling_configs_keys_per_request')!.get();
    expect((metric.values as Array<{ metricName?: string; value: number }>).find((v) => v.metricName?.endsWith('_sum'))?.value).toBe(2700);
  });

  it('asks again for keys the upstream answers as pending', async () => {
    const key = keyOf(7);
    upstream.configs.set(key, projectState(key, 7, { sampling: samplingConfig(0.1) }));
    upstream.pendingCounts.set(key, 3);
    const s = service();
    const seen: string[] = [];
    s.onChange((k, st) => k === key && seen.push(st));
    s.get(key);
    await waitFor(() => s.stateOf(key) === 'fresh', 'fresh after pending');
    expect(upstream.requestsFor(key)).toBe(4);
    expect(seen).toEqual(['pending', 'fresh']);
  });

  it('gives a key up when it is still pending at its deadline, as failed', async () => {
    const key = keyOf(8);
    upstream.pendingCounts.set(key, Number.POSITIVE_INFINITY);
    const s = service({ queryTimeout: 250 }, { now: Date.now });
    s.get(key);
    await waitFor(() => s.stateOf(key) === 'failed', 'failed at deadline');
    expect(s.get(key).error).toMatch(/QueryDeadlineError/);
    const failed = await s.registry.getSingleMetric('dynamic_sampling_configs_keys_failed_total')!.get();
    expect(failed.values[0]!.value).toBeGreaterThanOrEqual(1);
  });

  it('sends cached revisions when refreshing, keeps the state on `unchanged`, and reloads on a new revision', async () => {
    const key = keyOf(9);
    upstream.configs.set(key, projectState(key, 9, { rev: 'a', sampling: samplingConfig(0.2) }));
    const s = service();
    await s.prefetch([key]);
    expect(installer.count('put', key)).toBe(1);

    clock.advance(301_000); // past the 300 s expiry, within the 120 s grace
    expect(s.get(key).state).toBe('stale');
    await waitFor(() => s.stateOf(key) === 'fresh', 'fresh after unchanged');
    expect(upstream.requests.at(-1)).toMatchObject({ keys: [key], revisions: ['a'] });
    expect(installer.count('put', key)).toBe(1); // nothing changed: the installer is not called again

    upstream.configs.set(key, projectState(key, 9, { rev: 'b', sampling: samplingConfig(0.7) }));
    clock.advance(301_000);
    expect(s.get(key)).toMatchObject({ state: 'stale', rev: 'a' });
    await waitFor(() => s.get(key).rev === 'b', 'new revision');
    expect(installer.rateOf(key)).toBe(0.7);
    expect(installer.count('put', key)).toBe(2);
  });

  it('does not fetch fresh keys again, and fetches each key once however often it is asked for', async () => {
    const key = keyOf(10);
    upstream.configs.set(key, projectState(key, 10));
    const s = service();
    for (let i = 0; i < 100; i++) s.get(key);
    await waitFor(() => s.stateOf(key) === 'fresh', 'fresh');
    for (let i = 0; i < 100; i++) s.get(key);
    clock.advance(299_000);
    expect(s.get(key).state).toBe('fresh');
    await new Promise((r) => setTimeout(r, 80));
    expect(upstream.requests.length).toBe(1);
  });

  it('sends noCache keys in requests of their own, at most once a second per key', async () => {
    const a = keyOf(11);
    const b = keyOf(12);
    upstream.configs.set(a, projectState(a, 11));
    upstream.configs.set(b, projectState(b, 12));
    const s = service();
    await s.prefetch([a]);
    await s.prefetch([a], { noCache: true });
    s.get(b);
    await waitFor(() => s.stateOf(b) === 'fresh', 'b fresh');
    const noCacheRequests = upstream.requests.filter((r) => r.noCache === true);
    expect(noCacheRequests).toEqual([expect.objectContaining({ keys: [a] })]);
    await s.prefetch([a], { noCache: true }); // within a second: sent without noCache
    expect(upstream.requests.filter((r) => r.noCache === true)).toHaveLength(1);
  });

  it('signs requests as Relay does; the upstream verifies them with the relay public key', async () => {
    const credentials = generateRelayKeyPair();
    const relayId = '0b3f6a5e-51e5-4c53-9f1a-9b2a2c8a2f11';
    upstream.relay = { id: relayId, publicKey: credentials.publicKey };
    const key = keyOf(13);
    upstream.configs.set(key, projectState(key, 13));
    const s = service({ relayId, secretKey: credentials.secretKey, publicKey: credentials.publicKey });
    expect(await s.prefetch([key])).toEqual({ [key]: 'fresh' });
    expect(upstream.rejected).toBe(0);
    const signature = String(upstream.requests[0]!.headers['x-sentry-relay-signature']);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{86}\.[A-Za-z0-9_-]+$/);
    const header = JSON.parse(Buffer.from(signature.split('.')[1]!, 'base64url').toString());
    expect(Math.abs(Date.parse(header.t) - Date.now())).toBeLessThan(60_000);
  });

  it('fails requests signed with another key (401) and counts them as http errors', async () => {
    const trusted = generateRelayKeyPair();
    const other = generateRelayKeyPair();
    const relayId = 'f2c1d1e4-0000-4000-8000-000000000001';
    upstream.relay = { id: relayId, publicKey: trusted.publicKey };
    const key = keyOf(14);
    upstream.configs.set(key, projectState(key, 14));
    const s = service({ relayId, secretKey: other.secretKey });
    s.get(key);
    await waitFor(() => s.stateOf(key) === 'failed', 'failed');
    expect(upstream.rejected).toBeGreaterThan(0);
    const requests = await s.registry.getSingleMetric('dynamic_sampling_configs_requests_total')!.get();
    expect(requests.values.find((v) => v.labels.outcome === 'http_error')?.value).toBeGreaterThan(0);
  });

  it('refuses a public key that does not belong to the secret key', () => {
    const a = generateRelayKeyPair();
    const b = generateRelayKeyPair();
    expect(() => service({ relayId: 'x', secretKey: a.secretKey, publicKey: b.publicKey })).toThrow(/does not belong/);
    expect(() => service({ relayId: 'x', secretKey: 'not base64!' })).toThrow(/base64url/);
  });

  it('authenticates with a bearer token', async () => {
    upstream.token = 's3cret';
    const key = keyOf(15);
    upstream.configs.set(key, projectState(key, 15));
    const s = service({ token: 's3cret' });
    expect(await s.prefetch([key])).toEqual({ [key]: 'fresh' });
    expect(upstream.requests[0]!.headers.authorization).toBe('Bearer s3cret');
  });

  it('merges concurrent requests for one key into one channel; differing revisions collapse to none', async () => {
    const source = new UpstreamSource({ url: upstream.url, batchInterval: 20 }, { metrics: createMetrics(), logger: silent, now: Date.now });
    const results: SourceResult[] = [];
    source.setListener((r) => results.push(r));
    try {
      source.request(keyOf(20), 'a');
      source.request(keyOf(20), 'b');
      source.request(keyOf(21), 'c');
      source.request(keyOf(21), 'c');
      await waitFor(() => results.length === 2, 'two answers');
      expect(upstream.requests).toEqual([expect.objectContaining({ keys: [keyOf(20), keyOf(21)], revisions: [null, 'c'] })]);
    } finally {
      await source.close();
    }
  });

  it('uses the registry passed in and records latency and outcomes', async () => {
    const registry = new Registry();
    const key = keyOf(16);
    upstream.configs.set(key, projectState(key, 16));
    const s = service({}, { registry });
    await s.prefetch([key]);
    const text = await registry.metrics();
    expect(text).toMatch(/dynamic_sampling_configs_requests_total\{outcome="ok"\} 1/);
    expect(text).toMatch(/dynamic_sampling_configs_fetch_duration_seconds_count\{outcome="ok"\} 1/);
    expect(text).toMatch(/dynamic_sampling_configs_cache_misses_total\{cache="memory"\} 1/);
    s.get(key);
    expect(await registry.metrics()).toMatch(/dynamic_sampling_configs_cache_hits_total\{cache="memory"\} 1/);
  });
});
