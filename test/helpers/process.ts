// A CLI of the package run as a child process (dist/ must be built), with its output collected.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs `node script args` in `cwd` with warnings-only logs and no PORT from the environment. */
export function run(script: string, args: string[], cwd: string): Running {
  if (!existsSync(script)) throw new Error('dist/ is not built: run `npm run build` first');
  const child = spawn(process.execPath, [script, ...args], { cwd, env: { ...process.env, LOG_LEVEL: 'warn', PORT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Kills a child still running (test clean-up). */
export async function killIfRunning(running: Running | null): Promise<void> {
  if (running && running.child.exitCode === null) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
}
