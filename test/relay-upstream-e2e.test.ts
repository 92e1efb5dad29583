// Done-when of running in front of Sentry: `npm start -- --upstream URL` (dist/main.js, a child process) against the
// Python upstream built on Relay's registration code registers, fetches configs, samples, forwards kept envelopes
// like a Relay, and reports outcomes that add up to what it dropped.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterEach, describe, expect, it } from 'vitest';

import { parsePublicKey, verifyRelaySignature } from '../src/configs/signing';
import { parseStartArgs } from '../src/main';
import { relayOptions } from '../src/server/run';
import { spanEnvelope, transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { killIfRunning, run, type Running } from './helpers/process';
import { startPythonUpstream, type PythonUpstream, type RawOutcome } from './helpers/relay-upstream';
import { request, tempDir, waitFor } from './helpers/server';
import { keyOf, projectState } from './helpers/upstream';

const ROOT = path.join(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/main.js');
const CLI = path.join(ROOT, 'dist/cli.js');
const KEY = keyOf(0xabc);
const PROJECT = 42;

/**
 * Keeps every trace but those of `/drop` and `/orgs/*\/settings` (custom rules 1500 and 1501, both
 * reported as `Sampled:1500`); the latter name exists only after the project's `txNameRules`.
 */
const SAMPLING = {
  version: 2,
  rules: [
    { id: 1500, type: 'trace', condition: { op: 'eq', name: 'trace.transaction', value: ['/drop'] }, samplingValue: { type: 'sampleRate', value: 0 } },
    { id: 1501, type: 'trace', condition: { op: 'eq', name: 'trace.transaction', value: ['/orgs/*/settings'] }, samplingValue: { type: 'sampleRate', value: 0 } },
    { id: 1000, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 1 } },
  ],
};

const TX_NAME_RULES = [{ pattern: '/orgs/*/**', expiry: '2099-01-01T00:00:00Z', redaction: { method: 'replace', substitution: '*' } }];

const CLIENT_AUTH = `Sentry sentry_version=7, sentry_key=${KEY}, sentry_client=sentry.javascript.node/10.0.0`;

let upstream: PythonUpstream | null = null;
let server: Running | null = null;
afterEach(async () => {
  await killIfRunning(server);
  server = null;
  await upstream?.close();
  upstream = null;
});

/** Sums quantities per `outcome reason category`. */
function totals(outcomes: RawOutcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const key = `${o.outcome} ${o.reason} ${o.category}`;
    out[key] = (out[key] ?? 0) + (o.quantity ?? 1);
  }
  return out;
}

