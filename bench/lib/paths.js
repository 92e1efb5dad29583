'use strict';
// The measured paths. Each returns `{perCall, fn}`: `fn` makes `perCall` decisions on the next
// pre-generated inputs (cycled) and folds every result into a sink, so nothing is optimised away.

const { ROOT_CONTEXT, SpanKind } = require('@opentelemetry/api');
const { TraceIdRatioBasedSampler } = require('@opentelemetry/sdk-trace-base');
const { EnvelopeBatch } = require('../../dist/engine/engine');
const { evaluate } = require('../../dist/engine/evaluate');
const { BENCH_PUBLIC_KEY: KEY, NOW_MS } = require('./constants');

/** Decisions per benchmarked call for the one-envelope-per-call paths. */
const PER_CALL = 32;
/** Envelopes per native batch call. */
const BATCH = 256;

let sink = 0;

const PATHS = {
  /** Native, envelope bytes → decision, one call per envelope. */
  'native-envelope'(w) {
    const { native, envelopes } = w;
    const n = envelopes.length;
    let i = 0;
    return {
      perCall: PER_CALL,
      fn() {
        let s = 0;
        for (let k = 0; k < PER_CALL; k++) {
          s += native.sampleEnvelope(envelopes[i], KEY);
          if (++i === n) i = 0;
        }
        sink += s;
      },
    };
  },

  /** Native, a batch of envelopes per call: filling the batch (a copy) included. */
  'native-batch'(w) {
    const { native, envelopes } = w;
    const n = envelopes.length;
    const largest = envelopes.reduce((m, b) => Math.max(m, b.length), 0);
    const batch = new EnvelopeBatch(BATCH, 16, largest * BATCH);
    let i = 0;
    return {
      perCall: BATCH,
      fn() {
        batch.clear();
        for (let k = 0; k < BATCH; k++) {
          batch.add(envelopes[i], KEY);
          if (++i === n) i = 0;
        }
        native.sampleEnvelopes(batch);
        let s = 0;
        for (let k = 0; k < BATCH; k++) s += batch.decisionCode(k);
        sink += s;
      },
    };
  },

  /** Native, the convenient API with JS objects (`evaluate`: configs, DSC and event per call). */
  'native-objects'(w) {
    const { config, objects } = w;
    const n = objects.length;
    let i = 0;
    return {
      perCall: 1,
      fn() {
        const o = objects[i];
        if (++i === n) i = 0;
        const result = evaluate({ config, rootConfig: config, dsc: o.dsc, event: o.event, now: NOW_MS, itemType: o.itemType });
        sink += result.decision.length;
      },
    };
  },

  /**
   * Native, the convenient API with compiled configs (`compileSamplingConfig`, once) and the DSC
   * and the event as the JSON bytes the envelope carried: numbers cross the boundary.
   */
  'native-compiled'(w) {
    const { compiled, objects } = w;
    const n = objects.length;
    let i = 0;
    return {
      perCall: PER_CALL,
      fn() {
        let s = 0;
        for (let k = 0; k < PER_CALL; k++) {
          const o = objects[i];
          if (++i === n) i = 0;
          const result = evaluate({ config: compiled, rootConfig: compiled, dsc: o.dscBytes, event: o.eventBytes, now: NOW_MS, itemType: o.itemType });
          s += result.decision.length;
        }
        sink += s;
      },
    };
  },

  /** The pure-TypeScript peer: the same envelope Buffer, JSON.parse, the same rules. */
  'typescript-peer'(w) {
    const { peer, envelopes } = w;
    const n = envelopes.length;
    let i = 0;
    return {
      perCall: PER_CALL,
      fn() {
        let s = 0;
        for (let k = 0; k < PER_CALL; k++) {
          s += peer.sampleEnvelope(envelopes[i], KEY);
          if (++i === n) i = 0;
        }
        sink += s;
      },
    };
  },

  /** OpenTelemetry's ratio sampler on the trace id: no rules at all. */
  'otel-ratio'(w) {
    const { traceIds, names } = w;
    const sampler = new TraceIdRatioBasedSampler(0.25);
    const attributes = { 'http.request.method': 'GET' };
    const n = traceIds.length;
    let i = 0;
    return {
      perCall: PER_CALL,
      fn() {
        let s = 0;
        for (let k = 0; k < PER_CALL; k++) {
          s += sampler.shouldSample(ROOT_CONTEXT, traceIds[i], names[i], SpanKind.SERVER, attributes, []).decision;
          if (++i === n) i = 0;
        }
        sink += s;
      },
    };
  },

  /** An empty native call with the fast path's arguments: the boundary's floor. */
  'native-noop'(w) {
    const { native, envelopes } = w;
    const n = envelopes.length;
    let i = 0;
    return {
      perCall: PER_CALL,
      fn() {
        let s = 0;
        for (let k = 0; k < PER_CALL; k++) {
          s += native.noop(envelopes[i]);
          if (++i === n) i = 0;
        }
        sink += s;
      },
    };
  },
};

function readSink() {
  return sink;
}

module.exports = { PATHS, PER_CALL, BATCH, readSink };
