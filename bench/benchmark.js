'use strict';
// The benchmark suite: decisions per second and ns per decision of the native engine (envelope
// bytes, batches, evaluate() with compiled configs and with objects, the empty call) against a pure-TypeScript peer with the same
// semantics and OpenTelemetry's ratio sampler, on generated configs and traffic and on envelopes
// captured from the real @sentry/node SDK. Also: cost per decision as rules grow, compile time per
// config, memory per 1,000 compiled configs. Release build only (`npm run build` first).
//
//   npm run bench                  full run (about 4-5 minutes on 2 cores)
//   BENCH_QUICK=1 npm run bench    CI smoke run (under a minute)
//   BENCH_ONLY=rules npm run bench only the workloads (and compile configs) whose name contains "rules"
//   BENCH_ONLY=head npm run bench  only the per-span cost of the SDK samplers (head-sampling)
//
// Prints a table on stdout (progress on stderr) and writes bench/results.json.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const QUICK = ['1', 'true', 'yes'].includes(String(process.env.BENCH_QUICK ?? '').toLowerCase());
const ONLY = process.env.BENCH_ONLY ?? '';
const log = (line) => process.stderr.write(`${line}\n`);

function preflight() {
  const root = path.join(__dirname, '..');
  const addon = path.join(root, 'sampling.linux-x64-gnu.node');
  if (!fs.existsSync(path.join(root, 'dist', 'engine', 'engine.js')) || !fs.existsSync(addon)) {
    throw new Error('the release build is missing: run `npm run build` first');
  }
  // A release build is stripped and a few MB; a debug build is tens of MB.
  const size = fs.statSync(addon).size;
  if (size > 8 * 1024 * 1024) log(`warning: ${path.basename(addon)} is ${(size / 1048576).toFixed(0)} MB: is it a debug build?`);
}

preflight();

const { EnvelopeBatch, SamplingEngine, OUT } = require('../dist/engine/engine');
const { evaluate } = require('../dist/engine/evaluate');
const { compileSamplingConfig } = require('../dist/engine/compiled-config');
const { BENCH_ORGANIZATION_ID, BENCH_PROJECT_ID, BENCH_PUBLIC_KEY: KEY, NOW_MS } = require('./lib/constants');
const { loadEnvelopes } = require('./lib/fixtures');
const { measure, settings } = require('./lib/measure');
const { runParseRatios } = require('./lib/parse-ratios');
const { loadPeer } = require('./lib/peer');
const { PATHS, BATCH, PER_CALL, readSink } = require('./lib/paths');
const { demoEnvelopes, generatedConfig, rulesConfig } = require('./lib/workloads');
const report = require('./lib/report');
const { runHeadSampling } = require('./lib/head-sampling');

const INFO = { projectId: BENCH_PROJECT_ID, organizationId: BENCH_ORGANIZATION_ID };
const ALL_PATHS = ['native-envelope', 'native-batch', 'native-compiled', 'native-objects', 'typescript-peer', 'otel-ratio', 'native-noop'];
const RULE_PATHS = ['native-envelope', 'native-batch', 'native-compiled', 'native-objects', 'typescript-peer'];

/**
 * What the object API is given: the envelope's DSC and event as JS objects (`native-objects`), and
 * as JSON bytes (`native-compiled`: the event payload as the envelope carried it).
 */
function toObjects(envelope) {
  const lines = envelope.toString('utf8').split('\n');
  const header = JSON.parse(lines[0]);
  let event = null;
  let eventBytes = null;
  let itemType = 'transaction';
  for (let i = 1; i + 1 < lines.length; i += 2) {
    const item = JSON.parse(lines[i]);
    if (item.type === 'transaction' && event === null) {
      event = JSON.parse(lines[i + 1]);
      eventBytes = Buffer.from(lines[i + 1], 'utf8');
    }
    if (item.type === 'span') itemType = 'span';
  }
  if (event !== null) itemType = 'transaction';
  const dsc = header.trace ?? null;
  return { dsc, event, itemType, dscBytes: dsc === null ? null : Buffer.from(JSON.stringify(dsc), 'utf8'), eventBytes };
}

function prepare(name, config, envelopes, paths, Peer) {
  const configJson = JSON.stringify(config);
  const native = new SamplingEngine();
  native.putProject(KEY, INFO, configJson);
  native.setNow(NOW_MS);
  const peer = new Peer.PeerEngine();
  peer.putProject(KEY, INFO, configJson);
  peer.setNow(NOW_MS);
  const objects = envelopes.map(toObjects);
  return {
    name,
    config,
    compiled: compileSamplingConfig(configJson),
    configJson,
    rules: config.rules.length,
    envelopes,
    paths,
    native,
    peer,
    objects,
    traceIds: objects.map((o) => o.dsc.trace_id),
    names: objects.map((o) => o.dsc.transaction ?? 'unnamed'),
    averageBytes: Math.round(envelopes.reduce((n, b) => n + b.length, 0) / envelopes.length),
  };
}

