// The Relay protocol against Relay's own code (PyPI sentry-relay, `sentry_relay.auth`): signatures both ways,
// registration of this project's client with an upstream built on Relay's registration functions, and a
// client built on them registering with this project's control plane.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { main } from '../src/cli';
import { CredentialsFileError, loadOrCreateCredentials, readCredentials } from '../src/configs/credentials';
import { RelayNotTrustedError, RelayRegistration } from '../src/configs/registration';
import { ProjectConfigService } from '../src/configs/service';
import { generateRelayKeyPair, parsePublicKey, parseSecretKey, RelaySigner, signRelayPayload, verifyRelaySignature } from '../src/configs/signing';
import { FullConfigRefusedError, UpstreamClient } from '../src/configs/upstream';
import { startControlPlane, type ControlPlane } from '../src/control/control-plane';
import { ChallengeTokens } from '../src/control/relays/challenge-token';
import { parseProjectState } from '../src/configs/project-state';
import { native } from '../src/engine/native';
import { OutcomeReporter } from '../src/server/outcomes/reporter';
import { keyFor, sampleDefinitions, silentLogger } from './helpers/control';
import { relayScript, startRelayOracle, type RelayOracle } from './helpers/relay-oracle';
import { startPythonUpstream, type PythonUpstream } from './helpers/relay-upstream';
import { keyOf, projectState, samplingConfig } from './helpers/upstream';

const run = promisify(execFile);

let oracle: RelayOracle;
beforeAll(async () => {
  oracle = await startRelayOracle();
});
afterAll(async () => {
  await oracle.close();
});

async function call<T>(request: Parameters<RelayOracle['call']>[0][number]): Promise<T> {
  const [answer] = await oracle.call([request]);
  if (!answer.ok) throw new Error(answer.error);
  return answer.result as T;
}

const b64 = (data: Buffer): string => data.toString('base64');

/** The two body forms: compact JSON as Relay's Python `pack`s it, and arbitrary bytes (an envelope, not UTF-8). */
const JSON_BODY = Buffer.from(JSON.stringify({ relay_id: 'a3b6c1d2-0000-4000-8000-000000000001', public_key: 'k', version: '25.1.0' }));
const BINARY_BODY = Buffer.concat([Buffer.from('{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"attachment","length":4}\n'), Buffer.from([0xff, 0x00, 0xfe, 0x0a])]);

describe('signatures, checked with sentry_relay.auth', () => {
  it('signatures made here verify there, over both body forms, and not over other bytes', async () => {
    const { secretKey, publicKey } = generateRelayKeyPair();
    for (const body of [JSON_BODY, BINARY_BODY]) {
      const signature = signRelayPayload(parseSecretKey(secretKey), body);
      expect(await call<boolean>({ op: 'verify', public_key: publicKey, data: b64(body), signature, max_age: 60 })).toBe(true);
      expect(await call<boolean>({ op: 'verify', public_key: publicKey, data: b64(Buffer.concat([body, Buffer.from(' ')])), signature })).toBe(false);
    }
    // Relay checks the signature's age: one from ten minutes ago is refused with max_age 60.
    const old = signRelayPayload(parseSecretKey(secretKey), JSON_BODY, new Date(Date.now() - 600_000));
    expect(await call<boolean>({ op: 'verify', public_key: publicKey, data: b64(JSON_BODY), signature: old, max_age: 60 })).toBe(false);
    expect(await call<boolean>({ op: 'verify', public_key: publicKey, data: b64(JSON_BODY), signature: old })).toBe(true);
  });

  it("signatures made there verify here: `pack` (compact JSON) and `sign` over raw bytes; Relay's keys load here", async () => {
    const pair = await call<{ secret_key: string; public_key: string }>({ op: 'generate_key_pair' });
    // Relay's text formats are this project's: the secret key yields the same public key.
    expect(new RelaySigner('r', pair.secret_key, pair.public_key).publicKey).toBe(pair.public_key);
    const packed = await call<{ body: string; signature: string }>({ op: 'pack', secret_key: pair.secret_key, value: { publicKeys: ['abc'], fullConfig: true } });
    expect(packed.body).toBe('{"publicKeys":["abc"],"fullConfig":true}');
    const header = verifyRelaySignature(parsePublicKey(pair.public_key), Buffer.from(packed.body), packed.signature);
    expect(Math.abs(Date.parse(header!.t!) - Date.now())).toBeLessThan(60_000);
    const raw = await call<string>({ op: 'sign', secret_key: pair.secret_key, data: b64(BINARY_BODY) });
    expect(verifyRelaySignature(parsePublicKey(pair.public_key), BINARY_BODY, raw)).not.toBeNull();
    expect(verifyRelaySignature(parsePublicKey(pair.public_key), BINARY_BODY.subarray(1), raw)).toBeNull();
    expect(verifyRelaySignature(parsePublicKey(generateRelayKeyPair().publicKey), BINARY_BODY, raw)).toBeNull();
  });
});

