// Control plane options from environment variables, for `npm start` (the process wiring lives in src/main.ts).

import { ControlPlaneOptionsError } from './errors';
import type { ControlPlaneOptions } from './control-plane';

/**
 * Reads `DS_CONTROL_DEFINITIONS` (path of the JSON/YAML definitions; unset → null, no control
 * plane), `DS_CONTROL_HOST` (127.0.0.1), `DS_CONTROL_PORT` (0), `DS_CONTROL_REDIS` (redis:// URL),
 * `DS_CONTROL_TOKENS` (comma-separated bearer tokens), `DS_CONTROL_ADMIN_TOKEN`,
 * `DS_CONTROL_SCHEDULE` (`in-process` | `bullmq` | `none`), `DS_CONTROL_TASK_INTERVAL_MS`.
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
  const port = integer('DS_CONTROL_PORT');
  if (port !== undefined && port > 65535) throw new ControlPlaneOptionsError('DS_CONTROL_PORT', 'not a port');
  const tokens = (env.DS_CONTROL_TOKENS ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  return {
    definitions,
    host: env.DS_CONTROL_HOST || '127.0.0.1',
    port: port ?? 0,
    redis: env.DS_CONTROL_REDIS || undefined,
    tokens,
    adminToken: env.DS_CONTROL_ADMIN_TOKEN || undefined,
    schedule,
    taskIntervalMs: integer('DS_CONTROL_TASK_INTERVAL_MS'),
  };
}
