// `npm start` (dist/main.js) as the user ran it: --control-host 0.0.0.0 without credentials is refused at start-up;
// --insecure-open starts with a loud warning; with tokens from files it starts, a PATCH without a token answers 401 and
// changes nothing, and no token appears in the output. Requests go to 127.0.0.1 only.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { LOCAL, requestFrom } from './helpers/clients';
import { tempDir, waitFor } from './helpers/server';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/main.js');
const ADMIN_TOKEN = 'start-admin-token-5b7f0c';
const CONFIG_TOKEN = 'start-config-token-0e4d2a';

function assertBuilt(): void {
  if (!existsSync(MAIN) || !existsSync(path.join(ROOT, 'dist/access/clients.js'))) throw new Error('dist/ is not built: run `npm run build` first');
}

// No DS_* or token variables of the test's environment leak into the child.
const cleanEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'debug', PORT: '' };
  for (const name of Object.keys(env)) if (name.startsWith('DS_')) delete env[name];
  return env;
};

let child: ChildProcess | null = null;
afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  child = null;
});

function start(args: string[], cwd: string): { output: () => string; exited: Promise<number | null> } {
  child = spawn(process.execPath, [MAIN, '--port', '0', '--summary-interval', '0', ...args], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  return { output: () => output, exited };
}

describe('npm start -- --control-host 0.0.0.0', () => {
  it('without credentials: refuses to start, naming the options to set', () => {
    assertBuilt();
    const out = spawnSync(process.execPath, [MAIN, '--port', '0', '--summary-interval', '0', '--control-host', '0.0.0.0'], { cwd: tempDir('ds-access-'), env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/0\.0\.0\.0, beyond loopback, with no admin token/);
    expect(out.stderr).toContain('--control-admin-token');
    expect(out.stderr).toContain('--insecure-open');
    expect(out.stdout).not.toContain('listening');
    // An admin token alone is not enough: the config endpoint needs relays or tokens.
    const adminOnly = spawnSync(process.execPath, [MAIN, '--port', '0', '--control-host', '0.0.0.0', '--control-admin-token', ADMIN_TOKEN], { cwd: tempDir('ds-access-'), env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });
    expect(adminOnly.status).toBe(2);
    expect(adminOnly.stderr).toMatch(/no relays or config tokens.*--control-token/);
    expect(adminOnly.stderr).not.toContain(ADMIN_TOKEN);
  });

  it('with --insecure-open: starts and prints the warning', async () => {
    assertBuilt();
    const run = start(['--control-host', '0.0.0.0', '--insecure-open'], tempDir('ds-access-'));
    await waitFor(() => /metrics: http/.test(run.output()), 15_000, 'the banner');
    expect(run.output()).toContain('!! INSECURE: --insecure-open');
    expect(run.output()).toContain('OPEN TO ANY CLIENT (--insecure-open)');
    child!.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('with tokens from files: PATCH without a token answers 401 and changes nothing; tokens never appear in the output', async () => {
    assertBuilt();
    const cwd = tempDir('ds-access-');
    writeFileSync(path.join(cwd, 'admin-token'), `${ADMIN_TOKEN}\n`);
    writeFileSync(path.join(cwd, 'config-token'), `${CONFIG_TOKEN}\n`);
    const run = start(['--control-host', '0.0.0.0', '--control-admin-token-file', 'admin-token', '--control-token-file', 'config-token'], cwd);
    await waitFor(() => /shop-backend\s+http/.test(run.output()), 15_000, 'the banner');
    expect(run.output()).toContain('access (interface 0.0.0.0): admin API and /metrics: bearer token (1 admin, 0 read-only); project configs: bearer token or relay signature');
    const controlUrl = /control plane listening on (http:\/\/127\.0\.0\.1:\d+):/.exec(run.output())![1];
    const org = `${controlUrl}/api/control/organizations/1`;
    const before = (await requestFrom(LOCAL, org, { token: ADMIN_TOKEN })).json().targetSampleRate;
    expect(before).not.toBe(0.99);

    const anonymous = await requestFrom(LOCAL, org, { method: 'PATCH', body: { targetSampleRate: 0.99 } });
    expect(anonymous.status).toBe(401);
    expect((await requestFrom(LOCAL, org, { token: ADMIN_TOKEN })).json().targetSampleRate).toBe(before);
    expect((await requestFrom(LOCAL, `${controlUrl}/api/control/definitions`)).status).toBe(401);
    expect((await requestFrom(LOCAL, `${controlUrl}/api/0/relays/projectconfigs/?version=3`, { method: 'POST', body: { publicKeys: [] } })).status).toBe(401);

    const patched = await requestFrom(LOCAL, org, { method: 'PATCH', token: ADMIN_TOKEN, body: { targetSampleRate: 0.99 } });
    expect(patched.status).toBe(200);
    expect((await requestFrom(LOCAL, org, { token: ADMIN_TOKEN })).json().targetSampleRate).toBe(0.99);

    child!.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).not.toContain(ADMIN_TOKEN);
    expect(run.output()).not.toContain(CONFIG_TOKEN);
  });
});
