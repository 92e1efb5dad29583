// The Python test upstream (test/oracle/relay_upstream.py): Sentry's registration done by Relay's own code, on loopback.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { relayScript } from './relay-oracle';

export interface RawOutcome {
  timestamp: string;
  org_id?: number;
  project_id: number;
  key_id?: number;
  outcome: number;
  reason?: string;
  category?: number;
  quantity?: number;
}

export interface UpstreamState {
  registrations: string[];
  refused: { path: string; status: number; detail: string }[];
  config_requests: { relay_id: string; keys: string[] }[];
  outcomes: RawOutcome[];
  envelopes: { project_id: string; headers: Record<string, string>; body: string }[];
}

export interface PythonUpstream {
  url: string;
  state(): Promise<UpstreamState>;
  /** Forgets registered relays (as after a restart of the upstream): their next requests get 401. */
  forget(): Promise<void>;
  close(): Promise<void>;
}

/** `trusted`: internal relays (full configs); `external`: may register, refused full configs (as Sentry does). */
export async function startPythonUpstream(config: { trusted: string[]; external?: string[]; configs: Record<string, unknown> }): Promise<PythonUpstream> {
  const { python, script } = relayScript('relay_upstream.py');
  const file = join(mkdtempSync(join(tmpdir(), 'ds-relay-upstream-')), 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const child: ChildProcessWithoutNullStreams = spawn(python, [script, file], { stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`relay_upstream.py exited with ${code}: ${stderr.slice(-2000)}`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    async state() {
      return (await (await fetch(`${url}/_state`)).json()) as UpstreamState;
    },
    async forget() {
      await fetch(`${url}/_forget`, { method: 'POST' });
    },
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}
