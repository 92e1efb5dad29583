'use strict';
// The printed report: decisions per path and workload, the ratios the issue asks for, rule
// growth, compile time and memory, and the targets as figures (never assertions).

const os = require('node:os');

function formatNs(ns) {
  if (!Number.isFinite(ns)) return '–';
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

function formatBytes(bytes) {
  const sign = bytes < 0 ? '-' : '';
  const b = Math.abs(bytes);
  if (b >= 1 << 20) return `${sign}${(b / (1 << 20)).toFixed(1)} MB`;
  if (b >= 1 << 10) return `${sign}${(b / (1 << 10)).toFixed(1)} KB`;
  return `${sign}${b} B`;
}

const grouped = (n) => Math.round(n).toLocaleString('en-US');
const ratio = (r) => (Number.isFinite(r) ? `${r.toFixed(r >= 10 ? 0 : r >= 2 ? 1 : 2)}×` : '–');
const signed = (bytes) => `${bytes < 0 ? '−' : '+'}${formatBytes(Math.abs(bytes))}`;

function pad(cells, widths) {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
}

function table(rows, { quick, seconds, sink }) {
  const out = [];
  const cpus = os.cpus();
  out.push('');
  out.push(`dynamic-sampling benchmark: ${quick ? 'quick (BENCH_QUICK=1) run, indicative only' : 'full run'}, ${seconds.toFixed(0)} s`);
  out.push(`node ${process.version} on ${os.platform()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}; release build via dist/`);
  out.push('');

  const decisions = rows.filter((r) => r.decisionsPerSec !== undefined);
  const widths = [15, 16, 14, 14, 7];
  out.push(pad(['workload', 'path', 'ns/decision', 'decisions/s', '±rme'], widths));
  out.push(pad(['-'.repeat(15), '-'.repeat(16), '-'.repeat(14), '-'.repeat(14), '-'.repeat(7)], widths));
  let last = '';
  for (const r of decisions) {
    out.push(pad([r.workload === last ? '' : r.workload, r.path, formatNs(r.nsPerDecision), grouped(r.decisionsPerSec), `${r.rme.toFixed(1)}%`], widths));
    last = r.workload;
  }

  const ns = (workload, path) => decisions.find((r) => r.workload === workload && r.path === path)?.nsPerDecision ?? Number.NaN;
  const all = [...new Set(decisions.map((r) => r.workload))];
  const workloads = all.filter((w) => !w.startsWith('parse-'));
  out.push('');
  out.push('ratios (higher is better for native)');
  const rw = [15, 22, 22, 22, 22];
  out.push(pad(['workload', 'peer ÷ native-envelope', 'envelope ÷ batch', 'objects ÷ envelope', 'peer ÷ native-compiled'], rw));
  for (const w of workloads) {
    out.push(
      pad(
        [
          w,
          ratio(ns(w, 'typescript-peer') / ns(w, 'native-envelope')),
          ratio(ns(w, 'native-envelope') / ns(w, 'native-batch')),
          ratio(ns(w, 'native-objects') / ns(w, 'native-envelope')),
          ratio(ns(w, 'typescript-peer') / ns(w, 'native-compiled')),
        ],
        rw,
      ),
    );
  }

  const ruleCounts = [10, 100, 1000, 10000].filter((n) => workloads.includes(`rules-${n}`));
  if (ruleCounts.length > 0) {
    out.push('');
    out.push('cost per decision as rules grow (ns; 2 KB SDK envelopes)');
    const gw = [16, ...ruleCounts.map(() => 12), 16];
    out.push(pad(['path', ...ruleCounts.map((n) => `${n} rules`), `${ruleCounts.at(-1)} ÷ ${ruleCounts[0]}`], gw));
    for (const p of ['native-envelope', 'native-batch', 'native-compiled', 'typescript-peer', 'native-objects']) {
      const values = ruleCounts.map((n) => ns(`rules-${n}`, p));
      if (values.every((v) => Number.isNaN(v))) continue;
      out.push(pad([p, ...values.map(formatNs), ratio(values.at(-1) / values[0])], gw));
    }
  }

  const compile = rows.filter((r) => r.workload === 'compile');
  if (compile.length > 0) {
    out.push('');
    out.push('compile time per config (putProject, config as JSON text)');
    const configs = [...new Set(compile.map((r) => r.config))];
    const cw = [16, ...configs.map(() => 12)];
    out.push(pad(['path', ...configs], cw));
    for (const p of ['native', 'typescript-peer']) {
      out.push(pad([p, ...configs.map((c) => formatNs(compile.find((r) => r.config === c && r.path === p)?.nsPerCompile ?? Number.NaN))], cw));
    }
  }

  const memory = rows.filter((r) => r.workload === 'memory');
  if (memory.length > 0) {
    out.push('');
    out.push('memory per 1,000 compiled typical configs (fresh process, after full GC)');
    for (const r of memory) {
      out.push(`  ${r.path.padEnd(16)} RSS ${signed(r.rssBytes)}, V8 heap ${signed(r.heapBytes)}  (${formatBytes(r.rssBytes / r.projects)} RSS per config)`);
    }
  }

  const parse = all.filter((w) => w.startsWith('parse-'));
  if (parse.length > 0) {
    out.push('');
    out.push('reading an envelope in JavaScript ÷ the native decision (@sentry/node transactions, demo config)');
    const pw = [15, 26, 26];
    out.push(pad(['workload', 'JSON.parse header ÷ native', 'JSON.parse all ÷ native'], pw));
    for (const w of parse) out.push(pad([w, ratio(ns(w, 'json-header') / ns(w, 'native-envelope')), ratio(ns(w, 'json-envelope') / ns(w, 'native-envelope'))], pw));
  }

  out.push('');
  out.push('targets set by the issue (figures, not assertions)');
  const parseRatio = (w, p) => ns(w, p) / ns(w, 'native-envelope');
  if (parse.includes('parse-4kb')) {
    const h = parseRatio('parse-4kb', 'json-header');
    out.push(`  ${h >= 2 ? 'met    ' : 'not met'}  JSON.parse of the header ≥ 2× native on parse-4kb: ${ratio(h)}`);
    const a = parseRatio('parse-4kb', 'json-envelope');
    out.push(`  ${a >= 20 ? 'met    ' : 'not met'}  JSON.parse of the envelope ≥ 20× native on parse-4kb: ${ratio(a)}`);
  }
  if (parse.includes('parse-27kb')) {
    const a = parseRatio('parse-27kb', 'json-envelope');
    out.push(`  ${a >= 40 ? 'met    ' : 'not met'}  JSON.parse of the envelope ≥ 40× native on parse-27kb: ${ratio(a)}`);
  }
  const target = (label, value, ok) => out.push(`  ${ok ? 'met    ' : 'not met'}  ${label}: ${value}`);
  for (const w of ['envelope-2kb', 'envelope-20kb']) {
    const r = ns(w, 'typescript-peer') / ns(w, 'native-envelope');
    if (Number.isFinite(r)) target(`native-envelope ≥ 5× typescript-peer on ${w}`, ratio(r), r >= 5);
  }
  for (const w of workloads) {
    const r = ns(w, 'native-envelope') / ns(w, 'native-batch');
    if (Number.isFinite(r)) target(`native-batch beats native-envelope on ${w}`, `${ratio(r)} (envelope ÷ batch)`, r > 1);
  }
  for (const w of ['typical', 'rules-10000']) {
    const r = ns(w, 'typescript-peer') / ns(w, 'native-compiled');
    if (Number.isFinite(r)) target(`evaluate() with a compiled config ≥ 2× typescript-peer on ${w}`, ratio(r), r >= 2);
  }
  const slower = workloads.filter((w) => ns(w, 'native-compiled') >= ns(w, 'typescript-peer'));
  if (workloads.some((w) => Number.isFinite(ns(w, 'native-compiled')))) {
    target('evaluate() with a compiled config faster than typescript-peer on every workload', slower.length === 0 ? 'all' : `slower on ${slower.join(', ')}`, slower.length === 0);
  }
  if (workloads.includes('rules-10') && workloads.includes('rules-10000')) {
    const r = ns('rules-10000', 'native-envelope') / ns('rules-10', 'native-envelope');
    target('native-envelope at 10,000 rules ≤ 3× its cost at 10 rules', ratio(r), r <= 3);
  }
  for (const p of ['sdk-traces', 'sdk-otel']) {
    const r = ns('head-sampling', p) / ns('head-sampling', 'otel-ratio');
    if (Number.isFinite(r)) target(`${p} per span ≤ 3× otel-ratio (TraceIdRatioBasedSampler)`, `${ratio(r)} (${formatNs(ns('head-sampling', p))} vs ${formatNs(ns('head-sampling', 'otel-ratio'))})`, r <= 3);
  }
  out.push('');
  out.push(`results: bench/results.json (checksum ${sink % 1e9})`);
  out.push('');
  return out.join('\n');
}

module.exports = { table, formatNs, formatBytes };