const sameRate = (a, b) => a === b || (Number.isNaN(a) && Number.isNaN(b)) || (a === null && Number.isNaN(b));
/** Rates equal but for the last bits (a config number parsed with different rounding). */
const closeRate = (a, b) => Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));

/**
 * Checks that every path decides the same before timing them: decision codes and matched rule
 * ids must agree exactly; sample rates that differ only in the last bits are counted apart.
 * Returns the number of disagreements.
 */
function crossCheck(w) {
  const { native, peer, envelopes } = w;
  let peerMismatches = 0;
  let rateUlps = 0;
  let objectMismatches = 0;
  let compiledMismatches = 0;
  const decisions = [];
  const counts = [0, 0, 0];
  // The object API serialises the event per call (the compiled path is checked on every envelope).
  const objectChecks = Math.min(envelopes.length, 32);
  for (let i = 0; i < envelopes.length; i++) {
    const code = native.sampleEnvelope(envelopes[i], KEY);
    const rate = native.result[OUT.sampleRate];
    const ids = Array.from(native.matchedRuleIds.subarray(0, native.result[OUT.matchedCount]));
    decisions.push(code);
    if (code >= 0) counts[code]++;
    const peerCode = peer.sampleEnvelope(envelopes[i], KEY);
    const same = peerCode === code && peer.matchedRuleIds.join() === ids.join();
    if (same && !sameRate(peer.sampleRate, rate) && closeRate(peer.sampleRate, rate)) rateUlps++;
    else if (!same || !sameRate(peer.sampleRate, rate)) {
      peerMismatches++;
      if (peerMismatches <= 3) {
        log(`  ${w.name}: peer disagrees on envelope ${i}: native ${code} ${rate} [${ids}], peer ${peerCode} ${peer.sampleRate} [${peer.matchedRuleIds}]`);
      }
    }
    const o = w.objects[i];
    const c = evaluate({ config: w.compiled, rootConfig: w.compiled, dsc: o.dscBytes, event: o.eventBytes, now: NOW_MS, itemType: o.itemType });
    if (['keep', 'drop', 'noMatch'][code] !== c.decision || !sameRate(c.sampleRate, rate) || c.matchedRuleIds.join() !== ids.join()) {
      compiledMismatches++;
    }
    if (i < objectChecks) {
      const r = evaluate({ config: w.config, rootConfig: w.config, dsc: o.dsc, event: o.event, now: NOW_MS, itemType: o.itemType });
      if (['keep', 'drop', 'noMatch'][code] !== r.decision || !sameRate(r.sampleRate, rate)) objectMismatches++;
    }
  }
  // The batch path on the same envelopes.
  const batch = new EnvelopeBatch(BATCH, 16, 64 << 20);
  let batchMismatches = 0;
  for (let start = 0; start < envelopes.length; start += BATCH) {
    batch.clear();
    const end = Math.min(start + BATCH, envelopes.length);
    for (let i = start; i < end; i++) batch.add(envelopes[i], KEY);
    native.sampleEnvelopes(batch);
    for (let i = start; i < end; i++) if (batch.decisionCode(i - start) !== decisions[i]) batchMismatches++;
  }
  const total = envelopes.length;
  log(
    `  ${w.name}: ${total} envelopes, ${w.rules} rules, ~${w.averageBytes} B; keep/drop/noMatch ${counts.join('/')}; ` +
      `same decisions as native-envelope: peer ${total - peerMismatches}/${total}, batch ${total - batchMismatches}/${total}, ` +
      `compiled ${total - compiledMismatches}/${total}, objects ${objectChecks - objectMismatches}/${objectChecks}`,
  );
  if (rateUlps > 0) log(`    (${rateUlps} peer sample rates differ from native in the last bits only: config numbers are rounded differently)`);
  w.rateUlps = rateUlps;
  return peerMismatches + batchMismatches + compiledMismatches + objectMismatches;
}

function runWorkload(w, options, rows) {
  for (const pathName of w.paths) {
    const { perCall, fn } = PATHS[pathName](w);
    fn(); // first call outside the timing (lazy initialisation)
    const m = measure(`${w.name} ${pathName}`, fn, perCall, options);
    rows.push({ workload: w.name, path: pathName, decisionsPerSec: m.decisionsPerSec, nsPerDecision: m.nsPerDecision, rme: m.rme });
    log(`  ${w.name.padEnd(15)} ${pathName.padEnd(16)} ${report.formatNs(m.nsPerDecision).padStart(10)}/decision  ±${m.rme.toFixed(1)}%  (${m.samples} samples)`);
  }
}

