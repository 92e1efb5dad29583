// The config server over real HTTP on 127.0.0.1, fetched with this project's own client: auth, revisions, pending, unknown keys, API.

import { connect } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { generateRelayKeyPair, RelaySigner } from '../src/configs/signing';
import { UpstreamClient } from '../src/configs/upstream';
import { UpstreamHttpError } from '../src/configs/errors';
import { RelayNotTrustedError } from '../src/configs/registration';
import type { ParsedProjectState } from '../src/configs/project-state';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../src/control/control-plane';
import { KEEP, DROP } from '../src/engine/engine';
import { spanEnvelope } from '../src/demo/envelopes';
import { createSampler } from '../src/sampler';
import { captureLogger, rawExchange, requestTarget } from './helpers/server';
import { keyFor, orgDef, projectDef, sampleDefinitions, silentLogger, TestClock } from './helpers/control';

const TOKEN = 'server-token';
let plane: ControlPlane | undefined;
const clients: UpstreamClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await plane?.close();
  plane = undefined;
});

async function start(options: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
  plane = await startControlPlane({ definitions: sampleDefinitions(), tokens: [TOKEN], adminTokens: [TOKEN], schedule: 'none', logger: silentLogger, recorderFlushIntervalMs: 0, ...options });
  return plane;
}

function client(options: Partial<ConstructorParameters<typeof UpstreamClient>[0]> = {}): UpstreamClient {
  const c = new UpstreamClient({ url: plane!.url, token: TOKEN, ...options });
  clients.push(c);
  return c;
}

type Enabled = Extract<ParsedProjectState, { disabled: false }>;