describe('npm start -- --upstream (in front of a Sentry-like upstream)', () => {
  it('registers, fetches configs, samples, forwards kept envelopes as a Relay and reports outcomes that add up to the drops', async () => {
    if (!existsSync(MAIN) || !existsSync(path.join(ROOT, 'dist/server/outcomes/reporter.js'))) throw new Error('dist/ is not built: run `npm run build:ts` first');
    const cwd = tempDir('ds-relay-e2e-');
    // The credentials command creates the key pair; its public key is what the upstream trusts.
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'credentials', '--file', 'relay/credentials.json', '--json'], { cwd });
    const credentials = JSON.parse(stdout) as { id: string; public_key: string; created: boolean };
    expect(credentials.created).toBe(true);
    const state = projectState(KEY, PROJECT, { sampling: SAMPLING, organizationId: 7 });
    state.config = { ...(state.config as object), txNameRules: TX_NAME_RULES };
    upstream = await startPythonUpstream({ trusted: [credentials.public_key], configs: { [KEY]: state } });

    server = run(MAIN, ['--upstream', upstream.url, '--credentials', 'relay/credentials.json', '--port', '0', '--summary-interval', '0'], cwd);
    await waitFor(() => /metrics: http:\/\/127\.0\.0\.1:\d+\/metrics/.test(server!.output()), 15_000, 'the whole banner');
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())![1];
    expect(server.output()).toContain(`relay id ${credentials.id}`);
    expect(server.output()).toContain(`public key ${credentials.public_key} (credentials from relay/credentials.json)`);

    const send = async (body: Buffer): Promise<void> => {
      const res = await request(`${url}/api/${PROJECT}/envelope/`, {
        body,
        headers: { 'x-sentry-auth': CLIENT_AUTH, 'user-agent': 'sentry.javascript.node/10.0.0', 'x-forwarded-for': '203.0.113.9' },
      });
      expect(res.status, res.body).toBe(200);
    };
    const trace = (i: number, transaction: string) => ({ traceId: `5b8efff798038103d269b633813f${String(i).padStart(4, '0')}`, publicKey: KEY, transaction });
    const kept: Buffer[] = [];
    for (let i = 0; i < 4; i++) {
      const body = transactionEnvelope(trace(i, '/keep'), transactionEvent(trace(i, '/keep'), `a${String(i).padStart(31, '0')}`));
      kept.push(body);
      await send(body);
    }
    // Dropped transactions with 1, 2 and 3 spans in their payload.
    for (let i = 10; i < 13; i++) await send(transactionEnvelope(trace(i, '/drop'), transactionEvent(trace(i, '/drop'), `b${String(i).padStart(31, '0')}`, i - 9)));
    for (let i = 20; i < 22; i++) await send(spanEnvelope(trace(i, '/drop'), 3));
    // Dropped only because the upstream's txNameRules reached the engine: `/orgs/acme/settings` → `/orgs/*/settings`.
    await send(spanEnvelope(trace(25, '/orgs/acme/settings'), 2));
    // A span v2 container without a DSC: refused before sampling, Relay's `invalid` outcome `missing_dsc`.
    const noDsc = spanEnvelope(trace(30, '/keep'), 2).toString().split('\n');
    noDsc[0] = '{}';
    await send(Buffer.from(noDsc.join('\n')));

    const metrics = (await request(`${url}/metrics`, { method: 'GET' })).body;
    expect(metrics).toContain('dynamic_sampling_configs_relay_registration{state="registered"} 1');
    expect(metrics).toContain('dynamic_sampling_configs_relay_registration{state="not_trusted"} 0');

    // Shutting down flushes the forwarding queue and the pending outcomes.
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const upstreamState = await upstream.state();

    expect(upstreamState.registrations).toEqual([credentials.id]); // once, shared by the configs client and the outcome reporter
    expect(upstreamState.refused).toEqual([]);
    expect(upstreamState.config_requests.length).toBeGreaterThanOrEqual(1);
    expect(upstreamState.config_requests.every((r) => r.relay_id === credentials.id && r.keys.includes(KEY))).toBe(true);

    // Kept envelopes, byte for byte, with the client's auth, agent and address, and the relay's signed identity.
    expect(upstreamState.envelopes.map((e) => e.body)).toEqual(kept.map((b) => b.toString()));
    for (const envelope of upstreamState.envelopes) {
      expect(envelope.project_id).toBe(String(PROJECT));
      expect(envelope.headers).toMatchObject({
        'x-sentry-auth': CLIENT_AUTH,
        'user-agent': 'sentry.javascript.node/10.0.0',
        'x-forwarded-for': '203.0.113.9, 127.0.0.1',
        'x-sentry-relay-id': credentials.id,
      });
      expect(verifyRelaySignature(parsePublicKey(credentials.public_key), Buffer.from(envelope.body), envelope.headers['x-sentry-relay-signature'])).not.toBeNull();
    }

    // Outcomes add up to the drops, in the total and the indexed categories (dropped before any metrics were
    // extracted, as Relay counts them): 3 transactions (2 and 9), each counting itself and its 1, 2, 3 spans, and
    // 2×3 + 2 spans (12 and 16) sampled out by rules 1500/1501; 2 spans refused before sampling.
    expect(totals(upstreamState.outcomes)).toEqual({
      '1 Sampled:1500 2': 3,
      '1 Sampled:1500 9': 3,
      '1 Sampled:1500 12': 2 + 3 + 4 + 8,
      '1 Sampled:1500 16': 2 + 3 + 4 + 8,
      '3 missing_dsc 12': 2,
      '3 missing_dsc 16': 2,
    });
    for (const o of upstreamState.outcomes) {
      // The key's numeric id from the project config (`publicKeys[].numericId`), as Relay's scoping carries it.
      expect(o).toMatchObject({ org_id: 7, project_id: PROJECT, key_id: PROJECT * 10 });
      expect(Object.keys(o).sort()).toEqual(['category', 'key_id', 'org_id', 'outcome', 'project_id', 'quantity', 'reason', 'timestamp']);
      expect(o.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000000Z$/);
    }
  });
});

