// Who may read the ingestion server's /metrics and /stats: loopback clients only by default, a bearer token, or anyone;
// "remote" is 127.0.0.2 with only 127.0.0.1 trusted. Envelopes and /healthz are never affected.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { spanEnvelope } from '../src/demo/envelopes';
import { parseServeArgs } from '../src/server/args';
import { ServerOptionsError } from '../src/server/errors';
import { LOCAL, REMOTE, requestFrom, TRUST_LOCAL_ONLY } from './helpers/clients';
import { sampleRate, startTestServer, type TestServer } from './helpers/server';

const KEY = 'abd0f232775f45feab79864e580d160b';
const PROJECT = { publicKey: KEY, projectId: 5, organizationId: 1, sampling: { version: 2, rules: [sampleRate(1, 'trace', 1)] } };
const METRICS_TOKEN = 'metrics-token-93ac1e';

let running: TestServer | undefined;
afterEach(async () => {
  await running?.server.close();
  running = undefined;
});

async function start(options: Parameters<typeof startTestServer>[1] = {}): Promise<string> {
  running = await startTestServer([PROJECT], { trustedClients: TRUST_LOCAL_ONLY, ...options });
  return running.server.url;
}

const statuses = async (url: string, from: string, token?: string) =>
  Promise.all(['/metrics', '/stats'].map(async (p) => (await requestFrom(from, url + p, { token })).status));

async function envelopeFrom(from: string, url: string): Promise<number> {
  const body = spanEnvelope({ traceId: '67e5504410b1426f9247bb680e5f0001', publicKey: KEY, transaction: '/x' });
  return (await requestFrom(from, `${url}/api/5/envelope/?sentry_key=${KEY}`, { method: 'POST', body, headers: { 'content-type': 'application/x-sentry-envelope' } })).status;
}

describe('/metrics and /stats access', () => {
  it('loopback (default): trusted clients only, 403 for others; envelopes and /healthz from anyone', async () => {
    const url = await start();
    expect(await statuses(url, LOCAL)).toEqual([200, 200]);
    expect(await statuses(url, REMOTE)).toEqual([403, 403]);
    expect(await statuses(url, REMOTE, 'anything')).toEqual([403, 403]);
    const refused = await requestFrom(REMOTE, `${url}/stats`);
    expect(refused.json().detail).toMatch(/loopback clients only.*--metrics-access/);
    expect((await requestFrom(REMOTE, `${url}/healthz`)).status).toBe(200);
    expect(await envelopeFrom(REMOTE, url)).toBe(200);
  });

  it('token: a bearer token from any client, loopback included', async () => {
    const url = await start({ metricsTokens: [METRICS_TOKEN] });
    expect(await statuses(url, LOCAL)).toEqual([401, 401]);
    expect(await statuses(url, REMOTE, 'wrong')).toEqual([401, 401]);
    expect((await requestFrom(REMOTE, `${url}/metrics`)).headers['www-authenticate']).toBe('Bearer');
    expect(await statuses(url, REMOTE, METRICS_TOKEN)).toEqual([200, 200]);
    expect((await requestFrom(REMOTE, `${url}/metrics`, { token: METRICS_TOKEN })).text).toContain('dynamic_sampling_server_');
  });

  it('open: anyone', async () => {
    const url = await start({ metricsAccess: 'open' });
    expect(await statuses(url, REMOTE)).toEqual([200, 200]);
  });

  it('refuses inconsistent options', async () => {
    await expect(start({ metricsAccess: 'token' })).rejects.toThrow(ServerOptionsError);
    await expect(start({ metricsAccess: 'open', metricsTokens: ['t'] })).rejects.toThrow(/only used with metricsAccess token/);
    await expect(start({ metricsAccess: 'everyone' as never })).rejects.toThrow(/loopback, token or open/);
    await expect(start({ trustedClients: ['not-an-address'] })).rejects.toThrow(/trustedClients/);
  });
});

describe('--metrics-access, --metrics-token, --metrics-token-file', () => {
  it('parses flags and environment variables', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ds-metrics-'));
    const file = path.join(dir, 'token');
    writeFileSync(file, `${METRICS_TOKEN}\n`);
    expect(parseServeArgs([], {})).toMatchObject({ metricsAccess: 'loopback', metricsTokens: [] });
    expect(parseServeArgs(['--metrics-token', 'a,b'], {})).toMatchObject({ metricsAccess: 'token', metricsTokens: ['a', 'b'] });
    expect(parseServeArgs([], { DS_METRICS_TOKEN_FILE: file })).toMatchObject({ metricsAccess: 'token', metricsTokens: [METRICS_TOKEN] });
    expect(parseServeArgs(['--metrics-access', 'open'], {})).toMatchObject({ metricsAccess: 'open' });
    expect(() => parseServeArgs(['--metrics-access', 'public'], {})).toThrow(/--metrics-access must be loopback, token or open/);
    expect(() => parseServeArgs(['--metrics-access', 'token'], {})).toThrow(/--metrics-token/);
    expect(() => parseServeArgs(['--metrics-token', 'a', '--metrics-token-file', file], {})).toThrow(/either --metrics-token or --metrics-token-file/);
  });
});
