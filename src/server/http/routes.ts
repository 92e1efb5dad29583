// The HTTP routes: the envelope endpoint (with CORS), /metrics, /stats and /healthz.

import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Logger } from 'pino';

import { sampledReason } from '../decision';
import { readEnvelopeHeader } from '../envelope/header';
import { itemQuantity } from '../envelope/items';
import { AuthError, BadEnvelopeError, HttpError, SinkUnavailableError } from '../errors';
import type { EnvelopeIngestor, IngestResult } from '../ingest';
import { itemTypeLabel, type OutcomeName, type ServerMetrics } from '../metrics';
import type { EnvelopeObservation, ResolvedLimits } from '../options';
import type { RootCounter } from '../roots';
import type { EnvelopeSink } from '../sinks/types';
import type { ServerStats, StatsSnapshot } from '../stats';
import type { ProjectAuthenticator } from './auth';
import { keyFromRequest } from './auth';
import { decodeBody, readRawBody } from './body';
import { answerPreflight, corsHeaders } from './cors';
import { sendError, sendJson, sendText } from './respond';

export interface RouteDeps {
  limits: ResolvedLimits;
  auth: ProjectAuthenticator;
  ingestor: EnvelopeIngestor;
  sink: EnvelopeSink;
  metrics: ServerMetrics;
  stats: ServerStats;
  logger: Logger;
  metricsText: () => Promise<{ contentType: string; text: string }>;
  statsSnapshot: () => Promise<StatsSnapshot>;
  /** Counts trace roots for the control plane (null: no recorder configured). */
  roots?: RootCounter | null;
  onEnvelope?: (observation: EnvelopeObservation) => void;
}

const ENVELOPE_PATH = /^\/api\/([^/]+)\/envelope\/?$/;

function reasonClass(error: HttpError): string {
  if (error instanceof BadEnvelopeError) return error.code === null ? 'envelope' : `envelope_${error.code}`;
  if (error instanceof AuthError) return 'auth';
  if (error instanceof SinkUnavailableError) return 'sink';
  if (error.status === 413) return 'too_large';
  return 'request';
}

function recordOutcomes(deps: RouteDeps, projectId: number, result: IngestResult, forwardedOk: boolean): void {
  const project = String(projectId);
  const filtered = sampledReason(result.decision);
  result.items.forEach((item, index) => {
    let outcome: OutcomeName = 'accepted';
    let reason = '';
    if (result.plan.removed[index]) {
      outcome = 'filtered_sampling';
      reason = filtered;
    } else if (!forwardedOk) {
      outcome = 'rate_limited';
      reason = 'sink_unavailable';
    }
    deps.metrics.outcomes.inc({ project_id: project, item_type: itemTypeLabel(item.type), outcome, reason }, itemQuantity(item));
  });
}

async function handleEnvelope(deps: RouteDeps, req: IncomingMessage, res: ServerResponse, rawProjectId: string, query: URLSearchParams): Promise<number> {
  const cors = corsHeaders(req);
  let bodyRead = false;
  try {
    const projectId = Number(rawProjectId);
    if (!/^\d{1,18}$/.test(rawProjectId) || !Number.isSafeInteger(projectId)) throw new HttpError(400, `invalid project id: ${rawProjectId.slice(0, 40)}`);
    const receivedAt = Date.now();
    const raw = await readRawBody(req, deps.limits.maxBodySize);
    bodyRead = true;
    const body = await decodeBody(raw, req.headers['content-encoding'], deps.limits.maxBodySize);
    const header = readEnvelopeHeader(body, deps.limits.maxEnvelopeHeaderSize);
    const project = await deps.auth.authenticate(keyFromRequest(req.headers, query) ?? header.dsnKey, projectId);
    const result = await deps.ingestor.ingest({ body, header, publicKey: project.publicKey, organizationId: project.organizationId });
    const forward = result.plan.forward;
    if (forward !== null) {
      try {
        await deps.sink.accept({
          receivedAt,
          projectId,
          publicKey: project.publicKey,
          eventId: result.eventId,
          decision: result.decision,
          modified: result.plan.modified,
          envelope: forward,
        });
      } catch (error) {
        recordOutcomes(deps, projectId, result, false);
        throw error;
      }
    }
    recordOutcomes(deps, projectId, result, true);
    deps.metrics.envelopes.inc({ project_id: String(projectId), kind: result.decision.kind, decision: result.decision.decision });
    deps.stats.recordDecision(projectId, result.decision);
    // Counted once the envelope is accepted (a 503 from the sink is retried by the SDK: not counted twice).
    deps.roots?.record({ body, header, items: result.items, decision: result.decision, projectId, organizationId: project.organizationId });
    deps.onEnvelope?.({ projectId, publicKey: project.publicKey, body, decision: result.decision, forwarded: forward });
    sendJson(res, 200, { id: result.eventId }, cors);
    return 200;
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    deps.metrics.rejected.inc({ status: String(error.status), reason: reasonClass(error) });
    sendError(res, error, cors, !bodyRead);
    return error.status;
  }
}

/** The request listener of the server. */
export function createRequestHandler(deps: RouteDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = process.hrtime.bigint();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      // A target URL cannot resolve (`//`, `//:99999/`, `//[::1`): a bad request, not a crash.
      sendJson(res, 400, { detail: 'invalid request target' }, { connection: 'close' });
      deps.stats.recordResponse(400);
      return;
    }
    const envelope = ENVELOPE_PATH.exec(url.pathname);
    const finish = (status: number): void => {
      deps.stats.recordResponse(status);
      if (envelope) deps.metrics.requestSeconds.observe({ status: String(status) }, Number(process.hrtime.bigint() - started) / 1e9);
    };
    const fail = (error: unknown): void => {
      deps.logger.error({ err: error, url: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { detail: 'internal error' }, { connection: 'close' });
      else res.destroy();
      finish(500);
    };
    try {
      if (envelope) {
        if (req.method === 'OPTIONS') {
          answerPreflight(req, res);
          finish(200);
        } else if (req.method === 'POST') {
          handleEnvelope(deps, req, res, envelope[1], url.searchParams).then(finish, fail);
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
        case '/healthz':
          sendJson(res, 200, { ok: true });
          return;
        case '/metrics':
          deps.metricsText().then(({ contentType, text }) => sendText(res, 200, text, contentType), fail);
          return;
        case '/stats':
          deps.statsSnapshot().then((snapshot) => sendJson(res, 200, snapshot), fail);
          return;
        default:
          sendJson(res, 404, { detail: 'not found' });
      }
    } catch (error) {
      fail(error);
    }
  };
}
