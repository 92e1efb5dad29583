// Protected mode of the control plane over real HTTP: every route (iterated from the router, so none is forgotten) refuses
// unauthenticated "remote" clients (127.0.0.2, with only 127.0.0.1 trusted), tokens are separate and checked, and the plane
// refuses to listen beyond loopback without credentials.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import { isLoopbackHost, TrustedClients } from '../src/access/clients';
import { matchesAny, parseTokenList, readTokenFile, sameSecret } from '../src/access/tokens';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../src/control/control-plane';
import { controlPlaneOptionsFromEnv } from '../src/control/env';
import { ControlPlaneOptionsError } from '../src/control/errors';
import type { RouteInfo } from '../src/control/http/router';
import { parseStartArgs } from '../src/main';
import { keyFor, sampleDefinitions, silentLogger } from './helpers/control';
import { LOCAL, REMOTE, requestFrom, TRUST_LOCAL_ONLY } from './helpers/clients';

const CONFIG_TOKEN = 'config-token-4f1c9a';
const WRITE_TOKEN = 'admin-write-token-8d2e';
const READ_TOKEN = 'admin-read-token-77b0';

let plane: ControlPlane | undefined;
afterEach(async () => {
  await plane?.close();
  plane = undefined;
});

async function start(options: Partial<ControlPlaneOptions> = {}): Promise<ControlPlane> {
  plane = await startControlPlane({ definitions: sampleDefinitions(), schedule: 'none', logger: silentLogger, recorderFlushIntervalMs: 0, trustedClients: TRUST_LOCAL_ONLY, ...options });
  return plane;
}

/** A concrete path for a route pattern (`(\d+)` → 1); the config endpoint gets its `version=3`. */
function examplePath(route: RouteInfo): string {
  const p = route.pattern.source
    .replace(/\\\//g, '/')
    .replace(/^\^/, '')
    .replace(/\/\?\$$/, '')
    .replace(/\$$/, '')
    .replace(/\(\\d\+\)/g, '1')
    .replace('(?:/([\\w.-]*))?', '/');
  expect(route.pattern.test(p), `${route.pattern} → ${p}`).toBe(true);
  return route.access === 'relay' ? `${p}/?version=3` : p;
}

const hasBody = (method: string) => method !== 'GET' && method !== 'DELETE';
// Registration routes answer anyone (the relay's key is checked against the allow-list): tested in relay-upstream.test.ts.
const guardedRoutes = (p: ControlPlane) => p.routes.filter((r) => r.access !== 'public' && r.access !== 'registration');

/** Every guarded route called by `from` with `token` (or none): the statuses, by "METHOD path". */
async function callEveryRoute(p: ControlPlane, from: string, token?: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const route of guardedRoutes(p)) {
    const url = p.url + examplePath(route);
    const answer = await requestFrom(from, url, { method: route.method, token, body: hasBody(route.method) ? { publicKeys: [keyFor(101)], targetSampleRate: 0.99, query: 'transaction:/x' } : undefined });
    out[`${route.method} ${examplePath(route)}`] = answer.status;
  }
  return out;
}

const every = (statuses: Record<string, number>, status: number) => Object.fromEntries(Object.keys(statuses).map((k) => [k, status]));

/** With admin tokens the dashboard's page (no data) is served without one: checks it, then leaves it out. */
function withoutPages(p: ControlPlane, statuses: Record<string, number>): Record<string, number> {
  const out = { ...statuses };
  for (const route of p.routes.filter((r) => r.access === 'page')) {
    const key = `${route.method} ${examplePath(route)}`;
    expect(out[key], key).toBe(200);
    delete out[key];
  }
  return out;
}

