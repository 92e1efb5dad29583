// The HTTP routes: the envelope endpoint (with CORS), /metrics, /stats and /healthz.

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

import type { Logger } from 'pino';

import { guardedListener, parseRequestTarget } from '../../http/guard';
import { sampledReason } from '../decision';
import { AuthError, BadEnvelopeError, HttpError, KeyUncheckedError, SinkUnavailableError } from '../errors';
import type { EnvelopeIngestor, IngestResult } from '../ingest';
import { RepeatLimiter } from '../log-limit';
import { itemTypeLabel, type OutcomeName, type ProjectLabels, type ServerMetrics } from '../metrics';
import type { EnvelopeObservation, ResolvedLimits } from '../options';
import { itemCategories } from '../outcomes/categories';
import type { OutcomeReporter } from '../outcomes/reporter';
import type { RootCounter } from '../roots';
import type { EnvelopeSink, SinkHealth } from '../sinks/types';
import type { ServerStats, StatsSnapshot } from '../stats';
import type { MetricsGuard } from './access';
import type { AuthenticatedProject, ProjectAuthenticator } from './auth';
import { clientFromRequest, keyFromRequest } from './auth';
import { decodeBody, readRawBody } from './body';
import { answerPreflight, corsHeaders } from './cors';
import { sendAccepted, sendError, sendJson, sendText } from './respond';

export interface RouteDeps {
  limits: ResolvedLimits;
  auth: ProjectAuthenticator;
  ingestor: EnvelopeIngestor;
  sink: EnvelopeSink;
  metrics: ServerMetrics;
  /** Bounds the project ids used as labels and `/stats` entries. */
  projectLabels: ProjectLabels;
  stats: ServerStats;
  logger: Logger;
  metricsText: () => Promise<{ contentType: string; text: string }>;
  statsSnapshot: () => Promise<StatsSnapshot>;
  /** Who may read /metrics and /stats (answers the refusal itself). */
  metricsGuard: MetricsGuard;
  /** Called when a request's envelope is handed to the sink (shutdown then never resets it unanswered). */
  onCommit?: (res: ServerResponse) => void;
  /** Whether the server can take envelopes (the sink's health), and whether it is shutting down. */
  health: () => ServerHealth;
  /** Counts trace roots for the control plane (null: no recorder configured). */
  roots?: RootCounter | null;
  onEnvelope?: (observation: EnvelopeObservation) => void;
  /** Reports what was dropped or refused to the upstream (null: outcomes are not sent). */
  outcomes?: OutcomeReporter | null;
}

export interface ServerHealth {
  ok: boolean;
  sink: SinkHealth;
  /** Shutting down: not ready for new traffic (still live). */
  draining: boolean;
}

const ENVELOPE_PATH = /^\/api\/([^/]+)\/envelope\/?$/;