describe('npm start -- --upstream with a key the upstream does not trust', () => {
  it('says so once, with the public key, and keeps accepting envelopes unchecked', async () => {
    if (!existsSync(MAIN)) throw new Error('dist/ is not built: run `npm run build:ts` first');
    const cwd = tempDir('ds-relay-untrusted-');
    upstream = await startPythonUpstream({ trusted: [], configs: { [KEY]: projectState(KEY, PROJECT, { sampling: SAMPLING }) } });
    server = run(MAIN, ['--upstream', upstream.url, '--port', '0', '--summary-interval', '0'], cwd);
    await waitFor(() => /metrics: http:\/\/127\.0\.0\.1:\d+\/metrics/.test(server!.output()), 15_000, 'the whole banner');
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())![1];
    // Created on first start (the default file under the working directory).
    const publicKey = /public key (\S+) \(new credentials written to \.relay\/credentials\.json\)/.exec(server.output())![1];
    const trace = { traceId: '5b8efff798038103d269b633813f0001', publicKey: KEY, transaction: '/drop' };
    const res = await request(`${url}/api/${PROJECT}/envelope/`, { body: spanEnvelope(trace, 1), headers: { 'x-sentry-auth': CLIENT_AUTH } });
    expect(res.status).toBe(200);
    await waitFor(() => server!.output().includes("this relay's public key is not trusted by the organization"), 10_000, 'the not-trusted error');
    expect(server.output()).toContain(`this relay's public key is not trusted by the organization: ${publicKey} (upstream answered 403: Relay is not allowed to register)`);
    const state = await upstream.state();
    expect(state.registrations).toEqual([]);
    expect(state.config_requests).toEqual([]);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output().match(/not trusted by the organization/g)).toHaveLength(1);
    // Without a config the envelope is kept (never dropped for lack of one) and forwarded; no outcome.
    const after = await upstream.state();
    expect(after.envelopes).toHaveLength(1);
    expect(after.outcomes).toEqual([]);
  });
});

describe('--upstream arguments', () => {
  it('configs, forwarding and outcomes all go to the upstream, with the credentials file; the server runs without the control plane', () => {
    const args = parseStartArgs(['--upstream', 'https://sentry.example.com', '--port', '0'], {});
    expect(args.control).toBeNull();
    expect(args.serve).toMatchObject({
      configs: { upstream: { url: 'https://sentry.example.com' } },
      sink: { type: 'upstream', url: 'https://sentry.example.com' },
      upstream: { url: 'https://sentry.example.com', credentialsFile: '.relay/credentials.json', emitOutcomes: true },
    });
    const credentials = { id: '4c8f2a1e-0000-4a2b-9c3d-000000000001', secretKey: 'seed', publicKey: 'pub' };
    expect(relayOptions(args.serve, credentials)).toEqual({
      configs: { upstream: { url: 'https://sentry.example.com', relayId: credentials.id, secretKey: 'seed', publicKey: 'pub' } },
      sink: { type: 'upstream', url: 'https://sentry.example.com', relay: { relayId: credentials.id, secretKey: 'seed' } },
      outcomes: { url: 'https://sentry.example.com', relayId: credentials.id, secretKey: 'seed', emit: true },
    });
  });

  it('reads the outcome switch, the credentials file, the forwarding encoding and another sink; refuses contradictions', () => {
    const off = parseStartArgs(['--upstream=http://s', '--emit-outcomes=false', '--credentials', '/etc/ds/c.json', '--forward-encoding', 'gzip'], {});
    expect(off.serve).toMatchObject({ sink: { type: 'upstream', url: 'http://s', encoding: 'gzip' }, upstream: { credentialsFile: '/etc/ds/c.json', emitOutcomes: false } });
    expect(parseStartArgs([], { DS_UPSTREAM: 'http://s', DS_EMIT_OUTCOMES: '0', DS_CREDENTIALS: 'c.json' }).serve.upstream).toEqual({ url: 'http://s', credentialsFile: 'c.json', emitOutcomes: false });
    expect(parseStartArgs(['--upstream', 'http://s', '--sink', 'stdout'], {}).serve.sink).toEqual({ type: 'stdout' });
    expect(() => parseStartArgs(['--upstream', 'http://s', '--configs-file', 'p.json'], {})).toThrow(/--upstream fetches the project configs itself/);
    expect(() => parseStartArgs(['--upstream', 'http://s', '--forward-encoding', 'zstd'], {})).toThrow(/--forward-encoding must be one of identity, gzip, deflate, br/);
    expect(() => parseStartArgs(['--configs-file', 'p.json', '--forward-encoding', 'gzip'], {})).toThrow(/applies to forwarding only/);
  });
});
