// The Relay endpoint: POST /api/0/relays/projectconfigs/?version=3, authenticated, answered by the config server.

import type { Logger } from 'pino';
import { ApiError } from '../errors';
import type { ControlMetrics } from '../metrics';
import type { ProjectConfigServer, ProjectConfigsRequest } from '../serving/config-service';
import type { TrustedClients } from '../../access/clients';
import type { RequestAuthenticator } from './auth';
import { jsonBody, type Router } from './router';

/** At most this many keys per request (Relay sends up to 500). */
export const MAX_KEYS_PER_REQUEST = 1000;

function parseRequest(value: unknown): ProjectConfigsRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, 'bad_request', 'body must be a JSON object');
  const { publicKeys, revisions, fullConfig, noCache } = value as Record<string, unknown>;
  if (!Array.isArray(publicKeys) || publicKeys.some((k) => typeof k !== 'string')) throw new ApiError(400, 'bad_request', '`publicKeys` must be a list of strings');
  if (publicKeys.length > MAX_KEYS_PER_REQUEST) throw new ApiError(400, 'bad_request', `at most ${MAX_KEYS_PER_REQUEST} keys per request`);
  if (revisions !== undefined && revisions !== null && (!Array.isArray(revisions) || revisions.some((r) => r !== null && typeof r !== 'string'))) {
    throw new ApiError(400, 'bad_request', '`revisions` must be a list of strings or nulls');
  }
  return {
    publicKeys: publicKeys as string[],
    revisions: (revisions as (string | null)[] | undefined) ?? undefined,
    fullConfig: fullConfig === undefined ? undefined : fullConfig === true,
    noCache: noCache === true,
  };
}

export function addProjectConfigsRoute(
  router: Router,
  deps: { server: ProjectConfigServer; auth: RequestAuthenticator; trusted: TrustedClients; metrics: ControlMetrics; logger: Logger },
): void {
  // 'relay': the signature covers the body, so this route authenticates itself once the body is read.
  router.add('POST', /^\/api\/0\/relays\/projectconfigs\/?$/, 'relay', async (ctx) => {
    const version = ctx.url.searchParams.get('version');
    if (version !== '3') {
      deps.metrics.requests.inc({ outcome: 'bad_request' });
      throw new ApiError(400, 'unsupported_version', `unsupported protocol version ${version ?? '(none)'}: only version=3`);
    }
    const auth = await deps.auth.authenticate(ctx.req.headers, ctx.body, deps.trusted.has(ctx.req.socket.remoteAddress));
    if (!auth.ok) {
      deps.metrics.requests.inc({ outcome: 'unauthorized' });
      deps.logger.warn({ reason: auth.reason, relayId: ctx.req.headers['x-sentry-relay-id'] }, 'project config request refused');
      return { status: auth.status, body: { detail: auth.reason, code: auth.status === 401 ? 'unauthorized' : 'forbidden' } };
    }
    let request: ProjectConfigsRequest;
    try {
      request = parseRequest(jsonBody(ctx));
    } catch (err) {
      deps.metrics.requests.inc({ outcome: 'bad_request' });
      throw err;
    }
    try {
      const body = await deps.server.handle(request);
      deps.metrics.requests.inc({ outcome: 'ok' });
      return { status: 200, body };
    } catch (err) {
      deps.metrics.requests.inc({ outcome: 'error' });
      throw err;
    }
  });
}