/** putProject of a config given as JSON text (as fetched from upstream): native and peer. */
function runCompile(configs, options, Peer, rows) {
  const compileOptions = { ...options, minSamples: Math.min(options.minSamples, 10) };
  for (const [name, config] of configs) {
    const json = JSON.stringify(config);
    const native = new SamplingEngine();
    const peer = new Peer.PeerEngine();
    const engines = [
      ['native', () => native.putProject(KEY, INFO, json)],
      ['typescript-peer', () => peer.putProject(KEY, INFO, json)],
    ];
    for (const [pathName, fn] of engines) {
      fn();
      const m = measure(`compile ${name} ${pathName}`, fn, 1, compileOptions);
      rows.push({
        workload: 'compile',
        path: pathName,
        config: name,
        rules: config.rules.length,
        compilesPerSec: m.decisionsPerSec,
        nsPerCompile: m.nsPerDecision,
        rme: m.rme,
      });
      log(`  compile ${name.padEnd(12)} ${pathName.padEnd(16)} ${report.formatNs(m.nsPerDecision).padStart(10)}/config  ±${m.rme.toFixed(1)}%`);
    }
  }
}

/** Memory per N compiled configs, each engine in a fresh process with --expose-gc. */
function runMemory(projects, rows) {
  for (const pathName of ['native', 'typescript-peer']) {
    const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'lib', 'memory-probe.js'), pathName, String(projects)], {
      encoding: 'utf8',
    });
    const m = JSON.parse(out.trim());
    rows.push({ workload: 'memory', path: pathName, projects, rssBytes: m.rssBytes, heapBytes: m.heapBytes });
    log(`  memory ${pathName.padEnd(16)} ${projects} configs: RSS ${report.formatBytes(m.rssBytes)}, heap ${report.formatBytes(m.heapBytes)}`);
  }
}

async function main() {
  const started = Date.now();
  const options = settings(QUICK);
  log(`dynamic-sampling benchmark (${QUICK ? 'quick' : 'full'} run): node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`);
  const Peer = loadPeer(log);
  const { envelopes: captured } = await loadEnvelopes(log);

  const typical = generatedConfig({ named: 20 });
  const demo = demoEnvelopes(4096);
  const workloads = [
    ['typical', () => prepare('typical', typical, demo, ALL_PATHS, Peer)],
    ['envelope-2kb', () => prepare('envelope-2kb', typical, captured['tx-2kb'], ALL_PATHS, Peer)],
    ['envelope-20kb', () => prepare('envelope-20kb', typical, captured['tx-20kb'], ALL_PATHS, Peer)],
    ['envelope-spans', () => prepare('envelope-spans', typical, captured.spans, ALL_PATHS, Peer)],
    ...[10, 100, 1000, 10000].map((n) => {
      return [`rules-${n}`, () => prepare(`rules-${n}`, rulesConfig(n), captured['tx-2kb'], RULE_PATHS, Peer)];
    }),
  ].filter(([name]) => name.includes(ONLY));

  const rows = [];
  let mismatches = 0;
  log(`\nmeasuring (maxTime ${options.maxTime} s, minSamples ${options.minSamples}; ${PER_CALL} decisions per call, batches of ${BATCH}):`);
  for (const [, make] of workloads) {
    const w = make();
    mismatches += crossCheck(w);
    runWorkload(w, options, rows);
  }

  if (ONLY === '' || 'head-sampling'.includes(ONLY)) {
    log('\nhead sampling in the application, per span (dynamic-sampling/sdk):');
    await runHeadSampling(options, rows, log);
  }
  if (ONLY === '' || 'parse'.includes(ONLY)) {
    log('\nJSON.parse in JavaScript against the native decision, @sentry/node transactions, demo config:');
    rows.push(...runParseRatios(captured, ['tx-4kb', 'tx-27kb'], options, log));
  }

  log('\ncompile time per config (putProject with the config as JSON text):');
  const compileConfigs = [['typical', typical], ...[10, 100, 1000, 10000].map((n) => [`rules-${n}`, rulesConfig(n)])];
  runCompile(compileConfigs.filter(([name]) => name.includes(ONLY)), options, Peer, rows);

  if (ONLY === '' || 'memory'.includes(ONLY)) {
    log('\nmemory per 1,000 compiled project configs (fresh processes):');
    runMemory(1000, rows);
  }

  const results = rows;
  const file = path.join(__dirname, 'results.json');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(results, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);

  process.stdout.write(report.table(results, { quick: QUICK, seconds: (Date.now() - started) / 1000, sink: readSink() }));
  if (mismatches > 0) {
    log(`\n${mismatches} decisions differ between the paths (see above): the figures compare different work.`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