describe('protected mode (no credentials configured)', () => {
  it('every admin route and the config endpoint refuse a remote client with 403 and change nothing; loopback clients are served', async () => {
    const p = await start();
    // Only the liveness probe is public: a new public route has to be added here on purpose.
    expect(p.routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.pattern.source}`)).toEqual(['GET ^\\/healthz\\/?$']);
    expect(p.routes.filter((r) => r.access === 'registration').map((r) => r.pattern.source)).toEqual(['^\\/api\\/0\\/relays\\/register\\/challenge\\/?$', '^\\/api\\/0\\/relays\\/register\\/response\\/?$']);
    expect(guardedRoutes(p).map((r) => r.access)).toContain('write');
    expect(guardedRoutes(p).map((r) => r.access)).toContain('relay');
    const before = JSON.stringify(p.definitions.toDocument());

    const remote = await callEveryRoute(p, REMOTE);
    expect(Object.keys(remote).length).toBe(guardedRoutes(p).length);
    expect(remote).toEqual(every(remote, 403));
    expect(JSON.stringify(p.definitions.toDocument())).toBe(before);
    expect(p.invalidator.history).toEqual([]);
    expect((await requestFrom(REMOTE, `${p.url}/healthz`)).status).toBe(200);

    // A token is no way around it when none is configured.
    expect((await requestFrom(REMOTE, `${p.url}/api/control/definitions`, { token: 'guess' })).status).toBe(403);

    expect((await requestFrom(LOCAL, `${p.url}/api/control/definitions`)).json().organizations[0].id).toBe(1);
    const configs = await requestFrom(LOCAL, `${p.url}/api/0/relays/projectconfigs/?version=3`, { method: 'POST', body: { publicKeys: [keyFor(101)], noCache: true } });
    expect(configs.status).toBe(200);
    expect(Object.keys(configs.json().configs)).toEqual([keyFor(101)]);
    const patched = await requestFrom(LOCAL, `${p.url}/api/control/organizations/1`, { method: 'PATCH', body: { targetSampleRate: 0.5 } });
    expect(patched.status).toBe(200);
  });

  it('by default trusts exactly the loopback networks', () => {
    const loopback = new TrustedClients();
    expect(['127.0.0.1', '127.0.0.2', '127.255.0.9', '::1', '::ffff:127.0.0.1'].map((a) => loopback.has(a))).toEqual([true, true, true, true, true]);
    expect(['10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1', '', undefined].map((a) => loopback.has(a))).toEqual([false, false, false, false, false, false]);
    const narrowed = new TrustedClients(['127.0.0.1', '10.1.0.0/16']);
    expect(['127.0.0.1', '127.0.0.2', '10.1.200.3', '10.2.0.1'].map((a) => narrowed.has(a))).toEqual([true, false, true, false]);
    expect(() => new TrustedClients(['10.0.0.0/33'])).toThrow(/10\.0\.0\.0\/33/);
    expect(() => new TrustedClients(['localhost'])).toThrow(/not an IP address/);
    expect(['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]'].map(isLoopbackHost)).toEqual([true, true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.1', 'example.com', ''].map(isLoopbackHost)).toEqual([false, false, false, false, false]);
  });
});

describe('with credentials', () => {
  const credentials = { tokens: [CONFIG_TOKEN], adminTokens: [WRITE_TOKEN], adminReadTokens: [READ_TOKEN] };

  it('every guarded route needs a token from any client, loopback included; config and admin tokens are not interchangeable', async () => {
    const p = await start(credentials);
    for (const from of [REMOTE, LOCAL]) {
      const none = withoutPages(p, await callEveryRoute(p, from));
      expect(none).toEqual(every(none, 401));
      const wrong = withoutPages(p, await callEveryRoute(p, from, 'not-a-token'));
      expect(wrong).toEqual(every(wrong, 401));
    }
    const withConfigToken = withoutPages(p, await callEveryRoute(p, REMOTE, CONFIG_TOKEN));
    const configPath = 'POST /api/0/relays/projectconfigs/?version=3';
    const outcomesPath = 'POST /api/0/relays/outcomes/?version=3';
    expect(withConfigToken[configPath]).toBe(200);
    // The config token opens the Relay endpoints (configs, outcomes), nothing of the admin API.
    expect(withConfigToken[outcomesPath]).toBe(202);
    expect(Object.entries(withConfigToken).filter(([k]) => k !== configPath && k !== outcomesPath).every(([, s]) => s === 401)).toBe(true);
    const adminOnConfig = await requestFrom(REMOTE, `${p.url}/api/0/relays/projectconfigs/?version=3`, { method: 'POST', token: WRITE_TOKEN, body: { publicKeys: [] } });
    expect(adminOnConfig.status).toBe(401);
    expect((await requestFrom(REMOTE, `${p.url}/metrics`, { token: READ_TOKEN })).status).toBe(200);
    expect((await requestFrom(REMOTE, `${p.url}/metrics`)).status).toBe(401);
  });

  it('PATCH without a token answers 401 and changes nothing; a read token reads but gets 403 on changes; a write token changes', async () => {
    const p = await start(credentials);
    const org = `${p.url}/api/control/organizations/1`;
    const rate = async () => (await requestFrom(REMOTE, org, { token: READ_TOKEN })).json().targetSampleRate;
    expect(await rate()).toBe(0.1);

    const anonymous = await requestFrom(REMOTE, org, { method: 'PATCH', body: { targetSampleRate: 0.99 } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.json()).toEqual({ detail: 'missing or invalid admin token', code: 'unauthorized' });
    expect(await rate()).toBe(0.1);

    const readOnly = await requestFrom(REMOTE, org, { method: 'PATCH', token: READ_TOKEN, body: { targetSampleRate: 0.99 } });
    expect(readOnly.status).toBe(403);
    expect(readOnly.json().code).toBe('read_only');
    expect((await requestFrom(REMOTE, `${p.url}/api/control/tasks/run`, { method: 'POST', token: READ_TOKEN })).status).toBe(403);
    expect(await rate()).toBe(0.1);
    expect(p.invalidator.history).toEqual([]);

    const written = await requestFrom(REMOTE, org, { method: 'PATCH', token: WRITE_TOKEN, body: { targetSampleRate: 0.99 } });
    expect(written.status).toBe(200);
    expect(await rate()).toBe(0.99);
    expect((await requestFrom(REMOTE, `${p.url}/api/control/definitions`, { token: WRITE_TOKEN })).status).toBe(200);
  });

  it('never writes a token to the logs', async () => {
    let logs = '';
    const logger = pino({ level: 'trace' }, new Writable({ write: (chunk, _enc, done) => ((logs += chunk.toString()), done()) }));
    const p = await start({ ...credentials, logger, host: '0.0.0.0' });
    await requestFrom(LOCAL, `${p.url}/api/0/relays/projectconfigs/?version=3`, { method: 'POST', token: `${CONFIG_TOKEN}x`, body: { publicKeys: [] } });
    await requestFrom(LOCAL, `${p.url}/api/0/relays/projectconfigs/?version=3`, { method: 'POST', token: CONFIG_TOKEN, body: { publicKeys: [keyFor(101)] } });
    await requestFrom(LOCAL, `${p.url}/api/control/organizations/1`, { method: 'PATCH', token: READ_TOKEN, body: { targetSampleRate: 0.2 } });
    await requestFrom(LOCAL, `${p.url}/api/control/organizations/1`, { method: 'PATCH', token: WRITE_TOKEN, body: { targetSampleRate: 0.2 } });
    await p.close();
    plane = undefined;
    expect(logs).toContain('project config request refused');
    expect(logs).toContain('control plane started');
    for (const token of [CONFIG_TOKEN, WRITE_TOKEN, READ_TOKEN]) expect(logs).not.toContain(token);
  });
});

describe('start-up refusal beyond loopback', () => {
  it('refuses 0.0.0.0 without an admin token, then without config credentials, naming the option to set', async () => {
    const noAdmin = startControlPlane({ definitions: sampleDefinitions(), schedule: 'none', logger: silentLogger, host: '0.0.0.0' });
    await expect(noAdmin).rejects.toBeInstanceOf(ControlPlaneOptionsError);
    await expect(noAdmin).rejects.toMatchObject({ option: 'adminTokens', message: expect.stringMatching(/--control-admin-token.*--insecure-open/) });
    const noConfig = startControlPlane({ definitions: sampleDefinitions(), schedule: 'none', logger: silentLogger, host: '0.0.0.0', adminTokens: [WRITE_TOKEN] });
    await expect(noConfig).rejects.toMatchObject({ option: 'tokens', message: expect.stringMatching(/--control-token.*relays.*--insecure-open/) });
    const readOnlyAdmin = startControlPlane({ definitions: sampleDefinitions(), schedule: 'none', logger: silentLogger, host: '::', adminReadTokens: [READ_TOKEN] });
    await expect(readOnlyAdmin).rejects.toMatchObject({ option: 'tokens' });
  });

  it('starts beyond loopback with both credentials (relays count), on another loopback address without any, or with insecureOpen', async () => {
    const p = await start({ host: '0.0.0.0', adminTokens: [WRITE_TOKEN], tokens: [CONFIG_TOKEN] });
    expect(p.url).toBe(`http://127.0.0.1:${p.port}`);
    await p.close();
    const relays = [{ relayId: 'relay-1', publicKey: 'k2XAnp1O9k3gJmHkbNV5WWmJtHZvpXmHHTuPC9y-6K8' }];
    await (await start({ host: '0.0.0.0', adminTokens: [WRITE_TOKEN], relays })).close();
    await (await start({ host: '127.0.0.2' })).close();
    plane = undefined;

    let warned = '';
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, done) => ((warned += chunk.toString()), done()) }));
    const open = await start({ host: '0.0.0.0', insecureOpen: true, logger });
    expect(warned).toContain('INSECURE');
    // insecureOpen serves untrusted clients too: what the protected mode prevents.
    expect((await requestFrom(REMOTE, `${open.url}/api/control/organizations/1`, { method: 'PATCH', body: { targetSampleRate: 0.3 } })).status).toBe(200);
    expect((await requestFrom(REMOTE, `${open.url}/api/0/relays/projectconfigs/?version=3`, { method: 'POST', body: { publicKeys: [] } })).status).toBe(200);
  });
});