describe('credentials file', () => {
  it("is created once, readable by its owner only, in Relay's credentials.json shape, and its keys sign for Relay's code", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ds-creds-')), 'nested', 'credentials.json');
    const first = loadOrCreateCredentials(file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(Object.keys(stored).sort()).toEqual(['id', 'public_key', 'secret_key']);
    expect(stored.id).toMatch(/^[0-9a-f-]{36}$/);
    const again = loadOrCreateCredentials(file);
    expect(again).toEqual({ credentials: first.credentials, created: false });
    const signature = await call<string>({ op: 'sign', secret_key: stored.secret_key, data: b64(JSON_BODY) });
    expect(verifyRelaySignature(parsePublicKey(stored.public_key), JSON_BODY, signature)).not.toBeNull();
  });

  it('an invalid file is reported with its path and never overwritten', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ds-creds-'));
    const file = path.join(dir, 'credentials.json');
    const other = generateRelayKeyPair();
    writeFileSync(file, JSON.stringify({ secret_key: generateRelayKeyPair().secretKey, public_key: other.publicKey, id: '8f0a3c1e-9b2d-4c5e-8f7a-6b5c4d3e2f1a' }));
    expect(() => loadOrCreateCredentials(file)).toThrow(CredentialsFileError);
    expect(() => loadOrCreateCredentials(file)).toThrow(`${file}: publicKey does not belong to secretKey`);
    writeFileSync(file, '{"secret_key": 1}');
    expect(() => readCredentials(file)).toThrow(`${file}: \`secret_key\` is missing or not a string`);
    expect(readFileSync(file, 'utf8')).toBe('{"secret_key": 1}');
  });

  it('`dynamic-sampling credentials` creates them, then shows the same id and public key', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ds-creds-')), 'credentials.json');
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => out.push(chunk) > 0) as typeof process.stdout.write;
    try {
      expect(await main(['credentials', '--file', file, '--json'])).toBe(0);
      expect(await main(['credentials', '--file', file])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const shown = JSON.parse(out[0]) as { created: boolean; id: string; public_key: string };
    const stored = readCredentials(file);
    expect(shown).toEqual({ file, created: true, id: stored.id, public_key: stored.publicKey });
    expect(out[1]).toContain(`existing credentials in ${file}`);
    expect(out[1]).toContain(`public key: ${stored.publicKey}`);
    expect(out.join('')).not.toContain(stored.secretKey);
  });
});

