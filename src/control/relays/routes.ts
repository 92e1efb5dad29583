// The upstream side of the Relay protocol beyond config fetching: registration (challenge, response) and outcomes.
// Answers and error codes follow Sentry's endpoints (`api/endpoints/relay/register_*.py`).

import type { IncomingHttpHeaders } from 'node:http';

import type { Logger } from 'pino';

import type { TrustedClients } from '../../access/clients';
import { parsePublicKey, verifyRelaySignature } from '../../configs/signing';
import type { RequestAuthenticator } from '../http/auth';
import type { Reply, RequestContext, Router } from '../http/router';
import type { ControlMetrics } from '../metrics';
import { CHALLENGE_MAX_AGE_S, type ChallengeTokens } from './challenge-token';
import { countOutcomes, OutcomeBatchError } from './outcomes';
import type { RelayRegistry } from './registry';

export interface RelayRouteDeps {
  registry: RelayRegistry;
  tokens: ChallengeTokens;
  auth: RequestAuthenticator;
  trusted: TrustedClients;
  metrics: ControlMetrics;
  logger: Logger;
  /** Wall clock, ms. */
  now: () => number;
}

const detail = (status: number, text: string): Reply => ({ status, body: { detail: text } });

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

function jsonObject(ctx: RequestContext): Record<string, unknown> | null {
  try {
    const value = JSON.parse(ctx.body.toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Whether `signature` is a fresh signature of the body by `publicKey` (age: the challenge's). */
function signedBy(publicKey: string, body: Buffer, signature: string, nowMs: number): 'ok' | 'invalid' | 'expired' {
  let header: { t?: string } | null;
  try {
    header = verifyRelaySignature(parsePublicKey(publicKey), body, signature);
  } catch {
    return 'invalid';
  }
  if (header === null) return 'invalid';
  const t = header.t === undefined ? Number.NaN : Date.parse(header.t);
  if (!Number.isFinite(t) || Math.abs(nowMs - t) > CHALLENGE_MAX_AGE_S * 1000) return 'expired';
  return 'ok';
}

export function addRelayRoutes(router: Router, deps: RelayRouteDeps): void {
  const { registry, tokens, metrics, logger } = deps;
  const refuse = (step: 'challenge' | 'response', reply: Reply, relayId: unknown): Reply => {
    metrics.registrations.inc({ step, outcome: String(reply.status) });
    logger.warn({ relayId, status: reply.status, detail: (reply.body as { detail?: string }).detail }, `relay registration ${step} refused`);
    return reply;
  };

  router.add('POST', /^\/api\/0\/relays\/register\/challenge\/?$/, 'registration', async (ctx) => {
    const body = jsonObject(ctx);
    if (body === null) return refuse('challenge', detail(400, 'No valid json body'), null);
    const { relay_id: relayId, public_key: publicKey } = body;
    if (typeof relayId !== 'string' || relayId === '' || typeof publicKey !== 'string' || publicKey === '' || publicKey.length > 64) {
      return refuse('challenge', { status: 400, body: { relay_id: ['This field is required.'], public_key: ['This field is required.'] } }, relayId);
    }
    if (!registry.isTrusted(publicKey)) return refuse('challenge', detail(403, 'Relay is not allowed to register'), relayId);
    const signature = header(ctx.req.headers, 'x-sentry-relay-signature');
    if (signature === null) return refuse('challenge', detail(400, 'Missing relay signature'), relayId);
    const signed = signedBy(publicKey, ctx.body, signature, deps.now());
    if (signed !== 'ok') return refuse('challenge', detail(400, signed === 'expired' ? 'signature expired' : 'invalid signature'), relayId);
    if (header(ctx.req.headers, 'x-sentry-relay-id') !== relayId) return refuse('challenge', detail(400, 'relay_id in payload did not match header'), relayId);
    const bound = await registry.publicKeyOf(relayId);
    if (bound !== null && bound !== publicKey) return refuse('challenge', detail(400, 'Attempted to register agent with a different public key'), relayId);
    metrics.registrations.inc({ step: 'challenge', outcome: 'ok' });
    return { status: 200, body: { relay_id: relayId, token: tokens.issue(relayId, publicKey, deps.now()) } };
  });

  router.add('POST', /^\/api\/0\/relays\/register\/response\/?$/, 'registration', async (ctx) => {
    const body = jsonObject(ctx);
    if (body === null) return refuse('response', detail(400, 'No valid json body'), null);
    const { relay_id: relayId, token } = body;
    if (typeof relayId !== 'string' || typeof token !== 'string') {
      return refuse('response', { status: 400, body: { relay_id: ['This field is required.'], token: ['This field is required.'] } }, relayId);
    }
    const signature = header(ctx.req.headers, 'x-sentry-relay-signature');
    if (signature === null) return refuse('response', detail(400, 'Missing relay signature'), relayId);
    const checked = tokens.check(token, deps.now());
    if (!checked.ok) return refuse('response', checked.reason === 'expired' ? detail(401, 'Challenge expired') : detail(400, 'invalid token'), relayId);
    const { state } = checked;
    const signed = signedBy(state.publicKey, ctx.body, signature, deps.now());
    if (signed !== 'ok') return refuse('response', signed === 'expired' ? detail(401, 'Challenge expired') : detail(400, 'invalid signature'), relayId);
    if (state.relayId !== relayId || header(ctx.req.headers, 'x-sentry-relay-id') !== relayId) {
      return refuse('response', detail(400, 'relay_id in payload did not match header'), relayId);
    }
    // Trust may have been withdrawn between challenge and response.
    if (!registry.isTrusted(state.publicKey)) return refuse('response', detail(403, 'Relay is not allowed to register'), relayId);
    await registry.register(relayId, state.publicKey);
    metrics.registrations.inc({ step: 'response', outcome: 'ok' });
    logger.info({ relayId }, 'relay registered');
    return { status: 200, body: { relay_id: relayId } };
  });

  router.add('POST', /^\/api\/0\/relays\/outcomes\/?$/, 'relay', async (ctx) => {
    const auth = await deps.auth.authenticate(ctx.req.headers, ctx.body, deps.trusted.has(ctx.req.socket.remoteAddress));
    if (!auth.ok) {
      logger.warn({ reason: auth.reason, relayId: ctx.req.headers['x-sentry-relay-id'] }, 'outcomes refused');
      return detail(auth.status, auth.reason);
    }
    const body = jsonObject(ctx);
    if (body === null) return detail(400, 'No valid json body');
    try {
      countOutcomes(body, metrics);
    } catch (err) {
      if (err instanceof OutcomeBatchError) return detail(400, err.message);
      throw err;
    }
    return { status: 202, body: {} };
  });
}
