// Control plane options from environment variables, for `npm start` (the process wiring lives in src/main.ts).

import { tokensFromValueOrFile } from '../access/tokens';
import { ControlPlaneOptionsError } from './errors';
import type { ControlPlaneOptions } from './control-plane';

/** The tokens of `NAME` (comma-separated) or of the file `NAME_FILE` (one per line); never both. */
function tokensFromEnv(env: NodeJS.ProcessEnv, name: string): string[] {
  const fail = (message: string) => new ControlPlaneOptionsError(name, message);
  return tokensFromValueOrFile({ name, text: env[name] || undefined }, { name: `${name}_FILE`, path: env[`${name}_FILE`] || undefined }, fail) ?? [];
}

const TRUTHY = /^(1|true|yes|on)$/i;

/**
 * Reads `DS_CONTROL_DEFINITIONS` (path of the JSON/YAML definitions; unset → null, no control
 * plane), `DS_CONTROL_HOST` (127.0.0.1), `DS_CONTROL_PORT` (0), `DS_CONTROL_REDIS` (redis:// URL),
 * the bearer tokens `DS_CONTROL_TOKENS` (config fetching), `DS_CONTROL_ADMIN_TOKEN` (admin, read and
 * write), `DS_CONTROL_READ_TOKEN` (admin, read only) — comma-separated, or one per line in the file
 * named by the same variable with `_FILE` —, `DS_CONTROL_INSECURE_OPEN` (1: no protected mode),
 * `DS_CONTROL_SCHEDULE` (`in-process` | `bullmq` | `none`), `DS_CONTROL_TASK_INTERVAL_MS`,
 * `DS_CONTROL_TRUSTED_RELAYS` (relay public keys allowed to register, comma-separated) and
 * `DS_CONTROL_REGISTRATION_SECRET` (signs registration challenges; shared by processes sharing Redis).
 * `DS_CONTROL_RATE_BUDGET` (`predictive` | `feedback`).
 */
export function controlPlaneOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ControlPlaneOptions | null {
  const definitions = env.DS_CONTROL_DEFINITIONS;
  if (!definitions) return null;
  const integer = (name: string): number | undefined => {
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) throw new ControlPlaneOptionsError(name, `expected a non-negative integer, got ${JSON.stringify(value)}`);
    return n;
  };
  const schedule = env.DS_CONTROL_SCHEDULE || undefined;
  if (schedule !== undefined && schedule !== 'in-process' && schedule !== 'bullmq' && schedule !== 'none') {
    throw new ControlPlaneOptionsError('DS_CONTROL_SCHEDULE', 'expected in-process, bullmq or none');
  }
  const pipeline = env.DS_CONTROL_PIPELINE || undefined;
  if (pipeline !== undefined && pipeline !== 'per-org' && pipeline !== 'classic') {
    throw new ControlPlaneOptionsError('DS_CONTROL_PIPELINE', 'expected per-org or classic');
  }
  const rateBudget = env.DS_CONTROL_RATE_BUDGET || undefined;
  if (rateBudget !== undefined && rateBudget !== 'predictive' && rateBudget !== 'feedback') {
    throw new ControlPlaneOptionsError('DS_CONTROL_RATE_BUDGET', 'expected predictive or feedback');
  }
  const port = integer('DS_CONTROL_PORT');
  if (port !== undefined && port > 65535) throw new ControlPlaneOptionsError('DS_CONTROL_PORT', 'not a port');
  return {
    definitions,
    host: env.DS_CONTROL_HOST || '127.0.0.1',
    port: port ?? 0,
    redis: env.DS_CONTROL_REDIS || undefined,
    tokens: tokensFromEnv(env, 'DS_CONTROL_TOKENS'),
    adminTokens: tokensFromEnv(env, 'DS_CONTROL_ADMIN_TOKEN'),
    adminReadTokens: tokensFromEnv(env, 'DS_CONTROL_READ_TOKEN'),
    insecureOpen: TRUTHY.test(env.DS_CONTROL_INSECURE_OPEN ?? ''),
    schedule,
    pipeline,
    taskIntervalMs: integer('DS_CONTROL_TASK_INTERVAL_MS'),
    trustedRelays: (env.DS_CONTROL_TRUSTED_RELAYS ?? '').split(',').map((k) => k.trim()).filter((k) => k !== ''),
    registrationSecret: env.DS_CONTROL_REGISTRATION_SECRET || undefined,
    ...(rateBudget ? { options: { rateBudget } } : {}),
  };
}
