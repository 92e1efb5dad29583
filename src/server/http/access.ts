// Who may read the ingestion server's /metrics and /stats: loopback clients only (default), bearer-token holders, or anyone.

import type { IncomingMessage, ServerResponse } from 'node:http';

import { TrustedClients } from '../../access/clients';
import { bearerToken, matchesAny, tokensFromValueOrFile } from '../../access/tokens';
import { ServerOptionsError } from '../errors';
import { sendJson } from './respond';

/** `loopback`: trusted (loopback) clients only; `token`: `Authorization: Bearer <token>` from any client; `open`: anyone. */
export type MetricsAccess = 'loopback' | 'token' | 'open';

export const METRICS_ACCESS_MODES: readonly MetricsAccess[] = ['loopback', 'token', 'open'];

export interface MetricsAccessOptions {
  /** Default: `token` when `metricsTokens` are given, else `loopback`. */
  metricsAccess?: MetricsAccess;
  metricsTokens?: string[];
  /** Networks (addresses or CIDR) counted as local for `loopback` (default 127.0.0.0/8 and ::1). */
  trustedClients?: string[];
}

/** Answers the refusal and returns false, or returns true when the request may go on. */
export type MetricsGuard = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The mode and tokens, checked: `token` needs tokens, tokens need `token`. */
export function resolveMetricsAccess(options: MetricsAccessOptions): { mode: MetricsAccess; tokens: string[] } {
  const tokens = options.metricsTokens ?? [];
  const mode = options.metricsAccess ?? (tokens.length > 0 ? 'token' : 'loopback');
  if (!METRICS_ACCESS_MODES.includes(mode)) throw new ServerOptionsError(`metricsAccess (--metrics-access) must be loopback, token or open, got "${String(mode)}"`);
  if (mode === 'token' && tokens.length === 0) throw new ServerOptionsError('metricsAccess token needs metricsTokens (--metrics-token or --metrics-token-file)');
  if (mode !== 'token' && tokens.length > 0) throw new ServerOptionsError(`metricsTokens are only used with metricsAccess token, not ${mode}`);
  return { mode, tokens };
}

export function createMetricsGuard(options: MetricsAccessOptions): MetricsGuard {
  const { mode, tokens } = resolveMetricsAccess(options);
  const trusted = new TrustedClients(options.trustedClients, (message) => new ServerOptionsError(`trustedClients: ${message}`));
  return (req, res) => {
    if (mode === 'open') return true;
    if (mode === 'loopback') {
      if (trusted.has(req.socket.remoteAddress)) return true;
      sendJson(res, 403, { detail: 'metrics and stats are served to loopback clients only (--metrics-access token with --metrics-token, or open)' });
      return false;
    }
    if (matchesAny(bearerToken(req.headers), tokens)) return true;
    sendJson(res, 401, { detail: 'missing or invalid metrics token' }, { 'www-authenticate': 'Bearer' });
    return false;
  };
}

/** `--metrics-access`, `--metrics-token`, `--metrics-token-file` (or their environment variables) → options. */
export function metricsAccessFromArgs(get: (name: string) => string | undefined): Pick<MetricsAccessOptions, 'metricsAccess' | 'metricsTokens'> {
  const access = get('metrics-access');
  if (access !== undefined && !METRICS_ACCESS_MODES.includes(access as MetricsAccess)) {
    throw new ServerOptionsError(`--metrics-access must be loopback, token or open, got "${access}"`);
  }
  const tokens = tokensFromValueOrFile(
    { name: '--metrics-token', text: get('metrics-token') },
    { name: '--metrics-token-file', path: get('metrics-token-file') },
    (message) => new ServerOptionsError(message),
  );
  const resolved = resolveMetricsAccess({ metricsAccess: access as MetricsAccess | undefined, metricsTokens: tokens });
  return { metricsAccess: resolved.mode, metricsTokens: resolved.tokens };
}
