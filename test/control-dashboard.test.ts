// The dashboard's routes over real HTTP against a control plane with demo traffic: the overview matches /stats and the
// stored state, the history has the minutes sent, explain replays the server's own decisions, bad input gets a clear
// 400, and the page follows the admin API's access rules.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startControlPlane } from '../src/control/control-plane';
import { readEnvelope } from '../src/control/dashboard/explain';
import { ruleStatsOf } from '../src/control/dashboard/overview';
import { OrganizationRateHistory, ratesAt } from '../src/control/dashboard/rate-history';
import { MemoryKeyValueStore } from '../src/control/store/memory-kv';
import { lastWindow, TrafficCounts } from '../src/control/traffic/counts';
import { transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { LOCAL, REMOTE, requestFrom, TRUST_LOCAL_ONLY } from './helpers/clients';
import { silentLogger, TestClock } from './helpers/control';
import { DEMO_DEFINITIONS, startDashboardRig, storedFactor, storedProjectRate, type DashboardRig } from './helpers/dashboard';

const MINUTES = 4;

describe('dashboard routes with demo traffic', () => {
  let rig: DashboardRig;
  const get = async (path: string) => {
    const answer = await requestFrom(LOCAL, `${rig.plane.url}${path}`);
    expect(answer.status, answer.text).toBe(200);
    return answer.json();
  };
  const post = (path: string, body: unknown) => requestFrom(LOCAL, `${rig.plane.url}${path}`, { method: 'POST', body });

  beforeAll(async () => {
    rig = await startDashboardRig();
    for (let minute = 0; minute < MINUTES; minute++) {
      expect(new Set(await rig.sendMinute())).toEqual(new Set([200]));
      if (minute === 1) await rig.plane.runTasks();
    }
  }, 60_000);
  afterAll(async () => rig?.close());

  it('overview: per-project /stats, per-rule counts from the matched chains, roots and kept rates from the counts, the stored rebalanced rates', async () => {
    const overview = await get('/api/control/dashboard/overview');
    const stats = await rig.stats();
    expect(overview.serverConnected).toBe(true);
    const org = overview.organizations[0];
    expect(org).toMatchObject({ id: 1, slug: 'demo', targetSampleRate: 0.25, organizationRate: 0.25 });
    expect(org.recalibrationFactor).toBe(await storedFactor(rig.plane, 1));
    const counts = new TrafficCounts(rig.plane.kv);
    const hour = (await counts.projectVolumes(lastWindow(rig.clock.now(), 3_600_000))).filter((v) => v.orgId === 1);
    expect(org.lastHour.total).toBe(hour.reduce((n, v) => n + v.keep + v.drop, 0));
    expect(org.lastHour.total).toBe(MINUTES * (160 + 50 + 6));
    for (const project of org.projects) {
      const entry = stats.projects[String(project.id)];
      expect(project.server).toEqual(entry);
      expect(project.rules).toEqual(ruleStatsOf(entry));
      const v = hour.find((h) => h.projectId === project.id)!;
      expect(project.lastHour).toEqual({ total: v.keep + v.drop, keep: v.keep, keptRate: v.keep / (v.keep + v.drop) });
      expect(project.rebalancedRate).toBe(Number(await storedProjectRate(rig.plane, 1, project.id)));
    }
    // The small project is boosted above the organisation's rate; the large one is not.
    const byId = new Map(org.projects.map((p: { id: number }) => [p.id, p]));
    expect(byId.get(44)).toMatchObject({ boosted: true });
    expect(byId.get(42)).toMatchObject({ boosted: false });
    expect((byId.get(44) as { rebalancedRate: number }).rebalancedRate).toBeGreaterThan(0.25);
    // Rule 1000 (the base rate) matched every sampled envelope of project 42 that no terminal rule took first.
    const base = (byId.get(42) as { rules: Array<{ id: number; bias: string; matched: number }> }).rules.find((r) => r.id === 1000)!;
    expect(base.bias).toBe('base rate (boost low-volume projects)');
    expect(base.matched).toBeGreaterThan(0);
  });

  it('ruleStatsOf counts a chain for each of its rules', () => {
    const rules = ruleStatsOf({ envelopes: 9, kept: 5, dropped: 4, errors: 0, other: 0, spansKept: 0, spansDropped: 0, rules: { '1004,1000': { kept: 2, dropped: 3 }, '1000': { kept: 1, dropped: 1 }, '1002': { kept: 2, dropped: 0 }, none: { kept: 5, dropped: 0 } } });
    expect(rules.map((r) => [r.id, r.matched, r.kept, r.dropped])).toEqual([
      [1000, 7, 3, 4],
      [1002, 2, 2, 0],
      [1004, 5, 2, 3],
    ]);
    expect(rules.find((r) => r.id === 1004)!.bias).toBe('recalibration');
  });

  it('history: one point per minute sent, with the roots and kept roots counted in it', async () => {
    const history = await get('/api/control/dashboard/history?minutes=30');
    const org = history.organizations[0];
    expect(org.points.map((p: { total: number }) => p.total)).toEqual(Array(MINUTES).fill(160 + 50 + 6));
    expect(history.to - history.from).toBe(30 * 60_000);
    const counts = new TrafficCounts(rig.plane.kv);
    for (const point of org.points) {
      const [volume] = await counts.orgVolumes({ from: point.t, to: point.t + 60_000 });
      expect(point.keep).toBe(volume.keep);
    }
    for (const bad of ['0', '121', '1.5', 'x']) {
      const answer = await requestFrom(LOCAL, `${rig.plane.url}/api/control/dashboard/history?minutes=${bad}`);
      expect(answer.status).toBe(400);
      expect(answer.json().detail).toContain('minutes must be an integer in 1..120');
    }
  });

  it('explain replays the decisions the server made on the recent envelopes', async () => {
    const recent = await get('/api/control/dashboard/recent');
    expect(recent.length).toBe(50);
    for (const envelope of recent.slice(0, 10)) {
      const answer = await post('/api/control/dashboard/explain', { recent: envelope.seq });
      expect(answer.status, answer.text).toBe(200);
      const x = answer.json();
      expect(x.projectId).toBe(envelope.projectId);
      expect(x.configSource).toBe('served');
      expect(x.result.decision === 'drop' ? 'drop' : 'keep').toBe(envelope.decision === 'drop' ? 'drop' : 'keep');
      expect(x.result.matchedRuleIds).toEqual(envelope.matchedRuleIds);
      expect(x.result.explain.map((s: { ruleId: number }) => s.ruleId)).toEqual(envelope.matchedRuleIds);
      for (const id of envelope.matchedRuleIds) expect(x.rules[id].bias).toMatch(/\w/);
    }
  });

  it('explain takes a DSC, a pasted envelope, and says what is wrong with bad input', async () => {
    const dsc = { trace_id: '0'.repeat(31) + '1', public_key: 'abd0f232775f45feab79864e580d160b', transaction: '/health', environment: 'production' };
    const byDsc = (await post('/api/control/dashboard/explain', { dsc, itemType: 'transaction' })).json();
    expect(byDsc.projectId).toBe(42);
    expect(byDsc.rootProjectId).toBe(42);
    expect(byDsc.result.evaluationOrder.length).toBeGreaterThan(0);

    const trace = { traceId: dsc.trace_id, publicKey: dsc.public_key, transaction: '/health', environment: 'production' };
    const envelope = transactionEnvelope(trace, transactionEvent(trace, 'b'.repeat(32))).toString('utf8');
    const pasted = (await post('/api/control/dashboard/explain', { envelope })).json();
    // The health-check rule (1002, a transaction rule matching the event's name) decides at a fifth of the base rate.
    expect(pasted.result.matchedRuleIds).toContain(1002);
    expect(pasted.rules['1002'].bias).toBe('ignore health checks');

    const cases: Array<[unknown, number, string]> = [
      [{}, 400, 'give `envelope`'],
      [{ envelope: 'not json' }, 400, 'envelope header (line 1) is not JSON'],
      [{ envelope: `${JSON.stringify({ trace: dsc })}\n{"type":"event"}\n{}` }, 400, 'no transaction or span item'],
      [{ dsc: { trace_id: 'x' } }, 400, 'which project received it?'],
      [{ dsc, projectId: 999 }, 404, 'project 999 not found'],
      [{ recent: 123456 }, 404, 'no longer kept'],
      [{ dsc, event: [] }, 400, '`event` must be an object'],
      [{ dsc, itemType: 'error' }, 400, 'itemType'],
    ];
    for (const [body, status, detail] of cases) {
      const answer = await post('/api/control/dashboard/explain', body);
      expect([answer.status, answer.json().detail], JSON.stringify(body)).toEqual([status, expect.stringContaining(detail)]);
    }
    expect(() => readEnvelope('{}\n{"type":"transaction"}\nnot json')).toThrow(/transaction payload \(line 3\) is not JSON/);
  });

  it('serves the page, its script and the chart library', async () => {
    for (const [path, type, content] of [
      ['/dashboard/', 'text/html', '<script src="/dashboard/dashboard.js">'],
      ['/dashboard', 'text/html', 'uPlot.iife.min.js'],
      ['/dashboard/dashboard.js', 'text/javascript', 'async function refresh'],
      ['/dashboard/uPlot.iife.min.js', 'text/javascript', 'uPlot'],
      ['/dashboard/uPlot.min.css', 'text/css', '.uplot'],
    ]) {
      const answer = await requestFrom(LOCAL, `${rig.plane.url}${path}`);
      expect([answer.status, answer.headers['content-type']], path).toEqual([200, expect.stringContaining(type)]);
      expect(answer.text).toContain(content);
    }
    expect((await requestFrom(LOCAL, `${rig.plane.url}/dashboard/secret.txt`)).status).toBe(404);
    expect((await requestFrom(LOCAL, `${rig.plane.url}/dashboard/..%2fpackage.json`)).status).toBe(404);
  });

  // Last: it changes the target.
  it('history: each point carries the target in force in its minute; a target changed through the admin API is a step', async () => {
    type Point = { t: number; targetSampleRate: number | null; organizationRate: number | null };
    const before = (await get('/api/control/dashboard/history?minutes=30')).organizations[0];
    expect(before.points.length).toBe(MINUTES);
    expect(before.points.every((p: Point) => p.targetSampleRate === 0.25 && p.organizationRate === 0.25)).toBe(true);

    const change = await requestFrom(LOCAL, `${rig.plane.url}/api/control/organizations/1`, { method: 'PATCH', body: { targetSampleRate: 0.5 } });
    expect(change.status, change.text).toBe(200);
    expect(new Set(await rig.sendMinute())).toEqual(new Set([200]));
    const after = (await get('/api/control/dashboard/history?minutes=30')).organizations[0];
    expect(after).toMatchObject({ targetSampleRate: 0.5, organizationRate: 0.5 });
    // The minute sent after the change carries the new target; the older ones keep the old.
    expect(after.points.map((p: Point) => [p.t, p.targetSampleRate, p.organizationRate])).toEqual([
      ...before.points.map((p: Point) => [p.t, 0.25, 0.25]),
      [before.points.at(-1).t + 60_000, 0.5, 0.5],
    ]);
  });
});

describe('the organizations\' rates over time', () => {
  const HOUR = 3_600_000;

  it('records a change only when the rates differ from the last, and answers the rates in force at a time', async () => {
    const clock = new TestClock();
    const history = new OrganizationRateHistory(new MemoryKeyValueStore(clock.now), 2 * HOUR);
    const t0 = clock.now();
    await history.record(1, t0, { targetSampleRate: 0.25, organizationRate: 0.25 });
    await history.record(1, t0 + 1000, { targetSampleRate: 0.25, organizationRate: 0.25 });
    await history.record(1, t0 + 2000, { targetSampleRate: null, organizationRate: 0.3 });
    await history.record(2, t0 + 500, { targetSampleRate: 1, organizationRate: 1 });
    const changes = await history.changes(1);
    expect(changes.map((c) => c.since)).toEqual([t0, t0 + 2000]);
    expect(ratesAt(changes, t0 - 1)).toBeNull();
    expect(ratesAt(changes, t0 + 1999)).toEqual({ targetSampleRate: 0.25, organizationRate: 0.25 });
    expect(ratesAt(changes, t0 + 2000)).toEqual({ targetSampleRate: null, organizationRate: 0.3 });
    expect((await history.changes(2)).map((c) => c.organizationRate)).toEqual([1]);
  });

  it('drops the changes older than it keeps, but the newest of them (in force at the start of the history shown)', async () => {
    const clock = new TestClock();
    const history = new OrganizationRateHistory(new MemoryKeyValueStore(clock.now), 2 * HOUR);
    const t0 = clock.now();
    for (let i = 0; i < 4; i++) await history.record(1, t0 + i * HOUR, { targetSampleRate: 0.1 * (i + 1), organizationRate: 0.1 * (i + 1) });
    const changes = await history.changes(1);
    // At t0 + 3 h the window starts at t0 + 1 h: the change at t0 goes, the one at t0 + 1 h stays.
    expect(changes.map((c) => c.since)).toEqual([t0 + HOUR, t0 + 2 * HOUR, t0 + 3 * HOUR]);
    expect(ratesAt(changes, t0 + 1.5 * HOUR)!.organizationRate).toBeCloseTo(0.2);
  });
});

describe('dashboard access', () => {
  it('without credentials the page and its data serve loopback clients only', async () => {
    const plane = await startControlPlane({ definitions: structuredClone(DEMO_DEFINITIONS), schedule: 'none', logger: silentLogger, trustedClients: TRUST_LOCAL_ONLY });
    try {
      for (const path of ['/dashboard/', '/dashboard/dashboard.js', '/api/control/dashboard/overview', '/api/control/dashboard/history', '/api/control/dashboard/recent']) {
        expect((await requestFrom(REMOTE, `${plane.url}${path}`)).status, path).toBe(403);
        expect((await requestFrom(LOCAL, `${plane.url}${path}`)).status, path).toBe(200);
      }
      expect((await requestFrom(REMOTE, `${plane.url}/api/control/dashboard/explain`, { method: 'POST', body: { dsc: {} } })).status).toBe(403);
    } finally {
      await plane.close();
    }
  });

  it('with admin tokens the page loads without one (it holds no data) and every data route needs a token; a read token may explain', async () => {
    const plane = await startControlPlane({
      definitions: structuredClone(DEMO_DEFINITIONS),
      schedule: 'none',
      logger: silentLogger,
      trustedClients: TRUST_LOCAL_ONLY,
      adminTokens: ['write-token-1'],
      adminReadTokens: ['read-token-1'],
    });
    try {
      expect((await requestFrom(REMOTE, `${plane.url}/dashboard/`)).status).toBe(200);
      expect(plane.routes.filter((r) => r.access === 'page').map((r) => r.pattern.source)).toEqual(['^\\/dashboard(?:\\/([\\w.-]*))?$']);
      for (const path of ['/api/control/dashboard/overview', '/api/control/dashboard/history', '/api/control/dashboard/recent']) {
        expect((await requestFrom(LOCAL, `${plane.url}${path}`)).status, path).toBe(401);
        expect((await requestFrom(REMOTE, `${plane.url}${path}`, { token: 'read-token-1' })).status, path).toBe(200);
      }
      const dsc = { trace_id: '0'.repeat(32), public_key: 'abd0f232775f45feab79864e580d160b' };
      expect((await requestFrom(REMOTE, `${plane.url}/api/control/dashboard/explain`, { method: 'POST', body: { dsc } })).status).toBe(401);
      expect((await requestFrom(REMOTE, `${plane.url}/api/control/dashboard/explain`, { method: 'POST', body: { dsc }, token: 'read-token-1' })).status).toBe(200);
    } finally {
      await plane.close();
    }
  });
});