describe('this project as a Relay, against an upstream built on create_register_challenge / validate_register_response', () => {
  let upstream: PythonUpstream | null = null;
  const clients: UpstreamClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await upstream?.close();
    upstream = null;
  });
  const client = (relayId: string, secretKey: string): UpstreamClient => {
    const c = new UpstreamClient({ url: upstream!.url, relayId, secretKey }, { logger: silentLogger });
    clients.push(c);
    return c;
  };

  it('registers (challenge, response), then fetches project configs with the registered identity', async () => {
    const credentials = loadOrCreateCredentials(path.join(mkdtempSync(path.join(tmpdir(), 'ds-creds-')), 'c.json')).credentials;
    upstream = await startPythonUpstream({ trusted: [credentials.publicKey], configs: { [keyOf(1)]: projectState(keyOf(1), 11, { sampling: samplingConfig(0.25) }) } });
    const c = client(credentials.id, credentials.secretKey);
    expect(c.registration?.state).toBe('unregistered');
    const answer = await c.fetchConfigs([keyOf(1), keyOf(2)], [null, null]);
    expect(c.registration?.state).toBe('registered');
    expect(answer.configs.get(keyOf(1))).toMatchObject({ disabled: false, projectId: 11, samplingJson: JSON.stringify(samplingConfig(0.25)) });
    expect(answer.configs.get(keyOf(2))).toMatchObject({ disabled: true });
    await c.fetchConfigs([keyOf(1)], [null]);
    const state = await upstream.state();
    expect(state.registrations).toEqual([credentials.id]); // once, not per fetch
    expect(state.config_requests).toEqual([
      { relay_id: credentials.id, keys: [keyOf(1), keyOf(2)] },
      { relay_id: credentials.id, keys: [keyOf(1)] },
    ]);
    expect(state.refused).toEqual([]);
  });

  it('registers again when the upstream no longer knows the relay (401)', async () => {
    const { secretKey, publicKey } = generateRelayKeyPair();
    const relayId = '2fd620b9-8485-4b95-ad2b-9394fedb5530';
    upstream = await startPythonUpstream({ trusted: [publicKey], configs: {} });
    const c = client(relayId, secretKey);
    await c.fetchConfigs([keyOf(1)], [null]);
    await upstream.forget();
    await expect(c.fetchConfigs([keyOf(1)], [null])).rejects.toMatchObject({ status: 401 });
    expect(c.registration?.state).toBe('unregistered');
    await c.fetchConfigs([keyOf(1)], [null]);
    expect(c.registration?.state).toBe('registered');
    const state = await upstream.state();
    expect(state.registrations).toEqual([relayId, relayId]);
    expect(state.refused).toEqual([{ path: '/api/0/relays/projectconfigs/?version=3', status: 401, detail: 'relay not registered' }]);
  });

  it('a relay trusted only as external is told that full configs need an internal relay (and does not loop on registering)', async () => {
    const { secretKey, publicKey } = generateRelayKeyPair();
    upstream = await startPythonUpstream({ trusted: [], external: [publicKey], configs: { [keyOf(1)]: projectState(keyOf(1), 11) } });
    const c = client('9b2f1c4e-1111-4a2b-9c3d-000000000005', secretKey);
    await expect(c.fetchConfigs([keyOf(1)], [null])).rejects.toBeInstanceOf(FullConfigRefusedError);
    await expect(c.fetchConfigs([keyOf(1)], [null])).rejects.toThrow(/external relay only.*SENTRY_RELAY_WHITELIST_PK/);
    expect(c.registration?.state).toBe('registered');
    expect((await upstream.state()).registrations).toHaveLength(1);
  });

  it('a relay the organization does not trust is told so, with its public key, in the error, the state API and /metrics', async () => {
    const { secretKey, publicKey } = generateRelayKeyPair();
    upstream = await startPythonUpstream({ trusted: [generateRelayKeyPair().publicKey], configs: { [keyOf(1)]: projectState(keyOf(1), 11) } });
    const c = client('9b2f1c4e-1111-4a2b-9c3d-000000000003', secretKey);
    const failure = await c.fetchConfigs([keyOf(1)], [null]).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(RelayNotTrustedError);
    expect((failure as Error).message).toBe(
      `this relay's public key is not trusted by the organization: ${publicKey} (upstream answered 403: Relay is not allowed to register); ` +
        'add it to the organization\'s trusted relays (Settings > Relay) or, on self-hosted, to SENTRY_RELAY_WHITELIST_PK',
    );
    expect(c.registration?.state).toBe('not_trusted');
    // No config request reached the upstream.
    expect((await upstream.state()).config_requests).toEqual([]);

    // Attempts are spaced by the backoff (its own clock here): within it the last error answers at once.
    let now = 1_000_000;
    const registration = new RelayRegistration({ baseUrl: upstream.url, signer: new RelaySigner('9b2f1c4e-1111-4a2b-9c3d-000000000006', secretKey), publicKey, logger: silentLogger, now: () => now });
    const first = await registration.ensure().catch((err: unknown) => err);
    expect(first).toBeInstanceOf(RelayNotTrustedError);
    now += 999;
    await expect(registration.ensure()).rejects.toBe(first);
    now += 1;
    await expect(registration.ensure()).rejects.toBeInstanceOf(RelayNotTrustedError);
    // Two challenges from this registration (the first and the one after the backoff), one from the client above.
    expect((await upstream.state()).refused.filter((r) => r.path === '/api/0/relays/register/challenge/')).toHaveLength(3);

    // Through the config service: the key's state says why, the registration state is exposed, and /metrics shows it.
    const registry = new Registry();
    const service = new ProjectConfigService({
      source: { upstream: { url: upstream.url, relayId: '9b2f1c4e-1111-4a2b-9c3d-000000000004', secretKey, batchInterval: 1, queryTimeout: 60_000 } },
      installer: { put: () => {}, remove: () => {} },
      registry,
      logger: silentLogger,
    });
    try {
      await service.prefetch([keyOf(1)], { timeout: 5000 });
      expect(service.get(keyOf(1))).toMatchObject({ state: 'failed', error: expect.stringContaining(`not trusted by the organization: ${publicKey}`) });
      expect(service.registration).toMatchObject({ state: 'not_trusted', publicKey, error: expect.stringContaining(publicKey) });
      const text = await registry.metrics();
      expect(text).toContain('dynamic_sampling_configs_relay_registration{state="not_trusted"} 1');
      expect(text).toContain('dynamic_sampling_configs_relay_registration{state="registered"} 0');
      expect(text).toMatch(/dynamic_sampling_configs_requests_total\{outcome="registration"\} [1-9]/);
    } finally {
      await service.close();
    }
  });
});

