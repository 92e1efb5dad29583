// The dashboard page: reads the control plane's admin API and dashboard routes, changes targets and biases through
// the admin API. Plain browser JavaScript (no build); uPlot draws the kept-rate charts.
'use strict';

(() => {
  const TOKEN_KEY = 'dynamic-sampling-dashboard-token';
  const REFRESH_MS = 5000;
  const HISTORY_MINUTES = 60;

  // A token handed over in the address (`#token=...`) is moved to the tab's storage and out of the address bar.
  const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromHash[1]));
    history.replaceState(null, '', location.pathname);
  }

  class HttpError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  /** Calls the control plane; a refusal or a validation error becomes an HttpError with the server's `detail`. */
  async function api(method, path, body) {
    const headers = { accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) throw new HttpError(res.status, (json && json.detail) || `${res.status} ${res.statusText}`);
    return json;
  }

  /** A DOM element with attributes and children (strings become text: nothing from the server is parsed as HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  const pct = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : `${(x * 100).toFixed(1)}%`);
  const rate = (x) => (x === null || x === undefined ? '–' : Number(x.toFixed(4)).toString());
  const $ = (id) => document.getElementById(id);

  function table(id, head, rows) {
    return el('table', { id }, el('thead', {}, el('tr', {}, head.map((h) => el('th', {}, h)))), el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c)))))));
  }

  function setStatus(text, cls) {
    const status = $('status');
    status.textContent = text;
    status.className = cls || '';
  }

  // ---- organisations: figures, target form, chart -----------------------------------------------------------

  const orgViews = new Map();

  function orgView(org) {
    let view = orgViews.get(org.id);
    if (view) return view;
    const section = el('section', { class: 'org', id: `org-${org.id}` });
    const figures = el('div', { class: 'figures' });
    const input = el('input', { id: `target-${org.id}`, type: 'text', inputmode: 'decimal', size: 6, value: org.targetSampleRate ?? '' });
    const error = el('span', { class: 'error', id: `target-error-${org.id}`, role: 'alert' });
    const form = el(
      'form',
      { class: 'row' },
      el('label', {}, 'target sample rate (0 < rate ≤ 1) ', input),
      el('button', { type: 'submit', id: `target-save-${org.id}` }, 'Set target'),
      error,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void setTarget(org.id, input.value, error);
    });
    const chart = el('div', { class: 'chart', id: `chart-${org.id}`, 'data-points': 0 });
    const caption = el('p', { class: 'muted', id: `chart-caption-${org.id}` });
    const projects = el('div', { id: `projects-${org.id}` });
    section.append(
      el('div', { id: `org-summary-${org.id}` }, el('h2', {}, `Organization ${org.slug ?? ''} (${org.id})`), figures, form, el('h3', {}, 'Kept rate per minute against the target'), chart, caption, el('h3', {}, 'Projects'), projects),
      el('div', { class: 'project-details' }),
    );
    $('organizations').append(section);
    view = { section, figures, input, error, chart, caption, projects, details: section.querySelector('.project-details'), plot: null, projectViews: new Map() };
    orgViews.set(org.id, view);
    return view;
  }

  async function setTarget(orgId, text, error) {
    error.className = 'error';
    error.textContent = '';
    const value = Number(text.trim());
    // Checked here for a quick answer; the admin API validates again and its message is shown as it is.
    if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 1) {
      error.textContent = `"${text}" is not a sample rate: give a number greater than 0 and at most 1 (0.25 = 25%)`;
      return;
    }
    try {
      await api('PATCH', `/api/control/organizations/${orgId}`, { targetSampleRate: value });
      error.className = 'ok';
      error.textContent = `target set to ${value}: the configs follow after the next task run`;
      await refresh();
    } catch (e) {
      error.className = 'error';
      error.textContent = `not changed: ${e.message}`;
    }
  }

  function renderOrgFigures(view, org) {
    const figure = (label, value, id) => el('div', {}, el('span', { class: 'muted' }, label), el('b', { id }, value));
    view.figures.replaceChildren(
      figure('target', org.targetSampleRate === null ? 'none' : pct(org.targetSampleRate), `org-${org.id}-target`),
      figure('kept, last 5 min', pct(org.last5Minutes.keptRate), `org-${org.id}-kept-5m`),
      figure('kept, last hour', pct(org.lastHour.keptRate), `org-${org.id}-kept-1h`),
      figure('roots, last hour', String(org.lastHour.total), `org-${org.id}-roots-1h`),
      figure('recalibration factor', rate(org.recalibrationFactor), `org-${org.id}-factor`),
      figure('sampling mode', org.samplingMode),
    );
    if (document.activeElement !== view.input && view.error.textContent === '') view.input.value = org.targetSampleRate ?? '';
  }

  function renderChart(view, history, window) {
    // From a little before the first minute with traffic (at least the last 10 minutes) to now.
    const first = history.points.length > 0 ? history.points[0].t : window.to;
    view.window = [Math.max(window.from, Math.min(first - 60_000, window.to - 600_000)) / 1000, window.to / 1000];
    const xs = history.points.map((p) => p.t / 1000);
    const kept = history.points.map((p) => p.keep / p.total);
    // The rate in force in each minute (a target changed through the admin API shows as a step).
    const target = history.points.map((p) => p.organizationRate);
    const data = [xs, kept, target];
    view.chart.setAttribute('data-points', String(xs.length));
    view.caption.textContent =
      xs.length === 0
        ? 'No trace roots counted in the last hour yet: send traffic (npm run demo).'
        : `${xs.length} minute(s) with traffic; the line is the share of trace roots kept in each minute, the dashed line the organization's rate` +
          (new Set(target).size > 1 ? ` in force in each minute (now ${pct(history.organizationRate)}).` : ` (${pct(history.organizationRate)}).`);
    if (!view.plot) {
      view.plot = new uPlot(
        {
          width: Math.max(400, Math.min(1000, view.section.clientWidth - 40)),
          height: 240,
          // From 0 to a little above the highest rate shown, so that the distance to the target stays visible.
          scales: { x: { time: true, range: () => view.window }, y: { range: (u, min, max) => [0, Math.min(1, Math.max(0.05, max * 1.25))] } },
          axes: [{}, { values: (u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) }],
          series: [
            {},
            { label: 'kept rate', stroke: '#2563eb', width: 2, points: { show: true, size: 6 }, value: (u, v) => pct(v) },
            { label: 'target', stroke: '#d97706', width: 2, dash: [6, 4], points: { show: false }, paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => pct(v) },
          ],
        },
        data,
        view.chart,
      );
    } else {
      view.plot.setData(data);
    }
  }

  // ---- projects: table, biases, per-rule counts, the config's rules -----------------------------------------

  /** How many release boosts are active, and of which versions (a version boosts once per environment). */
  function boostedReleases(boosts) {
    if (boosts.length === 0) return '–';
    return `${boosts.length}: ${[...new Set(boosts.map((r) => r.version))].sort().join(', ')}`;
  }

  function renderProjects(view, org) {
    const rows = org.projects.map((p) => [
      el('td', { class: 'text' }, `${p.slug ?? ''} (${p.id})`),
      String(p.lastHour.total),
      String(p.lastHour.keep),
      pct(p.lastHour.keptRate),
      p.rebalancedRate === null ? '–' : rate(p.rebalancedRate),
      el('td', { class: p.boosted ? 'boosted' : '' }, p.boosted ? 'boosted' : 'no'),
      boostedReleases(p.boostedReleases),
      p.server ? String(p.server.envelopes) : '–',
      p.server ? String(p.server.kept) : '–',
      p.server ? String(p.server.dropped) : '–',
      p.server ? String(p.server.errors) : '–',
    ]);
    view.projects.replaceChildren(
      table(
        `projects-table-${org.id}`,
        ['project', 'roots (1 h)', 'kept roots', 'kept rate', 'rebalanced rate', 'boost', 'boosted releases', 'envelopes', 'kept', 'dropped', 'errors'],
        rows,
      ),
      el('p', { class: 'muted' }, 'Roots: trace roots the control plane counted in the last hour (what rebalancing reads). Envelopes, kept, dropped, errors: the ingestion server\'s /stats since it started.'),
    );
  }

  function projectView(view, project) {
    let pv = view.projectViews.get(project.id);
    if (pv) return pv;
    const section = el('section', { class: 'project', id: `project-${project.id}` });
    const biases = el('div', { class: 'biases', id: `biases-${project.id}` });
    const biasError = el('span', { class: 'error', id: `biases-error-${project.id}`, role: 'alert' });
    const ruleStats = el('div', {});
    const config = el('div', {});
    section.append(
      el('h3', {}, `${project.slug ?? 'project'} (${project.id})`),
      el('div', { class: 'row' }, el('b', {}, 'biases'), biases, biasError),
      el('div', { class: 'columns' }, el('div', {}, el('b', {}, 'matched rules (from /stats)'), ruleStats), el('div', {}, el('b', {}, 'sampling config'), config)),
    );
    view.details.append(section);
    pv = { biases, biasError, ruleStats, config, checkboxes: new Map() };
    view.projectViews.set(project.id, pv);
    return pv;
  }

  async function toggleBias(projectId, biasId, active, pv) {
    pv.biasError.textContent = '';
    try {
      await api('PUT', `/api/control/projects/${projectId}/biases`, [{ id: biasId, active }]);
      pv.biasError.className = 'ok';
      pv.biasError.textContent = `${biasId} ${active ? 'on' : 'off'}: the config below is regenerated; Relay gets it after the next task run`;
      await refresh();
    } catch (e) {
      pv.biasError.className = 'error';
      pv.biasError.textContent = `not changed: ${e.message}`;
      await refresh();
    }
  }

  function renderBiases(project, pv, biases) {
    for (const bias of biases) {
      let box = pv.checkboxes.get(bias.id);
      if (!box) {
        box = el('input', { type: 'checkbox', id: `bias-${project.id}-${bias.id}`, 'data-bias': bias.id });
        box.addEventListener('change', () => void toggleBias(project.id, bias.id, box.checked, pv));
        pv.checkboxes.set(bias.id, box);
        pv.biases.append(el('label', {}, box, ` ${bias.id}`));
      }
      box.checked = bias.active;
    }
  }

  function describeValue(v) {
    if (!v) return '';
    if (v.type === 'reservoir') return `keep first ${v.limit}`;
    return `${v.type} ${rate(v.value)}`;
  }

  function describeCondition(c) {
    if (!c) return '';
    if (c.op === 'and' || c.op === 'or') return c.inner.length === 0 ? 'all' : c.inner.map(describeCondition).join(` ${c.op} `);
    if (c.op === 'not') return `not (${describeCondition(c.inner)})`;
    const value = Array.isArray(c.value) ? (c.value.length > 3 ? `[${c.value.slice(0, 3).join(', ')}, …]` : `[${c.value.join(', ')}]`) : JSON.stringify(c.value);
    return `${c.name} ${c.op} ${value}`;
  }

  function renderRuleStats(project, pv) {
    pv.ruleStats.replaceChildren(
      project.rules.length === 0
        ? el('p', { class: 'muted' }, project.server ? 'no rule matched yet' : 'no /stats yet (the ingestion server connects when npm start runs both)')
        : table(`rules-${project.id}`, ['rule id', 'bias', 'matched', 'kept', 'dropped'], project.rules.map((r) => [String(r.id), el('td', { class: 'text' }, r.bias), String(r.matched), String(r.kept), String(r.dropped)])),
    );
  }

  function configTable(id, rules) {
    return table(
      id,
      ['rule id', 'type', 'value', 'bias', 'condition'],
      rules.map((r) => [String(r.id), el('td', { class: 'text' }, r.type), el('td', { class: 'text' }, describeValue(r.samplingValue)), el('td', { class: 'text' }, r.bias), el('td', { class: 'text mono' }, describeCondition(r.condition))]),
    );
  }

  function renderConfig(project, pv) {
    const served = project.servedConfig;
    const generated = project.generatedConfig;
    const same = JSON.stringify(served.rules) === JSON.stringify(generated.rules);
    pv.config.replaceChildren(
      el('p', { class: 'muted' }, served.source === 'served' ? 'served to Relay now, in the order Relay evaluates them:' : 'nothing fetched yet; what Relay will get, in the order Relay evaluates them:'),
      configTable(`config-${project.id}`, served.rules),
      same
        ? el('p', { class: 'muted', id: `config-pending-${project.id}` }, 'the definitions and state give the same rules now')
        : el('div', {}, el('p', { class: 'boosted', id: `config-pending-${project.id}` }, 'changed: generated now from the current biases, targets and state; Relay gets it after the next task run (Run tasks now):'), configTable(`config-generated-${project.id}`, generated.rules)),
    );
  }

  // ---- refresh --------------------------------------------------------------------------------------------

  let refreshing = null;
  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      try {
        const [overview, history] = await Promise.all([api('GET', '/api/control/dashboard/overview'), api('GET', `/api/control/dashboard/history?minutes=${HISTORY_MINUTES}`)]);
        $('token-form').hidden = true;
        for (const org of overview.organizations) {
          const view = orgView(org);
          renderOrgFigures(view, org);
          renderProjects(view, org);
          renderChart(view, history.organizations.find((h) => h.id === org.id) || { points: [], organizationRate: org.organizationRate }, history);
          for (const project of org.projects) {
            const pv = projectView(view, project);
            renderBiases(project, pv, await api('GET', `/api/control/projects/${project.id}/biases`));
            renderRuleStats(project, pv);
            renderConfig(project, pv);
          }
        }
        await refreshRecent();
        setStatus(`updated ${new Date().toLocaleTimeString()}${overview.serverConnected ? '' : ' · no ingestion server connected: per-rule counts need npm start'}`, 'ok');
      } catch (e) {
        if (e instanceof HttpError && (e.status === 401 || e.status === 403)) {
          $('token-form').hidden = false;
          $('token-error').textContent = e.message;
          setStatus('needs a token', 'error');
        } else {
          setStatus(`cannot reach the control plane: ${e.message}`, 'error');
        }
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  // ---- tasks and explain --------------------------------------------------------------------------------

  $('run-tasks').addEventListener('click', async () => {
    const out = $('run-result');
    out.className = 'muted';
    out.textContent = 'running…';
    try {
      const results = await api('POST', '/api/control/tasks/run');
      const failed = results.filter((r) => r.outcome !== 'ok');
      out.className = failed.length === 0 ? 'ok' : 'error';
      out.textContent = failed.length === 0 ? `${results.length} tasks ran; configs rebuilt` : `failed: ${failed.map((r) => `${r.task}: ${r.error ?? r.outcome}`).join('; ')}`;
      await refresh();
    } catch (e) {
      out.className = 'error';
      out.textContent = `not run: ${e.message}`;
    }
  });

  async function refreshRecent() {
    const select = $('recent');
    const chosen = select.value;
    const recent = await api('GET', '/api/control/dashboard/recent');
    select.replaceChildren(
      el('option', { value: '' }, recent.length === 0 ? '(no envelope yet)' : '(pick an envelope)'),
      ...recent.map((r) => el('option', { value: r.seq, selected: String(r.seq) === chosen }, `${r.at.slice(11, 19)} project ${r.projectId} ${r.transaction ?? ''} → ${r.decision}${r.matchedRuleIds.length ? ` (${r.matchedRuleIds.join(',')})` : ''}`)),
    );
  }

  $('explain-run').addEventListener('click', async () => {
    const error = $('explain-error');
    const out = $('explain-result');
    error.textContent = '';
    const text = $('explain-input').value.trim();
    const project = $('explain-project').value.trim();
    let body;
    if ($('recent').value !== '' && text === '') {
      body = { recent: Number($('recent').value) };
    } else if (text === '') {
      error.textContent = 'pick a recent envelope or paste an envelope or a DSC';
      return;
    } else {
      // One JSON object is a DSC (or an envelope header alone); anything else is an envelope's text.
      let parsed = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      body = parsed && typeof parsed === 'object' && !Array.isArray(parsed) && !parsed.trace ? { dsc: parsed } : { envelope: text };
    }
    if (project !== '') body.projectId = Number(project);
    try {
      renderExplanation(out, await api('POST', '/api/control/dashboard/explain', body));
    } catch (e) {
      error.textContent = e.message;
      out.replaceChildren();
    }
  });

  function renderExplanation(out, x) {
    const r = x.result;
    const name = (id) => (x.rules[id] ? x.rules[id].bias : `rule ${id}`);
    out.replaceChildren(
      el(
        'p',
        { id: 'explain-decision' },
        'decision: ',
        el('span', { class: `decision-${r.decision === 'drop' ? 'drop' : 'keep'}` }, r.decision),
        ` · sample rate ${r.sampleRate === null ? '– (no rule terminated)' : rate(r.sampleRate)} · random value ${r.randomValue === null ? '–' : rate(r.randomValue)}`,
        ` · stage ${r.stage ?? '–'} · project ${x.projectId}${x.rootProjectId !== null ? `, trace started in project ${x.rootProjectId}` : ''} · config ${x.configSource ?? 'none'}`,
        r.outcomeReason ? ` · outcome ${r.outcomeReason}` : '',
      ),
      x.recorded
        ? el('p', { id: 'explain-recorded', class: 'muted' }, `the server decided ${x.recorded.decision} (rules ${x.recorded.matchedRuleIds.join(', ') || 'none'}) with the config it had at ${x.recorded.at}; above, the config served now`)
        : null,
      el('b', {}, 'steps (matched rules, in evaluation order)'),
      table(
        'explain-steps',
        ['stage', 'rule id', 'bias', 'type', 'value', 'factor so far', 'applied'],
        r.explain.map((s) => [el('td', { class: 'text' }, s.stage), String(s.ruleId), el('td', { class: 'text' }, name(s.ruleId)), el('td', { class: 'text' }, s.type), rate(s.value), rate(s.factor), s.applied ? 'yes' : 'no']),
      ),
      el('p', { class: 'muted' }, `evaluation order: ${r.evaluationOrder.map((s) => `${s.stage} [${s.ids.join(', ')}]`).join(' → ') || '(no rules)'}`),
      ...r.notes.map((n) => el('p', { class: 'error' }, JSON.stringify(n))),
    );
  }

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    void refresh();
  });

  void refresh();
  setInterval(() => void refresh(), REFRESH_MS);
})();