describe('credentials from options, files and the environment', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ds-tokens-'));
  const file = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('compares tokens in constant time over digests, and reads lists and files', () => {
    expect([sameSecret('a', 'a'), sameSecret('a', 'b'), sameSecret('a', 'aa')]).toEqual([true, false, false]);
    expect([matchesAny('t2', ['t1', 't2']), matchesAny('t3', ['t1', 't2']), matchesAny(null, ['t1'])]).toEqual([true, false, false]);
    expect(parseTokenList(' a, b\n# comment\n\nc\r\n')).toEqual(['a', 'b', 'c']);
    const fail = (message: string) => new Error(message);
    expect(readTokenFile(file('t.txt', '# admin\nsecret-1\nsecret-2\n'), '--x-file', fail)).toEqual(['secret-1', 'secret-2']);
    expect(() => readTokenFile(file('empty.txt', '# nothing\n'), '--x-file', fail)).toThrow(/--x-file: .*empty\.txt holds no token/);
    expect(() => readTokenFile(path.join(dir, 'missing.txt'), '--x-file', fail)).toThrow(/--x-file: cannot read .*missing\.txt: ENOENT/);
  });

  it('reads DS_CONTROL_*_TOKEN and their _FILE variants; never both', () => {
    const env = {
      DS_CONTROL_DEFINITIONS: 'd.yaml',
      DS_CONTROL_TOKENS_FILE: file('config.txt', 'c1\nc2\n'),
      DS_CONTROL_ADMIN_TOKEN: 'w1,w2',
      DS_CONTROL_READ_TOKEN_FILE: file('read.txt', 'r1'),
      DS_CONTROL_INSECURE_OPEN: '1',
    };
    expect(controlPlaneOptionsFromEnv(env)).toMatchObject({ tokens: ['c1', 'c2'], adminTokens: ['w1', 'w2'], adminReadTokens: ['r1'], insecureOpen: true });
    expect(() => controlPlaneOptionsFromEnv({ ...env, DS_CONTROL_ADMIN_TOKEN_FILE: env.DS_CONTROL_TOKENS_FILE })).toThrow(/DS_CONTROL_ADMIN_TOKEN or DS_CONTROL_ADMIN_TOKEN_FILE/);
    expect(() => controlPlaneOptionsFromEnv({ DS_CONTROL_DEFINITIONS: 'd.yaml', DS_CONTROL_TOKENS_FILE: path.join(dir, 'nope') })).toThrow(/DS_CONTROL_TOKENS_FILE: cannot read/);
  });

  it('npm start flags replace the environment\'s tokens', () => {
    const args = parseStartArgs(
      ['--port', '0', '--control-admin-token-file', file('admin.txt', 'w9\n'), '--control-read-token', 'r8', '--control-token=c7', '--insecure-open', '--control-host', '0.0.0.0'],
      { DS_CONTROL_ADMIN_TOKEN: 'from-env', DS_CONTROL_TOKENS: 'env-config' },
    );
    expect(args.control!.options).toMatchObject({ host: '0.0.0.0', tokens: ['c7'], adminTokens: ['w9'], adminReadTokens: ['r8'], insecureOpen: true });
    expect(parseStartArgs([], { DS_CONTROL_ADMIN_TOKEN: 'from-env' }).control!.options).toMatchObject({ adminTokens: ['from-env'], adminReadTokens: [], tokens: [], insecureOpen: false });
    expect(() => parseStartArgs(['--control-token', 'a', '--control-token-file', 'f'], {})).toThrow(/either --control-token or --control-token-file/);
  });
});
