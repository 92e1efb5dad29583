// The dashboard's routes: the page and its scripts (`page` access), and the read-only data it needs beyond the admin API.

import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { ItemType } from '../../engine/types';
import { ApiError } from '../errors';
import { jsonBody, type Router } from '../http/router';
import type { DashboardExplainer, ExplainInput } from './explain';
import { RECENT_ENVELOPES, type DashboardFeed } from './feed';
import { MAX_HISTORY_MINUTES, type DashboardOverviewReader } from './overview';

/**
 * The page's own files, in the package (`files`): the same folder from `src/` (tests) and from
 * `dist/` (the build), both three levels below the package root.
 */
const STATIC_DIR = path.join(__dirname, '..', '..', '..', 'src', 'control', 'dashboard', 'static');

/** The page's files and the chart library (uPlot, a dependency served from node_modules). */
const ASSETS: Record<string, { file: string; type: string }> = {
  '': { file: path.join(STATIC_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  'dashboard.js': { file: path.join(STATIC_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { file: path.join(STATIC_DIR, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export interface DashboardDeps {
  overview: DashboardOverviewReader;
  explainer: DashboardExplainer;
  feed: DashboardFeed;
}

const P = '/api/control/dashboard';

export function addDashboardRoutes(router: Router, deps: DashboardDeps): void {
  const texts = new Map<string, string>();
  // Read once, on first request (a missing file is a broken package: a 500 that says which).
  const asset = (name: string): string => {
    let text = texts.get(name);
    if (text === undefined) texts.set(name, (text = readFileSync(ASSETS[name].file, 'utf8')));
    return text;
  };
  // `/dashboard` and `/dashboard/` both serve the page (it names its files by absolute paths).
  router.add('GET', /^\/dashboard(?:\/([\w.-]*))?$/, 'page', async (ctx) => {
    const name = ctx.params[0] ?? '';
    if (!Object.hasOwn(ASSETS, name)) throw new ApiError(404, 'not_found', `no dashboard file ${name}`);
    return { status: 200, text: asset(name), contentType: ASSETS[name].type };
  });

  router.add('GET', new RegExp(`^${P}/overview/?$`), 'read', async () => ({ status: 200, body: await deps.overview.overview() }));

  router.add('GET', new RegExp(`^${P}/history/?$`), 'read', async (ctx) => {
    const text = ctx.url.searchParams.get('minutes') ?? '60';
    const minutes = Number(text);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_HISTORY_MINUTES) {
      throw new ApiError(400, 'invalid', `minutes must be an integer in 1..${MAX_HISTORY_MINUTES}, got "${text}"`);
    }
    return { status: 200, body: await deps.overview.history(minutes) };
  });

  router.add('GET', new RegExp(`^${P}/recent/?$`), 'read', async () => ({
    status: 200,
    body: deps.feed.recentEnvelopes().map((e) => ({
      seq: e.seq,
      at: new Date(e.at).toISOString(),
      projectId: e.projectId,
      decision: e.decision,
      matchedRuleIds: e.matchedRuleIds,
      ...summary(e.body),
    })),
  }));

  // A POST that changes nothing: read access.
  router.add('POST', new RegExp(`^${P}/explain/?$`), 'read', async (ctx) => {
    const body = jsonBody(ctx);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'invalid', 'body must be an object: {envelope}, {dsc, projectId?, event?} or {recent}');
    const b = body as Record<string, unknown>;
    let input: ExplainInput;
    let recorded: { decision: string; matchedRuleIds: number[]; at: string } | null = null;
    if (b.recent !== undefined) {
      const picked = typeof b.recent === 'number' ? deps.feed.recentEnvelope(b.recent) : undefined;
      if (!picked) throw new ApiError(404, 'not_found', `recent envelope ${String(b.recent)} is no longer kept (the last ${RECENT_ENVELOPES} are)`);
      input = { envelope: picked.body.toString('utf8'), projectId: picked.projectId };
      recorded = { decision: picked.decision, matchedRuleIds: picked.matchedRuleIds, at: new Date(picked.at).toISOString() };
    } else if (typeof b.envelope === 'string') {
      input = { envelope: b.envelope };
    } else if (b.dsc !== undefined) {
      input = { dsc: b.dsc as Record<string, unknown>, event: b.event as Record<string, unknown> | undefined };
    } else {
      throw new ApiError(400, 'invalid', 'give `envelope` (its text), `dsc` (an object) or `recent` (a number from /recent)');
    }
    if (b.projectId !== undefined) {
      if (typeof b.projectId !== 'number' || !Number.isSafeInteger(b.projectId)) throw new ApiError(400, 'invalid', '`projectId` must be an integer');
      input.projectId = b.projectId;
    }
    if (b.event !== undefined && (typeof b.event !== 'object' || b.event === null || Array.isArray(b.event))) throw new ApiError(400, 'invalid', '`event` must be an object');
    // Checked by the engine (a 400 naming the field).
    if (b.itemType !== undefined) input.itemType = b.itemType as ItemType;
    // A picked envelope also says what the server decided then (its config may have changed since).
    return { status: 200, body: { ...(await deps.explainer.explain(input)), recorded } };
  });
}

/** Trace id and transaction of an envelope's DSC, for the list to pick from (null when unreadable). */
function summary(body: Buffer): { traceId: string | null; transaction: string | null } {
  try {
    const end = body.indexOf(0x0a);
    const header = JSON.parse(body.subarray(0, end < 0 ? body.length : end).toString('utf8')) as { trace?: { trace_id?: unknown; transaction?: unknown } };
    const trace = header.trace ?? {};
    return { traceId: typeof trace.trace_id === 'string' ? trace.trace_id : null, transaction: typeof trace.transaction === 'string' ? trace.transaction : null };
  } catch {
    return { traceId: null, transaction: null };
  }
}
