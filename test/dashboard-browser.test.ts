// The dashboard in a real browser (headless Chromium) against a running control plane with demo traffic: what a person
// sees matches /stats and the state, a bias toggle changes the bias and the generated config, the target form validates,
// "explain" shows the server's decision step by step. Screenshots go to test-output/dashboard/.

import path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ruleStatsOf } from '../src/control/dashboard/overview';
import { LOCAL, requestFrom } from './helpers/clients';
import { launchChromium, outputDir } from './helpers/browser';
import { CONFIG_TOKEN, startDashboardRig, storedProjectRate, type DashboardRig } from './helpers/dashboard';

const MINUTES = 12;
const ADMIN_TOKEN = 'dashboard-browser-admin-token';
const OUT = outputDir('dashboard');
const DEMO_KEY_42 = 'abd0f232775f45feab79864e580d160b';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The cells of a table's body, as text. */
async function cells(page: Page, tableId: string): Promise<string[][]> {
  return page.$$eval(`#${tableId} tbody tr`, (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent ?? '')));
}

describe('dashboard in Chromium', () => {
  let rig: DashboardRig;
  let browser: Browser;
  let page: Page;
  const api = async (method: string, path: string, body?: unknown) => {
    const answer = await requestFrom(LOCAL, `${rig.plane.url}${path}`, { method, body, token: ADMIN_TOKEN });
    expect(answer.status, answer.text).toBeLessThan(300);
    return answer.json();
  };

  beforeAll(async () => {
    browser = await launchChromium();
    rig = await startDashboardRig({ adminTokens: [ADMIN_TOKEN] });
    // The demo organisation over 12 minutes, rebalanced every other minute; the last two minutes are decided with the
    // configs served now (the recent envelopes "explain" picks from).
    for (let minute = 0; minute < MINUTES; minute++) {
      expect(new Set(await rig.sendMinute())).toEqual(new Set([200]));
      if (minute % 2 === 1 && minute < MINUTES - 2) await rig.plane.runTasks();
    }
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await rig?.close();
  });

  it('asks for the admin token, then shows the organisation: target, kept rate, and a chart point per minute', async () => {
    await page.goto(`${rig.plane.url}/dashboard/`);
    await page.waitForSelector('#token-form:not([hidden])');
    expect(await page.textContent('#token-error')).toContain('missing or invalid admin token');
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#token-form button');
    await page.waitForSelector(`#chart-1[data-points="${MINUTES}"]`);
    expect(await page.isHidden('#token-form')).toBe(true);

    const overview = await api('GET', '/api/control/dashboard/overview');
    const org = overview.organizations[0];
    expect(await page.textContent('#org-1-target')).toBe('25.0%');
    expect(await page.textContent('#org-1-kept-1h')).toBe(pct(org.lastHour.keptRate));
    expect(await page.textContent('#org-1-roots-1h')).toBe(String(MINUTES * (160 + 50 + 6)));
    expect(await page.textContent('#org-1-factor')).toBe(String(Number(org.recalibrationFactor.toFixed(4))));
    // The chart is drawn (uPlot's canvas) with the history's points.
    const history = await api('GET', '/api/control/dashboard/history?minutes=60');
    expect(history.organizations[0].points.length).toBe(MINUTES);
    expect(await page.locator('#chart-1 canvas').count()).toBe(1);
    expect(await page.textContent('#chart-caption-1')).toContain(`${MINUTES} minute(s) with traffic`);
    await page.screenshot({ path: path.join(OUT, 'overview.png'), fullPage: true });
    await page.locator('#org-summary-1').screenshot({ path: path.join(OUT, 'organization.png') });
  });

  it('explain: a picked recent envelope shows the server\'s decision and the matched rules step by step; bad input says what is wrong', async () => {
    const recent = await api('GET', '/api/control/dashboard/recent');
    // A dropped one, so that the steps end in the rate that dropped it.
    const picked = recent.find((r: { decision: string }) => r.decision === 'drop') ?? recent[0];
    await page.waitForSelector(`#recent option[value="${picked.seq}"]`, { state: 'attached' });
    await page.selectOption('#recent', String(picked.seq));
    await page.click('#explain-run');
    await page.waitForSelector('#explain-decision');
    expect(await page.textContent('#explain-decision .decision-drop, #explain-decision .decision-keep')).toBe(picked.decision);
    const steps = await cells(page, 'explain-steps');
    expect(steps.map((s) => Number(s[1]))).toEqual(picked.matchedRuleIds);
    expect(steps.every((s) => s[2] !== '' && !s[2].startsWith('rule '))).toBe(true);
    expect(await page.textContent('#explain-recorded')).toContain(`the server decided ${picked.decision} (rules ${picked.matchedRuleIds.join(', ')})`);
    await page.locator('#explain').screenshot({ path: path.join(OUT, 'explain.png') });

    await page.selectOption('#recent', '');
    await page.fill('#explain-input', '{"trace_id": "abc"}');
    await page.click('#explain-run');
    await page.waitForSelector('#explain-error:text("which project received it?")');

    // A DSC pasted as formatted JSON: the decision of the trace it starts in project 42.
    const dsc = { trace_id: 'e'.repeat(32), public_key: DEMO_KEY_42, transaction: '/api/search', environment: 'development' };
    await page.fill('#explain-input', JSON.stringify(dsc, null, 2));
    await page.click('#explain-run');
    await page.waitForSelector('#explain-decision:text("trace started in project 42")');
    expect(await page.textContent('#explain-error')).toBe('');
    // Development traffic is kept by the boost-environments rule (1001), a terminal rate of 1.
    expect((await cells(page, 'explain-steps')).map((s) => [s[1], s[2]])).toContainEqual(['1001', 'boost dev environments']);
  });

  it('the projects table and the per-rule tables show /stats and the stored state', async () => {
    const stats = await rig.stats();
    const overview = await api('GET', '/api/control/dashboard/overview');
    const rows = await cells(page, 'projects-table-1');
    expect(rows.length).toBe(3);
    for (const project of overview.organizations[0].projects) {
      const row = rows.find((r) => r[0] === `${project.slug} (${project.id})`)!;
      const s = stats.projects[String(project.id)];
      const rate = await storedProjectRate(rig.plane, 1, project.id);
      expect(row.slice(1)).toEqual([
        String(project.lastHour.total),
        String(project.lastHour.keep),
        pct(project.lastHour.keep / project.lastHour.total),
        String(Number(Number(rate).toFixed(4))),
        project.boosted ? 'boosted' : 'no',
        project.boostedReleases.length === 0 ? '–' : `${project.boostedReleases.length}: ${[...new Set(project.boostedReleases.map((r: { version: string }) => r.version))].sort().join(', ')}`,
        String(s.envelopes),
        String(s.kept),
        String(s.dropped),
        String(s.errors),
      ]);
      const ruleRows = await cells(page, `rules-${project.id}`);
      expect(ruleRows).toEqual(ruleStatsOf(s).map((r) => [String(r.id), r.bias, String(r.matched), String(r.kept), String(r.dropped)]));
    }
    // The small project (payments, 6 roots a minute) is boosted; the large one is not.
    expect(rows.find((r) => r[0] === 'payments (44)')![5]).toBe('boosted');
    expect(rows.find((r) => r[0] === 'shop-backend (42)')![5]).toBe('no');
  });

  it('a bias toggle changes the bias and the generated config; after a task run Relay is served the new config', async () => {
    const ruleIds = async (tableId: string) => (await cells(page, tableId)).map((r) => Number(r[0]));
    expect(await ruleIds('config-42')).toContain(1001);
    expect(await page.isChecked('#bias-42-boostEnvironments')).toBe(true);

    await page.click('#bias-42-boostEnvironments');
    await page.waitForSelector('#config-generated-42');
    expect(await page.textContent('#biases-error-42')).toContain('boostEnvironments off');
    expect(await page.isChecked('#bias-42-boostEnvironments')).toBe(false);
    const biases = await api('GET', '/api/control/projects/42/biases');
    expect(biases.find((b: { id: string }) => b.id === 'boostEnvironments').active).toBe(false);
    const sampling = await api('GET', '/api/control/projects/42/sampling');
    expect(await ruleIds('config-generated-42')).toEqual(sampling.config.rules.map((r: { id: number }) => r.id));
    expect(await ruleIds('config-generated-42')).not.toContain(1001);
    // Relay still gets the old config until the next task run.
    expect(await ruleIds('config-42')).toContain(1001);
    await page.screenshot({ path: path.join(OUT, 'bias-toggled.png'), fullPage: true });

    await page.click('#run-tasks');
    await page.waitForSelector('#config-pending-42:text("give the same rules now")');
    expect(await page.textContent('#run-result')).toContain('tasks ran');
    expect(await ruleIds('config-42')).not.toContain(1001);
    const relay = await requestFrom(LOCAL, `${rig.plane.url}/api/0/relays/projectconfigs/?version=3`, { method: 'POST', token: CONFIG_TOKEN, body: { publicKeys: [DEMO_KEY_42] } });
    expect(relay.json().configs[DEMO_KEY_42].config.sampling.rules.map((r: { id: number }) => r.id)).toEqual(await ruleIds('config-42'));
  });

  it('the target form refuses a rate out of range with a clear message and sets a valid one through the admin API', async () => {
    for (const bad of ['1.5', '0', 'a quarter', '']) {
      await page.fill('#target-1', bad);
      await page.click('#target-save-1');
      await page.waitForSelector('#target-error-1:text("is not a sample rate")');
      expect((await api('GET', '/api/control/organizations/1')).targetSampleRate).toBe(0.25);
    }
    await page.fill('#target-1', '0.1');
    await page.click('#target-save-1');
    await page.waitForSelector('#org-1-target:text("10.0%")');
    expect(await page.textContent('#target-error-1')).toContain('target set to 0.1');
    expect((await api('GET', '/api/control/organizations/1')).targetSampleRate).toBe(0.1);

    // The next minute is sampled under the new target: the chart's target line steps down to it there, and keeps
    // the old target for the minutes before (the legend shows the values of the minute under the cursor).
    expect(new Set(await rig.sendMinute())).toEqual(new Set([200]));
    await page.waitForSelector(`#chart-1[data-points="${MINUTES + 1}"]`);
    expect(await page.textContent('#chart-caption-1')).toContain('the dashed line the organization\'s rate in force in each minute (now 10.0%)');
    const plot = (await page.locator('#chart-1 .u-over').boundingBox())!;
    const targetShown = page.locator('#chart-1 .u-legend .u-series:nth-child(3) .u-value');
    await page.mouse.move(plot.x + plot.width - 1, plot.y + plot.height / 2);
    await page.waitForSelector('#chart-1 .u-legend .u-series:nth-child(3) .u-value:text("10.0%")');
    await page.mouse.move(plot.x + 1, plot.y + plot.height / 2);
    await page.waitForSelector('#chart-1 .u-legend .u-series:nth-child(3) .u-value:text("25.0%")');
    expect(await targetShown.textContent()).toBe('25.0%');
    await page.locator('#org-summary-1').screenshot({ path: path.join(OUT, 'target-step.png') });
  });

});
