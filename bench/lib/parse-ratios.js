'use strict';
// What reading an envelope costs in JavaScript against the native engine's whole decision (plan
// included), on @sentry/node transactions with the demo organisation's config: `JSON.parse` of the
// header line alone, and of every line (header, item headers, payloads) as a server reading the
// envelope in JS would.

const fs = require('node:fs');
const path = require('node:path');

const { SamplingEngine } = require('../../dist/engine/engine');
const { BENCH_ORGANIZATION_ID, BENCH_PROJECT_ID, BENCH_PUBLIC_KEY: KEY, NOW_MS } = require('./constants');
const { measure } = require('./measure');

const PER_CALL = 32;

/** The demo organisation's config for the bench key (what `npm start` serves for shop-backend). */
function demoConfig() {
  const file = path.join(__dirname, '..', '..', 'examples', 'projects.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).configs[KEY].config.sampling;
}

function headerOnly(envelope) {
  const end = envelope.indexOf(10);
  return JSON.parse(envelope.toString('utf8', 0, end < 0 ? envelope.length : end));
}

/** Every line parsed, as the server's TypeScript did before the engine planned envelopes. */
function wholeEnvelope(envelope) {
  let n = 0;
  let at = 0;
  while (at < envelope.length) {
    let end = envelope.indexOf(10, at);
    if (end < 0) end = envelope.length;
    if (end > at) n += JSON.parse(envelope.toString('utf8', at, end)) === null ? 0 : 1;
    at = end + 1;
  }
  return n;
}

/** Rows `{workload: 'parse-<kind>', path, nsPerDecision, ...}` for json-header, json-envelope and native-envelope. */
function runParseRatios(captured, kinds, options, log) {
  // The demo config holds an investigation (reservoir) rule.
  const engine = new SamplingEngine({ reservoir: true });
  engine.putProject(KEY, { projectId: BENCH_PROJECT_ID, organizationId: BENCH_ORGANIZATION_ID }, demoConfig());
  engine.setNow(NOW_MS);
  const rows = [];
  for (const kind of kinds) {
    const envelopes = captured[kind];
    const workload = `parse-${kind.replace(/^tx-/, '')}`;
    let i = 0;
    let sink = 0;
    const paths = {
      'json-header': () => {
        for (let k = 0; k < PER_CALL; k++) sink += headerOnly(envelopes[i++ % envelopes.length]).event_id.length;
      },
      'json-envelope': () => {
        for (let k = 0; k < PER_CALL; k++) sink += wholeEnvelope(envelopes[i++ % envelopes.length]);
      },
      'native-envelope': () => {
        for (let k = 0; k < PER_CALL; k++) sink += engine.sampleEnvelope(envelopes[i++ % envelopes.length], KEY);
      },
    };
    for (const [name, fn] of Object.entries(paths)) {
      fn();
      const m = measure(`${workload} ${name}`, fn, PER_CALL, options);
      rows.push({ workload, path: name, decisionsPerSec: m.decisionsPerSec, nsPerDecision: m.nsPerDecision, rme: m.rme });
      log(`  ${workload.padEnd(15)} ${name.padEnd(16)} ${(m.nsPerDecision / 1000).toFixed(2).padStart(8)} µs  ±${m.rme.toFixed(1)}%`);
    }
    if (sink === -1) log('');
  }
  return rows;
}

module.exports = { runParseRatios };
