// The SDK samplers of dynamic-sampling/sdk, runnable after `npm run build`: node examples/sdk-sampling.js
// (the application side: nothing is sent, the DSN points at a closed port; `npm run demo -- --sdk-sampler` sends).
const Sentry = require('@sentry/node');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
const { createHeadRules, createTracesSampler, createErrorSampler, createOtelSampler } = require('../dist/sdk');

const key = 'e12d836b15bb49d7bbf99e64295d995b'; // shop-frontend in examples/projects.json (health checks 0.1, base rate 0.5)

async function main() {
  // The server's rules, from the same source as the server (here the demo configs file; or
  // `upstream: { url, relayId, secretKey }` / the control plane's `upstream: { url, token }`).
  const rules = createHeadRules({ file: `${__dirname}/projects.json`, fallbackRate: 1 });
  await rules.prefetch([key]);

  // @sentry/node: rules decide at span start; errors sampled per type and tagged like the server does.
  const decided = [];
  const tracesSampler = createTracesSampler({ rules, onDecision: (traceId, name, d) => decided.push(`${name}: ${d.keep ? 'keep' : 'drop'} at ${d.rate} (value ${d.random.toFixed(3)}, rules ${d.ruleIds})`) });
  const errors = createErrorSampler({ rules, exceptionTypes: { AbortError: 0, TypeError: 0.5 } });
  Sentry.init({ dsn: `http://${key}@127.0.0.1:9/43`, traceLifecycle: 'static', tracesSampler, beforeSend: errors.beforeSend, release: 'shop@1.2.0', defaultIntegrations: false });
  for (const name of ['/api/users/{id}', '/health', '/api/search', '/api/orders/{id}', '/health']) {
    Sentry.startNewTrace(() => Sentry.startSpan({ name, op: 'http.server' }, () => undefined));
  }
  console.log('@sentry/node tracesSampler:\n  ' + decided.join('\n  '));

  // OpenTelemetry: ParentBased, attributes mapped to the fields rules read, th/rv in tracestate `ot`.
  const otel = createOtelSampler({ rules, publicKey: key, release: 'shop@1.2.0' });
  const tracer = new BasicTracerProvider({ sampler: otel }).getTracer('example');
  console.log('OpenTelemetry sampler:');
  for (const route of ['/api/users/{id}', '/api/search', '/api/products/{id}']) {
    const span = tracer.startSpan(`GET ${route}`, { attributes: { 'http.route': route, 'deployment.environment.name': 'production' } });
    console.log(`  ${route}: ${span.isRecording() ? `keep, tracestate ${span.spanContext().traceState.serialize()}` : 'drop'}`);
    span.end();
  }

  await Sentry.close(0);
  await rules.close();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