function headerText(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

function reasonClass(error: HttpError): string {
  if (error instanceof BadEnvelopeError) return error.code === null ? 'envelope' : `envelope_${error.code}`;
  if (error instanceof AuthError) return 'auth';
  if (error instanceof KeyUncheckedError) return 'auth_unavailable';
  if (error instanceof SinkUnavailableError) return 'sink';
  if (error.status === 413) return 'too_large';
  return 'request';
}

/** Where an envelope's outcomes belong (for the upstream's outcome reports). */
interface OutcomeScope {
  projectId: number;
  organizationId: number | null;
  keyId: number | null;
  receivedAt: number;
}

function recordOutcomes(deps: RouteDeps, project: string, scope: OutcomeScope, body: Buffer, result: IngestResult, forwardedOk: boolean): void {
  let filtered: string | null = null;
  for (const item of result.items) {
    let outcome: OutcomeName = 'accepted';
    let reason = '';
    if (item.fate === 'missing_dsc' || item.fate === 'invalid_dsc') {
      // Refused before sampling, as Relay does (its `invalid` outcome), whatever the decision.
      outcome = 'invalid';
      reason = item.fate;
    } else if (item.fate === 'sampled') {
      outcome = 'filtered_sampling';
      reason = filtered ??= sampledReason(result.decision);
    } else if (!forwardedOk) {
      outcome = 'rate_limited';
      reason = 'sink_unavailable';
    }
    deps.metrics.outcomes.inc({ project_id: project, item_type: itemTypeLabel(item.type), outcome, reason }, item.quantity);
    if (deps.outcomes && (outcome === 'filtered_sampling' || outcome === 'invalid')) {
      for (const { category, quantity } of itemCategories(item, body)) {
        deps.outcomes.record({ ...scope, at: scope.receivedAt, outcome: outcome === 'invalid' ? 'invalid' : 'filtered', reason, category, quantity });
      }
    }
  }
}

/** A value, or a promise of one: the next step runs at once for a value (most requests wait for nothing). */
function then<T>(value: T | Promise<T>, next: (value: T) => void, fail: (error: unknown) => void): void {
  if (!(value instanceof Promise)) {
    next(value);
    return;
  }
  value.then((v) => {
    try {
      next(v);
    } catch (error) {
      fail(error);
    }
  }, fail);
}

/**
 * The envelope endpoint. It runs synchronously from the body's last chunk to the answer, unless
 * something must be awaited (decompression, a key's first config load, a shared reservoir's
 * budget, the sink's write), and completes through callbacks, not a promise per step: `resolve`
 * with the status answered; an HTTP error is answered here; anything else goes to `reject` (the
 * guard answers 500).
 */
function handleEnvelope(
  deps: RouteDeps,
  req: IncomingMessage,
  res: ServerResponse,
  rawProjectId: string,
  query: URLSearchParams,
  resolve: (status: number) => void,
  reject: (error: unknown) => void,
): void {
  let bodyRead = false;
  const fail = (error: unknown): void => {
    if (!(error instanceof HttpError)) {
      reject(error);
      return;
    }
    try {
      deps.metrics.rejected.inc({ status: String(error.status), reason: reasonClass(error) });
      sendError(res, error, corsHeaders(req), !bodyRead);
      resolve(error.status);
    } catch (failure) {
      reject(failure);
    }
  };
  const projectId = Number(rawProjectId);
  if (!/^\d{1,18}$/.test(rawProjectId) || !Number.isSafeInteger(projectId)) {
    fail(new HttpError(400, `invalid project id: ${rawProjectId.slice(0, 40)}`));
    return;
  }
  const receivedAt = Date.now();

  const answered = (project: AuthenticatedProject, body: Buffer, result: IngestResult): void => {
    const label = deps.projectLabels.label(projectId);
    recordOutcomes(deps, label, { projectId, organizationId: project.organizationId, keyId: project.keyId, receivedAt }, body, result, true);
    deps.metrics.envelopes.inc({ project_id: label, kind: result.decision.kind, decision: result.decision.decision });
    deps.stats.recordDecision(label, result.decision);
    // Counted once the envelope is accepted (a 503 from the sink is retried by the SDK: not counted twice).
    deps.roots?.record({ count: result.count, decision: result.decision, projectId, organizationId: project.organizationId });
    deps.onEnvelope?.({ projectId, publicKey: project.publicKey, body, decision: result.decision, forwarded: result.forward });
    sendAccepted(res, result.eventId, req.headers.origin);
    resolve(200);
  };

  const ingested = (project: AuthenticatedProject, body: Buffer, result: IngestResult): void => {
    const forward = result.forward;
    if (forward === null) {
      answered(project, body, result);
      return;
    }
    deps.onCommit?.(res);
    const kept = {
      receivedAt,
      projectId,
      publicKey: project.publicKey,
      eventId: result.eventId,
      decision: result.decision,
      modified: result.modified,
      envelope: forward,
      client: {
        auth: headerText(req.headers['x-sentry-auth']),
        address: req.socket.remoteAddress ?? null,
        forwardedFor: headerText(req.headers['x-forwarded-for']),
        userAgent: req.headers['user-agent'] ?? null,
        sentryClient: clientFromRequest(req.headers, query),
      },
    };
    deps.sink.accept(kept).then(
      () => {
        try {
          answered(project, body, result);
        } catch (error) {
          fail(error);
        }
      },
      (error: unknown) => {
        try {
          recordOutcomes(deps, deps.projectLabels.label(projectId), { projectId, organizationId: project.organizationId, keyId: project.keyId, receivedAt }, body, result, false);
        } catch (failure) {
          fail(failure);
          return;
        }
        fail(error);
      },
    );
  };

  const decoded = (body: Buffer): void => {
    const requestKey = keyFromRequest(req.headers, query);
    const envelope = deps.ingestor.read(body, requestKey);
    then(
      deps.auth.authenticate(requestKey ?? envelope.dsnKey, projectId),
      (project) => {
        const input = { body, publicKey: project.publicKey, organizationId: project.organizationId };
        then(deps.ingestor.ingest(input, envelope.eventId), (result) => ingested(project, body, result), fail);
      },
      fail,
    );
  };

  readRawBody(req, deps.limits.maxBodySize, (error, raw) => {
    try {
      if (error !== null || raw === null) {
        fail(error);
        return;
      }
      bodyRead = true;
      then(decodeBody(raw, req.headers['content-encoding'], deps.limits.maxBodySize), decoded, fail);
    } catch (failure) {
      fail(failure);
    }
  });
}

/** A request target that cannot be parsed (`//`, `//:99999/`, `*` on a route): 400, never a throw. */
function badTarget(res: ServerResponse, target: string | undefined): void {
  const shown = (target ?? '').slice(0, 80);
  sendError(res, new HttpError(400, `invalid request target: ${JSON.stringify(shown)}`), {}, false);
}

/** Routes one request. May throw or reject: `createRequestHandler` guards it. */
/** `/api/<id>/envelope/` as SDKs send it: its URL's pathname would be itself and its query empty, so no URL is parsed. */
const PLAIN_ENVELOPE_TARGET = /^\/api\/(\d{1,18})\/envelope\/?$/;
/** The query of a target without one (only read). */
const NO_QUERY = new URLSearchParams();

function observeRequest(deps: RouteDeps, status: number, started: number): void {
  deps.stats.recordResponse(status);
  deps.metrics.requestSeconds.observe({ status: String(status) }, (performance.now() - started) / 1000);
}

/** Routes one request. May throw, reject or call `fail`: `createRequestHandler` guards it. */
function route(deps: RouteDeps, req: IncomingMessage, res: ServerResponse, started: number, fail: (error: unknown) => void): Promise<void> | void {
  const plain = req.method === 'POST' && req.url !== undefined ? PLAIN_ENVELOPE_TARGET.exec(req.url) : null;
  if (plain === null) return routeParsed(deps, req, res, started);
  handleEnvelope(deps, req, res, plain[1], NO_QUERY, (status) => observeRequest(deps, status, started), fail);
}

async function routeParsed(deps: RouteDeps, req: IncomingMessage, res: ServerResponse, started: number): Promise<void> {
  const url = parseRequestTarget(req.url);
  if (url === null) {
    deps.metrics.rejected.inc({ status: '400', reason: 'request' });
    badTarget(res, req.url);
    deps.stats.recordResponse(400);
    return;
  }
  const envelope = ENVELOPE_PATH.exec(url.pathname);
  const finish = (status: number): void => observeRequest(deps, status, started);
  if (envelope) {
    if (req.method === 'OPTIONS') {
      answerPreflight(req, res);
      finish(200);
    } else if (req.method === 'POST') {
      finish(await new Promise<number>((resolve, reject) => handleEnvelope(deps, req, res, envelope[1], url.searchParams, resolve, reject)));
    } else {
      res.setHeader('allow', 'POST, OPTIONS');
      sendJson(res, 405, { detail: 'method not allowed' }, corsHeaders(req));
      finish(405);
    }
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendJson(res, 404, { detail: 'not found' });
    return;
  }
  switch (url.pathname) {
    case '/healthz': {
      // Liveness: failing while the sink is broken (every envelope would be answered 503).
      const { ok, sink } = deps.health();
      sendJson(res, ok ? 200 : 503, { ok, sink });
      return;
    }
    case '/readyz': {
      // Readiness: also not ready while the sink refuses envelopes for now, or once shutting down.
      const health = deps.health();
      const ready = health.ok && health.sink.ready && !health.draining;
      sendJson(res, ready ? 200 : 503, { ok: ready, sink: health.sink, draining: health.draining });
      return;
    }
    case '/metrics': {
      if (!deps.metricsGuard(req, res)) return;
      const { contentType, text } = await deps.metricsText();
      sendText(res, 200, text, contentType);
      return;
    }
    case '/stats':
      if (!deps.metricsGuard(req, res)) return;
      sendJson(res, 200, await deps.statsSnapshot());
      return;
    default:
      sendJson(res, 404, { detail: 'not found' });
  }
}

/** The request listener of the server: one guarded entry, so no request can throw out of it. */
export function createRequestHandler(deps: RouteDeps): RequestListener {
  const log = new RepeatLimiter(deps.logger);
  return guardedListener(
    (req, res, fail) => route(deps, req, res, performance.now(), fail),
    (error, req) => {
      log.log('error', 'request-failed', { err: error, url: req.url }, 'request failed');
      deps.stats.recordResponse(500);
    },
  );
}