async function post(body: unknown, headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` }, path = '/api/0/relays/projectconfigs/?version=3'): Promise<{ status: number; body: unknown }> {
  const response = await fetch(plane!.url + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function api(method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: any }> {
  const response = await fetch(`${plane!.url}/api/control${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

describe('project configs endpoint', () => {
  it('answers pending while a config is computed, then the full project state', async () => {
    await start();
    const c = client();
    const first = await c.fetchConfigs([keyFor(101)], [null]);
    expect([...first.pending]).toEqual([keyFor(101)]);
    expect(first.configs.size).toBe(0);
    await plane!.configServer.settle();
    const second = await c.fetchConfigs([keyFor(101)], [null]);
    const state = second.configs.get(keyFor(101)) as Enabled;
    expect(state.disabled).toBe(false);
    expect(state.projectId).toBe(101);
    expect(state.organizationId).toBe(1);
    expect(state.rev).toMatch(/^[0-9a-f]{40}$/);
    expect(state.raw).toMatchObject({
      slug: 'api',
      publicKeys: [
        { publicKey: keyFor(101), isEnabled: true },
        { publicKey: keyFor(101, 1), numericId: 7, isEnabled: true },
      ],
    });
    expect(typeof state.raw.lastChange).toBe('string');
    const sampling = JSON.parse(state.samplingJson!);
    expect(sampling.version).toBe(2);
    expect(sampling.rules.at(-1)).toEqual({ id: 1000, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0.1 } });
    expect(sampling.rules.map((r: { id: number }) => r.id)).toEqual([1002, 1005, 1001, 1000]);
  });

  it('computes at once with noCache, answers unchanged for the current revision, null for unknown keys', async () => {
    await start();
    const c = client();
    const first = await c.fetchConfigs([keyFor(102), 'f'.repeat(32)], [null, null], true);
    const rev = (first.configs.get(keyFor(102)) as Enabled).rev!;
    expect((first.configs.get('f'.repeat(32)) as ParsedProjectState).disabled).toBe(true);
    const raw = await post({ publicKeys: [keyFor(102), 'f'.repeat(32)], revisions: [rev, null] });
    expect(raw).toEqual({ status: 200, body: { configs: { ['f'.repeat(32)]: null }, unchanged: [keyFor(102)] } });
    const stale = await c.fetchConfigs([keyFor(102)], ['old-revision']);
    expect((stale.configs.get(keyFor(102)) as Enabled).rev).toBe(rev);
    // Without fullConfig, the state carries no sampling.
    const limited = await post({ publicKeys: [keyFor(102)], fullConfig: false });
    expect((limited.body as any).configs[keyFor(102)].config.sampling).toBeUndefined();
  });

  it('answers null for disabled projects and keys, and leaves sampling out without dynamic sampling', async () => {
    await start({
      definitions: {
        organizations: [
          orgDef(1, [projectDef(101, { disabled: true }), projectDef(102, { publicKeys: [{ publicKey: keyFor(102), isEnabled: false }] })], { targetSampleRate: 0.5 }),
          orgDef(2, [projectDef(201)], { dynamicSampling: false }),
        ],
      },
    });
    const answer = await client().fetchConfigs([keyFor(101), keyFor(102), keyFor(201)], [null, null, null], true);
    expect((answer.configs.get(keyFor(101)) as ParsedProjectState).disabled).toBe(true);
    expect((answer.configs.get(keyFor(102)) as ParsedProjectState).disabled).toBe(true);
    const state = answer.configs.get(keyFor(201)) as Enabled;
    expect(state.disabled).toBe(false);
    expect(state.samplingJson).toBeNull();
  });

  it('accepts signed requests from known relays and refuses bad signatures, unknown relays and missing credentials', async () => {
    const relay = generateRelayKeyPair();
    const other = generateRelayKeyPair();
    await start({ tokens: [], definitions: { ...sampleDefinitions(), relays: [{ relayId: 'relay-1', publicKey: relay.publicKey }] } });
    const signed = client({ token: undefined, relayId: 'relay-1', secretKey: relay.secretKey });
    const answer = await signed.fetchConfigs([keyFor(101)], [null], true);
    expect((answer.configs.get(keyFor(101)) as Enabled).projectId).toBe(101);

    expect(signed.registration?.state).toBe('registered');
    // A key that is not on the allow-list cannot register: the error names the key.
    const forged = client({ token: undefined, relayId: 'relay-1', secretKey: other.secretKey });
    await expect(forged.fetchConfigs([keyFor(101)], [null])).rejects.toBeInstanceOf(RelayNotTrustedError);
    await expect(forged.fetchConfigs([keyFor(101)], [null])).rejects.toThrow(other.publicKey);
    expect(forged.registration?.state).toBe('not_trusted');
    // Without registering, a forged signature and an unknown relay are refused by the config endpoint itself.
    const forgedUnregistered = client({ token: undefined, relayId: 'relay-1', secretKey: other.secretKey, register: false });
    await expect(forgedUnregistered.fetchConfigs([keyFor(101)], [null])).rejects.toMatchObject({ status: 401 });
    const unknown = client({ token: undefined, relayId: 'relay-2', secretKey: other.secretKey, register: false });
    await expect(unknown.fetchConfigs([keyFor(101)], [null])).rejects.toBeInstanceOf(UpstreamHttpError);
    expect((await post({ publicKeys: [] }, {})).status).toBe(401);
    // A signature from ten minutes ago is refused (replay).
    const body = Buffer.from(JSON.stringify({ publicKeys: [keyFor(101)] }));
    const old = new RelaySigner('relay-1', relay.secretKey).headers(body, new Date(Date.now() - 10 * 60_000));
    const response = await fetch(`${plane!.url}/api/0/relays/projectconfigs/?version=3`, { method: 'POST', headers: old, body });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ detail: 'relay signature expired' });
  });

  it('refuses other protocol versions and malformed bodies', async () => {
    await start();
    expect((await post({ publicKeys: [] }, undefined, '/api/0/relays/projectconfigs/?version=2')).status).toBe(400);
    expect((await post({ publicKeys: 'nope' })).status).toBe(400);
    expect((await post({ publicKeys: [1] })).status).toBe(400);
    const response = await fetch(`${plane!.url}/api/0/relays/projectconfigs/?version=3`, { method: 'GET' });
    expect(response.status).toBe(405);
  });

  it('answers 400 to request targets a URL parser reads as an authority, and keeps serving', async () => {
    await start();
    for (const target of ['//', '///', '//:99999/', '//[::1']) {
      const res = await requestTarget(plane!.url, target);
      expect(res.status, target).toBe(400);
      expect(res.json().code).toBe('invalid_target');
    }
    expect((await fetch(`${plane!.url}/healthz`)).status).toBe(200);
  });

  it('answers CONNECT with 405, and a client leaving mid-body is no server error (no 500 logged)', async () => {
    const { logger, records } = captureLogger('info');
    await start({ logger });
    expect(await rawExchange(plane!.url, 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n')).toMatch(/^HTTP\/1\.1 405 /);
    const { hostname, port } = new URL(plane!.url);
    await new Promise<void>((resolve) => {
      const socket = connect({ host: hostname, port: Number(port) }, () => {
        socket.write(`PATCH /api/control/organizations/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 100\r\n\r\n{"targetS`);
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
    });
    // The plane saw the aborted body, answered nothing, and still serves.
    expect((await fetch(`${plane!.url}/healthz`)).status).toBe(200);
    expect(records().filter((r) => r.level >= 50)).toEqual([]);
  });

  it('feeds createSampler over HTTP: configs are fetched and the engine samples with them', async () => {
    await start({ definitions: sampleDefinitions({ targetSampleRate: 0.0001 }) });
    const sampler = createSampler({ upstream: { url: plane!.url, token: TOKEN, batchInterval: 5 }, logger: silentLogger });
    try {
      expect(await sampler.prefetch([keyFor(101), keyFor(104)])).toBeDefined();
      expect(sampler.configs.stateOf(keyFor(101))).toBe('fresh');
      const trace = { traceId: '67e5504410b1426f9247bb680e5fe0c8', publicKey: keyFor(101), transaction: '/checkout', environment: 'production' };
      expect(sampler.sampleEnvelope(spanEnvelope(trace), keyFor(101))).toBe(DROP); // base rate 0.0001
      expect(sampler.sampleEnvelope(spanEnvelope({ ...trace, environment: 'development' }), keyFor(101))).toBe(KEEP); // boosted environment
    } finally {
      await sampler.close();
    }
  });

  it('exposes health and metrics', async () => {
    await start();
    await client().fetchConfigs([keyFor(101)], [null], true);
    expect((await fetch(`${plane!.url}/healthz`)).status).toBe(200);
    // /metrics is read access of the admin API: the admin token is needed once one is configured.
    expect((await fetch(`${plane!.url}/metrics`)).status).toBe(401);
    const metrics = await (await fetch(`${plane!.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toContain('dynamic_sampling_control_project_config_requests_total{outcome="ok"} 1');
    expect(metrics).toContain('dynamic_sampling_control_configs_built_total{reason="noCache"} 1');
  });
});

describe('control API', () => {
  it('answers 400, not 500, to JSON bodies of the wrong shape', async () => {
    await start();
    for (const body of [null, 'x', 1]) {
      const res = await api('PUT', '/projects/101/biases', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('changes options and biases, persists them, and invalidates the affected configs', async () => {
    const clock = new TestClock(Date.now());
    await start({ clock: clock.now, invalidationCountdownMs: 60_000 });
    const c = client();
    const first = (await c.fetchConfigs([keyFor(101)], [null], true)).configs.get(keyFor(101)) as Enabled;

    expect((await api('PATCH', '/organizations/1', { targetSampleRate: 0.25 })).body).toMatchObject({ id: 1, targetSampleRate: 0.25 });
    expect(plane!.invalidator.pendingCount).toBe(1);
    await plane!.invalidator.flush();
    const second = (await c.fetchConfigs([keyFor(101)], [first.rev])).configs.get(keyFor(101)) as Enabled;
    expect(second.rev).not.toBe(first.rev);
    expect(JSON.parse(second.samplingJson!).rules.at(-1).samplingValue.value).toBe(0.25);

    const biases = await api('PUT', '/projects/101/biases', [{ id: 'boostEnvironments', active: false }, { id: 'nope', active: true }]);
    expect(biases.body.find((b: { id: string }) => b.id === 'boostEnvironments')).toEqual({ id: 'boostEnvironments', active: false });
    await plane!.invalidator.flush();
    const third = (await c.fetchConfigs([keyFor(101)], [second.rev])).configs.get(keyFor(101)) as Enabled;
    expect(JSON.parse(third.samplingJson!).rules.map((r: { id: number }) => r.id)).toEqual([1002, 1005, 1000]);
    expect(plane!.invalidator.history.map((h) => h.trigger)).toEqual(['organizationoption.update', 'projectoption.update']);

    expect((await api('PATCH', '/projects/101', { targetSampleRate: 2 })).status).toBe(400);
    expect((await api('PATCH', '/projects/101', { color: 'red' })).status).toBe(400);
    expect((await api('PATCH', '/projects/999', { targetSampleRate: 0.5 })).status).toBe(404);
    expect((await api('GET', '/projects/101', undefined, 'wrong')).status).toBe(401);
    expect((await api('GET', '/projects/101/sampling')).body.baseSampleRate).toEqual({ rate: 0.25, source: 'fallback' });
  });

  it('creates, extends, lists and deletes custom rules, which reach the configs as reservoir rules', async () => {
    // Custom rules are reservoir rules: served only with the reservoir switch on.
    await start({ reservoirRules: true });
    const created = await api('POST', '/organizations/1/custom-rules', { query: 'transaction:/checkout environment:prod*', projects: [101], numSamples: 50 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ruleId: 1, externalRuleId: 3001, projects: [101], numSamples: 50, isActive: true });
    expect(created.body.condition).toEqual({
      op: 'and',
      inner: [
        { op: 'eq', name: 'event.transaction', value: ['/checkout'], options: { ignoreCase: true } },
        { op: 'glob', name: 'event.environment', value: ['prod*'] },
      ],
    });
    const again = await api('POST', '/organizations/1/custom-rules', { query: 'transaction:/checkout environment:prod*', projects: [101], numSamples: 200 });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ ruleId: 1, numSamples: 200 });
    const orgRule = await api('POST', '/organizations/1/custom-rules', { condition: { op: 'eq', name: 'event.release', value: ['2.0'] }, projects: [-1] });
    expect(orgRule.body).toMatchObject({ ruleId: 2, projects: [] });
    expect((await api('GET', '/organizations/1/custom-rules')).body.map((r: { ruleId: number }) => r.ruleId)).toEqual([1, 2]);

    await plane!.invalidator.flush();
    const answer = await client().fetchConfigs([keyFor(101), keyFor(102)], [null, null], true);
    const ids = (key: string) => JSON.parse((answer.configs.get(key) as Enabled).samplingJson!).rules.map((r: { id: number }) => r.id);
    expect(ids(keyFor(101)).slice(0, 2)).toEqual([3001, 3002]);
    expect(ids(keyFor(102))[0]).toBe(3002);

    expect((await api('DELETE', '/organizations/1/custom-rules/1')).body).toMatchObject({ ruleId: 1, isActive: false });
    expect((await api('DELETE', '/organizations/1/custom-rules/1')).status).toBe(404);
    expect((await api('POST', '/organizations/1/custom-rules', { query: 'free text' })).status).toBe(400);
    expect((await api('POST', '/organizations/1/custom-rules', { condition: { op: 'bogus' } })).status).toBe(400);
    expect((await api('POST', '/organizations/1/custom-rules', { query: 'transaction:/x', projects: [999] })).status).toBe(404);
  });

  it('lists the seven default biases of Sentry (the minimum sample rate has its own project option)', async () => {
    await start();
    const biases = await api('GET', '/projects/101/biases');
    expect(biases.body).toEqual([
      { id: 'boostEnvironments', active: true },
      { id: 'boostLatestRelease', active: true },
      { id: 'ignoreHealthChecks', active: true },
      { id: 'boostKeyTransactions', active: true },
      { id: 'boostLowVolumeTransactions', active: true },
      { id: 'boostReplayId', active: true },
      { id: 'recalibrationRule', active: true },
    ]);
  });

  it('runs the tasks on request: the per-org pipeline by default, the classic tasks as a mode, custom-rule tasks only with reservoir rules', async () => {
    await start();
    const tasks = async () => (await api('POST', '/tasks/run')).body.map((r: { task: string; outcome: string }) => [r.task, r.outcome]);
    expect(await tasks()).toEqual([['sentry.tasks.dynamic_sampling.schedule_per_org_calculations', 'ok']]);
    await plane!.close();
    await start({ pipeline: 'classic', reservoirRules: true });
    expect(await tasks()).toEqual([
      ['sentry.tasks.dynamic_sampling.sliding_window_org', 'ok'],
      ['sentry.tasks.dynamic_sampling.boost_low_volume_projects', 'ok'],
      ['sentry.tasks.dynamic_sampling.boost_low_volume_transactions', 'ok'],
      ['sentry.tasks.dynamic_sampling.recalibrate_orgs', 'ok'],
      ['sentry.tasks.dynamic_sampling.custom_rule_notifications', 'ok'],
      ['sentry.tasks.dynamic_sampling.clean_custom_rule_notifications', 'ok'],
    ]);
  });

  it('has no custom rules without reservoir rules (an opt-in extension)', async () => {
    await start();
    const created = await api('POST', '/organizations/1/custom-rules', { query: 'transaction:/checkout', projects: [101] });
    expect(created.status).toBe(404);
    expect(created.body.detail ?? created.body.message ?? JSON.stringify(created.body)).toMatch(/reservoir/);
    expect((await api('GET', '/organizations/1/custom-rules')).status).toBe(404);
    expect((await api('DELETE', '/organizations/1/custom-rules/1')).status).toBe(404);
  });
});

describe('options from the environment', () => {
  it('reads the control plane options for npm start', async () => {
    const { controlPlaneOptionsFromEnv } = await import('../src/control/env');
    expect(controlPlaneOptionsFromEnv({})).toBeNull();
    expect(controlPlaneOptionsFromEnv({ DS_CONTROL_DEFINITIONS: 'defs.yaml', DS_CONTROL_TOKENS: 'a, b', DS_CONTROL_PORT: '9001', DS_CONTROL_SCHEDULE: 'bullmq', DS_CONTROL_REDIS: 'redis://127.0.0.1:6379', DS_CONTROL_TRUSTED_RELAYS: 'k1, k2', DS_CONTROL_REGISTRATION_SECRET: 's' })).toEqual({
      definitions: 'defs.yaml',
      host: '127.0.0.1',
      port: 9001,
      redis: 'redis://127.0.0.1:6379',
      tokens: ['a', 'b'],
      adminTokens: [],
      adminReadTokens: [],
      insecureOpen: false,
      schedule: 'bullmq',
      taskIntervalMs: undefined,
      trustedRelays: ['k1', 'k2'],
      registrationSecret: 's',
    });
    expect(() => controlPlaneOptionsFromEnv({ DS_CONTROL_DEFINITIONS: 'x', DS_CONTROL_PORT: 'eighty' })).toThrow(/DS_CONTROL_PORT/);
    expect(() => controlPlaneOptionsFromEnv({ DS_CONTROL_DEFINITIONS: 'x', DS_CONTROL_SCHEDULE: 'cron' })).toThrow(/DS_CONTROL_SCHEDULE/);
  });
});
