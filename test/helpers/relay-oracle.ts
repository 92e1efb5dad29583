// Relay's own code (PyPI `sentry-relay`, in the project's .venv/relay) as a test oracle: one long-lived
// Python process per test file, requests pipelined as JSON lines.

import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(__dirname, '..', '..');
const PYTHON = join(ROOT, '.venv', 'relay', 'bin', 'python');

export type OracleRequest =
  | { op: 'validate_sampling_configuration'; json: string }
  | { op: 'validate_rule_condition'; json: string }
  | { op: 'normalize_project_config'; config: unknown }
  | { op: 'normalize_event'; event: unknown; options?: Record<string, unknown> }
  | { op: 'generate_key_pair' }
  /** `SecretKey.sign` over raw bytes (base64 `data`). */
  | { op: 'sign'; secret_key: string; data: string }
  /** `SecretKey.pack`: compact JSON of `value` and its signature (the form Sentry's Python signs). */
  | { op: 'pack'; secret_key: string; value: unknown }
  /** `PublicKey.verify` (with `max_age` seconds: also the signature's age). */
  | { op: 'verify'; public_key: string; data: string; signature: string; max_age?: number }
  | { op: 'ping' };

export type OracleAnswer = { ok: true; result: unknown } | { ok: false; error: string };

export interface RelayOracle {
  /** Sends the requests in one batch; answers come back in the same order. */
  call(requests: readonly OracleRequest[]): Promise<OracleAnswer[]>;
  close(): Promise<void>;
}

/** Installs sentry-relay into .venv/relay when it is missing (the same script .ci/run calls). */
/** A script of test/oracle run with the venv's Python (Relay's code importable). */
export function relayScript(name: string): { python: string; script: string } {
  return { python: ensureRelayVenv(), script: join(ROOT, 'test', 'oracle', name) };
}

export function ensureRelayVenv(): string {
  execFileSync(join(ROOT, 'scripts', 'relay-oracle-venv.sh'), { stdio: 'inherit' });
  if (!existsSync(PYTHON)) throw new Error(`sentry-relay virtual environment missing at ${PYTHON}`);
  return PYTHON;
}

export async function startRelayOracle(): Promise<RelayOracle> {
  const python = ensureRelayVenv();
  const child: ChildProcessWithoutNullStreams = spawn(python, [join(ROOT, 'test', 'oracle', 'relay_oracle.py')], { stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const waiting: Array<{ resolve: (a: OracleAnswer) => void; reject: (e: Error) => void }> = [];
  let exited: Error | null = null;
  child.on('exit', (code) => {
    exited = new Error(`relay oracle exited with ${code}: ${stderr.slice(-2000)}`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.resolve(JSON.parse(line) as OracleAnswer));

  const oracle: RelayOracle = {
    call(requests) {
      if (exited) return Promise.reject(exited);
      const answers = requests.map(() => new Promise<OracleAnswer>((resolve, reject) => waiting.push({ resolve, reject })));
      child.stdin.write(requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
      return Promise.all(answers);
    },
    async close() {
      if (exited) return;
      const done = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await done;
    },
  };
  const [pong] = await oracle.call([{ op: 'ping' }]);
  if (!pong.ok || pong.result !== 'pong') throw new Error(`relay oracle did not answer: ${JSON.stringify(pong)}`);
  return oracle;
}
