// The README's quick example, runnable after `npm run build`: node examples/quick-start.js
// (inside this repository `require('dynamic-sampling')` resolves to the package itself).
const { SamplingEngine, evaluate, compileSamplingConfig, DROP, OUT } = require('dynamic-sampling');

const key = 'abd0f232775f45feab79864e580d160b';
const engine = new SamplingEngine();
engine.putProject(key, { projectId: 42, organizationId: 1 }, {
  version: 2,
  rules: [
    { id: 1002, type: 'transaction', condition: { op: 'glob', name: 'event.transaction', value: ['*health*'] },
      samplingValue: { type: 'sampleRate', value: 0.02 } },
    { id: 1000, type: 'trace', condition: { op: 'and', inner: [] },
      samplingValue: { type: 'sampleRate', value: 0.25 } },
  ],
});

// A streamed-span envelope as current SDKs send it: the DSC in the header, a span v2 container.
const envelope = Buffer.from([
  JSON.stringify({ trace: { trace_id: '67e5504410b1426f9247bb680e5fe0c8', public_key: key, transaction: '/checkout' } }),
  JSON.stringify({ type: 'span', item_count: 1, content_type: 'application/vnd.sentry.items.span.v2+json' }),
  JSON.stringify({ items: [{ trace_id: '67e5504410b1426f9247bb680e5fe0c8', span_id: '0123456789abcdef', is_segment: true, name: '/checkout' }] }),
].join('\n'));

// Hot path: raw bytes in, a number out; details in reused typed arrays.
const code = engine.sampleEnvelope(envelope, key);
const rules = Array.from(engine.matchedRuleIds.subarray(0, engine.result[OUT.matchedCount]));
console.log(code === DROP ? 'drop' : 'keep', 'at rate', engine.result[OUT.sampleRate], 'rules', rules);
// → drop at rate 0.25 rules [ 1000 ]   (this trace's random value is 0.8117…)

// One item at a time: a config compiled once (a bad config throws SamplingConfigError with its
// path), the DSC and event as objects, JSON text or bytes.
const half = compileSamplingConfig({ version: 2, rules: [{ id: 1000, type: 'trace', condition: { op: 'and', inner: [] },
                                                           samplingValue: { type: 'sampleRate', value: 0.5 } }] });
console.log(evaluate({
  rootConfig: half,
  dsc: { trace_id: '89143b0763095bd9c9955e8175d1fb23', public_key: key },
  now: '2024-01-01T00:00:00Z',
}));
// → { decision: 'keep', sampleRate: 0.5, matchedRuleIds: [ 1000 ], randomValue: 0.0460…, stage: 'trace', notes: [], outcomeReason: null }