describe("this project's control plane as the upstream of a client built on sentry_relay.auth", () => {
  let plane: ControlPlane | null = null;
  afterEach(async () => {
    await plane?.close();
    plane = null;
  });

  async function pythonClient(secret: string, publicKey: string, relayId: string): Promise<Record<string, { status: number; body: any }>> {
    const { python, script } = relayScript('relay_client.py');
    const { stdout } = await run(python, [script, plane!.url, secret, publicKey, relayId, keyFor(101)]);
    return JSON.parse(stdout) as Record<string, { status: number; body: any }>;
  }

  it('a trusted relay registers and fetches configs; an untrusted one gets the 403 Sentry gives', async () => {
    const trusted = await call<{ secret_key: string; public_key: string }>({ op: 'generate_key_pair' });
    const untrusted = await call<{ secret_key: string; public_key: string }>({ op: 'generate_key_pair' });
    plane = await startControlPlane({ definitions: sampleDefinitions(), schedule: 'none', logger: silentLogger, recorderFlushIntervalMs: 0, trustedRelays: [trusted.public_key] });
    const relayId = 'c0ffee00-1234-4abc-8def-000000000001';
    const ok = await pythonClient(trusted.secret_key, trusted.public_key, relayId);
    expect(ok.challenge).toMatchObject({ status: 200, body: { relay_id: relayId, token: expect.any(String) } });
    expect(ok.response).toEqual({ status: 200, body: { relay_id: relayId } });
    expect(ok.projectconfigs.status).toBe(200);
    expect(ok.projectconfigs.body.configs[keyFor(101)]).toMatchObject({ projectId: 101, disabled: false });

    const refused = await pythonClient(untrusted.secret_key, untrusted.public_key, 'c0ffee00-1234-4abc-8def-000000000002');
    expect(refused).toEqual({ challenge: { status: 403, body: { detail: 'Relay is not allowed to register' } } });
    // A registered relay id cannot be taken over with another (even trusted) key.
    const second = generateRelayKeyPair();
    await plane.close();
    plane = await startControlPlane({ definitions: sampleDefinitions(), schedule: 'none', logger: silentLogger, recorderFlushIntervalMs: 0, trustedRelays: [trusted.public_key, second.publicKey], relays: [{ relayId, publicKey: trusted.public_key }] });
    const takeover = await new UpstreamClient({ url: plane.url, relayId, secretKey: second.secretKey }, { logger: silentLogger }).fetchConfigs([keyFor(101)], [null]).catch((e: unknown) => e);
    expect((takeover as Error).message).toBe('registration challenge answered HTTP 400: Attempted to register agent with a different public key');
    const text = await plane.metrics.registry.metrics();
    expect(text).toContain('dynamic_sampling_control_relay_registrations_total{step="challenge",outcome="400"} 1');
  });

  it('challenge tokens are signed with the upstream secret and expire after 60 s', () => {
    const tokens = new ChallengeTokens('upstream-secret');
    const now = Date.parse('2026-01-01T00:00:00Z');
    const token = tokens.issue('relay-1', 'key-1', now);
    expect(tokens.check(token, now + 59_000)).toEqual({ ok: true, state: { relayId: 'relay-1', publicKey: 'key-1', issuedAt: now / 1000 } });
    expect(tokens.check(token, now + 61_000)).toEqual({ ok: false, reason: 'expired' });
    expect(new ChallengeTokens('another-secret').check(token, now)).toEqual({ ok: false, reason: 'bad_signature' });
    const [data, mac] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(data, 'base64url').toString()), public_key: 'key-2' })).toString('base64url');
    expect(tokens.check(`${forged}.${mac}`, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('takes signed outcome batches from a registered relay and counts them; refuses unsigned ones', async () => {
    const { secretKey, publicKey } = generateRelayKeyPair();
    plane = await startControlPlane({ definitions: sampleDefinitions(), schedule: 'none', logger: silentLogger, recorderFlushIntervalMs: 0, trustedRelays: [publicKey], tokens: ['t'] });
    const registry = new Registry();
    const reporter = new OutcomeReporter({ url: plane.url, relayId: 'd00d0000-1234-4abc-8def-000000000001', secretKey, flushInterval: 60_000 }, { registry, logger: silentLogger });
    const at = Date.now();
    reporter.record({ organizationId: 1, projectId: 101, outcome: 'filtered', reason: 'Sampled:1000', category: 2, quantity: 1, at });
    reporter.record({ organizationId: 1, projectId: 101, outcome: 'filtered', reason: 'Sampled:1000', category: 2, quantity: 2, at });
    reporter.record({ organizationId: 1, projectId: 101, outcome: 'invalid', reason: 'missing_dsc', category: 12, quantity: 5, at });
    await reporter.flush();
    expect(reporter.pendingQuantity).toBe(0);
    await reporter.close();
    const text = await plane.metrics.registry.metrics();
    expect(text).toContain('dynamic_sampling_control_relay_outcomes_total{outcome="filtered",reason="Sampled:1000",category="2"} 3');
    expect(text).toContain('dynamic_sampling_control_relay_outcomes_total{outcome="invalid",reason="missing_dsc",category="12"} 5');
    expect(await registry.metrics()).toContain('dynamic_sampling_server_outcomes_reported_total{outcome="filtered"} 3');
    const unsigned = await fetch(`${plane.url}/api/0/relays/outcomes/`, { method: 'POST', body: JSON.stringify({ outcomes: [] }) });
    expect(unsigned.status).toBe(401);

    // The rest of Relay's TrackRawOutcome is checked too: a whole entry is taken, a field of the wrong type refuses the batch.
    const signer = new RelaySigner('d00d0000-1234-4abc-8def-000000000001', secretKey);
    const outcomesUrl = `${plane.url}/api/0/relays/outcomes/`;
    const post = async (entry: Record<string, unknown>) => {
      const body = Buffer.from(JSON.stringify({ outcomes: [{ timestamp: '2026-01-01T00:00:00.000000Z', project_id: 101, outcome: 1, category: 9, quantity: 1, ...entry }] }));
      const answer = await fetch(outcomesUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...signer.headers(body) }, body });
      return [answer.status, ((await answer.json()) as { detail?: string }).detail];
    };
    expect(await post({ org_id: 1, key_id: 1010, reason: 'Sampled:1000', event_id: 'a'.repeat(32), remote_addr: '203.0.113.9', source: 'pop-1' })).toEqual([202, undefined]);
    expect(await post({ key_id: 'k' })).toEqual([400, 'outcomes[0].key_id is not an id']);
    expect(await post({ org_id: -1 })).toEqual([400, 'outcomes[0].org_id is not an id']);
    expect(await post({ event_id: 5 })).toEqual([400, 'outcomes[0].event_id is not a string']);
    expect(await plane.metrics.registry.metrics()).toContain('dynamic_sampling_control_relay_outcomes_total{outcome="filtered",reason="Sampled:1000",category="9"} 1');
  });
});

