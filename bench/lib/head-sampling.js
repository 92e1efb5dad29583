'use strict';
// Per-span cost of head sampling in the application: the `tracesSampler` for @sentry/node and the
// OpenTelemetry sampler of `dynamic-sampling/sdk`, with the demo project's rules
// (examples/projects.json), next to OpenTelemetry's TraceIdRatioBasedSampler on the same spans.

const path = require('node:path');

const { ROOT_CONTEXT, SpanKind } = require('@opentelemetry/api');
const { TraceIdRatioBasedSampler } = require('@opentelemetry/sdk-trace-base');
const { TrafficGenerator } = require('../../dist/demo/traffic');
const { TRAFFIC } = require('./constants');
const { measure } = require('./measure');
const { PER_CALL } = require('./paths');

const DEMO_FILE = path.join(__dirname, '..', '..', 'examples', 'projects.json');
const DEMO_KEY = 'abd0f232775f45feab79864e580d160b';
const SPANS = 4096;

let sink = 0;

function spans() {
  const traffic = new TrafficGenerator({ ...TRAFFIC, seed: TRAFFIC.seed + 3 });
  const out = [];
  for (let i = 0; i < SPANS; i++) {
    const t = traffic.next();
    out.push({
      traceId: t.traceId,
      name: t.transaction,
      sentryContext: { name: t.transaction, attributes: { 'sentry.op': 'http.server', 'sentry.segment.name.source': 'route' } },
      otelAttributes: { 'http.route': t.transaction, 'http.request.method': 'GET', 'deployment.environment.name': t.environment, 'service.version': t.release },
    });
  }
  return out;
}

/** Cycles the spans through `decide`, PER_CALL per benchmarked call. */
function loop(inputs, decide) {
  const n = inputs.length;
  let i = 0;
  return () => {
    let s = 0;
    for (let k = 0; k < PER_CALL; k++) {
      s += decide(inputs[i]);
      if (++i === n) i = 0;
    }
    sink += s;
  };
}

async function runHeadSampling(options, rows, log) {
  const Sentry = require('@sentry/node');
  const sdk = require('../../dist/sdk');
  const inputs = spans();
  // The demo config holds a reservoir rule, which the server accepts with its reservoir option.
  const rules = sdk.createHeadRules({ file: DEMO_FILE, reservoir: true, outcomeTtl: 60_000 });
  await rules.prefetch([DEMO_KEY]);
  Sentry.init({ dsn: `http://${DEMO_KEY}@127.0.0.1:9/42`, defaultIntegrations: false, release: 'shop@1.2.0', environment: 'production', traceLifecycle: 'static' });
  const scope = Sentry.getCurrentScope();
  const tracesSampler = sdk.createTracesSampler({ rules });
  const otelSampler = sdk.createOtelSampler({ publicKey: DEMO_KEY, rules });
  const ratio = new TraceIdRatioBasedSampler(0.25);
  const paths = {
    'otel-ratio': (s) => ratio.shouldSample(ROOT_CONTEXT, s.traceId, s.name, SpanKind.SERVER, s.otelAttributes, []).decision,
    // The trace id reaches the sampler through the scope, as for a request the SDK continues.
    'sdk-traces': (s) => {
      scope.setPropagationContext({ traceId: s.traceId, sampleRand: 0.5 });
      return tracesSampler(s.sentryContext);
    },
    'sdk-otel': (s) => otelSampler.shouldSample(ROOT_CONTEXT, s.traceId, s.name, SpanKind.SERVER, s.otelAttributes, []).decision,
  };
  const kept = {};
  for (const [name, decide] of Object.entries(paths)) kept[name] = inputs.reduce((n, s) => n + (decide(s) > 0 ? 1 : 0), 0);
  log(`  head-sampling: ${SPANS} spans, demo rules; kept: sdk-traces ${kept['sdk-traces']}, sdk-otel ${kept['sdk-otel']}, otel-ratio (0.25) ${kept['otel-ratio']}`);
  for (const [name, decide] of Object.entries(paths)) {
    const fn = loop(inputs, decide);
    fn();
    const m = measure(`head-sampling ${name}`, fn, PER_CALL, options);
    rows.push({ workload: 'head-sampling', path: name, decisionsPerSec: m.decisionsPerSec, nsPerDecision: m.nsPerDecision, rme: m.rme });
    log(`  head-sampling   ${name.padEnd(16)} ${m.nsPerDecision.toFixed(0).padStart(7)} ns/span  ±${m.rme.toFixed(1)}%  (${m.samples} samples)`);
  }
  await Sentry.close(0);
  await rules.close();
  return sink;
}

module.exports = { runHeadSampling };