describe('what an outcome carries', () => {
  it('the key id is the numericId the project state lists for the key (Relay\'s scoping), null when not listed', () => {
    const state = projectState(keyFor(101), 101);
    expect(parseProjectState(keyFor(101), state)).toMatchObject({ disabled: false, keyId: 1010 });
    expect(parseProjectState(keyFor(101).toUpperCase(), state)).toMatchObject({ keyId: 1010 });
    expect(parseProjectState(keyFor(102), state)).toMatchObject({ keyId: null });
    expect(parseProjectState(keyFor(101), { ...state, publicKeys: [{ publicKey: keyFor(101) }] })).toMatchObject({ keyId: null });
  });

  it('counts the spans of a transaction payload as a JSON parser reads its top-level `spans` list', () => {
    // The engine reads the payload in place, at its byte range inside an envelope.
    const spansOf = (payload: string): number => {
      const body = Buffer.from(`{}\n{"type":"transaction"}\n${payload}\n`);
      const start = body.indexOf('\n', 3) + 1;
      return native.embeddedSpanCount(body, start, start + Buffer.byteLength(payload));
    };
    const span = (i: number) => ({ span_id: String(i).padStart(16, '0'), op: 'db', description: `SELECT "]" , '[' FROM t WHERE x = '\\"' -- ${'{'.repeat(i)}`, data: { spans: [1, 2], list: [[], {}] } });
    const payloads: unknown[] = [
      { type: 'transaction' },
      { type: 'transaction', spans: [] },
      { type: 'transaction', spans: null },
      { type: 'spans', contexts: { trace: { spans: [1, 2, 3] } }, spans: [span(1)] },
      { transaction: 'spans', spans: [span(1), span(2), null, span(3)] },
      { 'spans\"': [1, 2], 'x"spans': [1], spans: Array.from({ length: 40 }, (_, i) => span(i)) },
      { breadcrumbs: { values: [{ message: '"spans": [1, 2]' }] }, spans: [[1, [2]], { a: '}' }, 'x,y'] },
    ];
    for (const payload of payloads) {
      const expected = Array.isArray((payload as { spans?: unknown }).spans) ? (payload as { spans: unknown[] }).spans.length : 0;
      expect(spansOf(JSON.stringify(payload)), JSON.stringify(payload).slice(0, 80)).toBe(expected);
      // Pretty-printed (whitespace around every token) too.
      expect(spansOf(JSON.stringify(payload, null, 2))).toBe(expected);
    }
    // What cannot be read that far counts no spans (the transaction itself still counts).
    for (const broken of ['', 'null', '[1]', '{"spans": [1, 2', '{"spans": "x"}', '{"a": "unterminated']) expect(spansOf(broken), broken).toBe(0);
  });
});
