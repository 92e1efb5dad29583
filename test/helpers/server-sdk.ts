// End-to-end scenario with the real @sentry/node SDK sending to the server: what it sent, what the server decided and forwarded.

import http from 'node:http';
import { gunzipSync } from 'node:zlib';

import * as Sentry from '@sentry/node';

import type { SamplingConfigJson } from '../../src/engine/types';
import type { EnvelopeObservation } from '../../src/server/options';
import { parseEnvelope, sampleRate, startTestServer, waitFor, type TestProject, type TestServer } from './server';

export const OWN_KEY = 'abd0f232775f45feab79864e580d160b';
export const ROOT_KEY = 'e12d836b15bb49d7bbf99e64295d995b';
/** A project of another organisation: as a trace root it counts as unknown. */
export const FOREIGN_KEY = '0c5b3c9f0b8e4a1e9a0d2f6d1c7e8b9a';
/** A key no config knows. */
export const UNKNOWN_KEY = '9f1e3c2b4a5968778695a4b3c2d1e0f1';

export const OWN_CONFIG: SamplingConfigJson = {
  version: 2,
  rules: [
    sampleRate(1, 'transaction', 0.02, { op: 'glob', name: 'event.transaction', value: ['*health*'] }),
    { id: 2, type: 'transaction', condition: { op: 'eq', name: 'event.transaction', value: ['/api/orders'] }, samplingValue: { type: 'factor', value: 0.5 } },
    sampleRate(3, 'project', 0.9, { op: 'eq', name: 'trace.environment', value: ['staging'] }),
    sampleRate(5, 'trace', 1, { op: 'glob', name: 'trace.environment', value: ['*dev*'] }),
    sampleRate(6, 'trace', 0.5),
  ],
};

export const ROOT_CONFIG: SamplingConfigJson = {
  version: 2,
  rules: [
    { id: 10, type: 'trace', condition: { op: 'eq', name: 'trace.release', value: ['shop@2.0.0'] }, samplingValue: { type: 'factor', value: 1.5 } },
    sampleRate(11, 'trace', 0.4),
  ],
};

export const PROJECTS: TestProject[] = [
  { publicKey: OWN_KEY, projectId: 1, organizationId: 1, sampling: OWN_CONFIG },
  { publicKey: ROOT_KEY, projectId: 2, organizationId: 1, sampling: ROOT_CONFIG },
  { publicKey: FOREIGN_KEY, projectId: 3, organizationId: 2, sampling: { version: 2, rules: [sampleRate(20, 'trace', 0)] } },
];

/** Config and "known" flag of the project a DSC's public key names, as the server resolves it for project 1. */
export function rootFor(publicKey: string | undefined): { rootConfig: SamplingConfigJson | null; rootProjectKnown: boolean } {
  if (publicKey === OWN_KEY) return { rootConfig: OWN_CONFIG, rootProjectKnown: true };
  if (publicKey === ROOT_KEY) return { rootConfig: ROOT_CONFIG, rootProjectKnown: true };
  return { rootConfig: null, rootProjectKnown: false };
}

/** Deterministic 32-hex ids. */
export function hexId(seed: number, width = 32): string {
  let out = '';
  let x = (seed * 2654435761) >>> 0 || 1;
  while (out.length < width) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out += x.toString(16).padStart(8, '0');
  }
  return out.slice(0, width);
}

export interface SdkRun {
  test: TestServer;
  /** Bodies the SDK wrote on the wire, decompressed. */
  sent: Buffer[];
  /** Bodies sent gzip-compressed by the SDK. */
  gzipped: number;
  observed: EnvelopeObservation[];
  /** Trace ids of traces that captured an error. */
  errorTraces: Set<string>;
}

/** An http module for the SDK transport that records every request body as written. */
function recordingHttp(sent: Buffer[], counters: { gzipped: number }): typeof http {
  const wrapped = {
    ...http,
    request(...args: Parameters<typeof http.request>) {
      const req = (http.request as (...a: unknown[]) => http.ClientRequest)(...args);
      const options = args[0] as http.RequestOptions;
      const chunks: Buffer[] = [];
      const write = req.write.bind(req) as (...a: unknown[]) => boolean;
      const end = req.end.bind(req) as (...a: unknown[]) => http.ClientRequest;
      req.write = ((chunk: unknown, ...rest: unknown[]) => {
        chunks.push(Buffer.from(chunk as Uint8Array));
        return write(chunk, ...rest);
      }) as typeof req.write;
      req.end = ((chunk?: unknown, ...rest: unknown[]) => {
        if (chunk !== undefined && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as Uint8Array));
        const raw = Buffer.concat(chunks);
        const gzip = (options.headers as Record<string, string> | undefined)?.['content-encoding'] === 'gzip';
        if (gzip) counters.gzipped++;
        sent.push(gzip ? gunzipSync(raw) : raw);
        return end(chunk, ...rest);
      }) as typeof req.end;
      return req;
    },
  };
  return wrapped as unknown as typeof http;
}

interface TraceSpec {
  traceId: string;
  name: string;
  /** DSC fields the incoming request carries (baggage); null: no baggage, the SDK makes the DSC. */
  baggage: { publicKey: string; release: string; environment: string } | null;
  error: boolean;
  children: number;
}

export function traceSpecs(count: number): TraceSpec[] {
  const names = ['/api/users', '/api/orders', '/healthz', '/checkout', '/api/search'];
  const envs = ['production', 'staging', 'development'];
  const releases = ['shop@1.0.0', 'shop@2.0.0'];
  const roots = [OWN_KEY, ROOT_KEY, FOREIGN_KEY, UNKNOWN_KEY];
  const specs: TraceSpec[] = [];
  for (let i = 0; i < count; i++) {
    specs.push({
      traceId: hexId(i + 1),
      name: names[i % names.length],
      baggage: i % 7 === 6 ? null : { publicKey: roots[i % roots.length], release: releases[(i >> 1) % 2], environment: envs[(i >> 2) % 3] },
      error: i % 4 === 0,
      // One large transaction, to make the SDK gzip its body (over 32 KiB).
      children: i === 3 ? 400 : 1 + (i % 3),
    });
  }
  return specs;
}

function baggageHeader(spec: TraceSpec): string | undefined {
  if (spec.baggage === null) return undefined;
  const b = spec.baggage;
  return [
    `sentry-trace_id=${spec.traceId}`,
    `sentry-public_key=${b.publicKey}`,
    `sentry-release=${encodeURIComponent(b.release)}`,
    `sentry-environment=${b.environment}`,
    `sentry-transaction=${encodeURIComponent(spec.name)}`,
    'sentry-sample_rate=1',
    'sentry-sampled=true',
  ].join(',');
}

/** Sends the traces (and errors) with the SDK in the given lifecycle; resolves when the server has answered every request. */
export async function runSdk(lifecycle: 'stream' | 'static', specs: readonly TraceSpec[]): Promise<SdkRun> {
  const observed: EnvelopeObservation[] = [];
  const test = await startTestServer(PROJECTS, { onEnvelope: (o) => observed.push(o) });
  const sent: Buffer[] = [];
  const counters = { gzipped: 0 };
  const errorTraces = new Set<string>();
  Sentry.init({
    dsn: test.server.dsn(OWN_KEY, 1),
    tracesSampleRate: 1,
    traceLifecycle: lifecycle,
    defaultIntegrations: false,
    release: 'shop@1.0.0',
    environment: 'production',
    transport: (options) => Sentry.makeNodeTransport({ ...options, httpModule: recordingHttp(sent, counters) }),
  });
  for (const spec of specs) {
    await Sentry.continueTrace({ sentryTrace: `${spec.traceId}-${spec.traceId.slice(0, 16)}-1`, baggage: baggageHeader(spec) }, () =>
      Sentry.startSpan({ name: spec.name, op: 'http.server', forceTransaction: true }, async () => {
        for (let c = 0; c < spec.children; c++) Sentry.startSpan({ name: `db.query ${c}`, op: 'db' }, () => undefined);
        if (spec.error) {
          Sentry.captureException(new Error(`boom in ${spec.name}`));
          errorTraces.add(spec.traceId);
        }
      }),
    );
  }
  // An error outside any trace we started: its DSC carries no sampled flag (no tag).
  Sentry.captureException(new Error('no trace'));
  await Sentry.flush(10_000);
  const answered = (): number => Object.values(test.server.stats.snapshot().responses).reduce((a, b) => a + b, 0);
  await waitFor(() => answered() >= sent.length, 15_000, 'the server to answer every SDK request');
  await Sentry.close(5000);
  return { test, sent, gzipped: counters.gzipped, observed, errorTraces };
}

export interface RunSummary {
  kept: number;
  dropped: number;
  errors: number;
  tagged: number;
  /** Span v2 containers Relay rejects before sampling (here: sent without a DSC). */
  rejected: number;
}

/** Asserts what every end-to-end run must hold, whatever the lifecycle. */
export function verifyRun(run: SdkRun, sampledKind: 'spans' | 'transaction', expect: typeof import('vitest').expect, evaluate: typeof import('../../src/engine/evaluate').evaluate, isTraceFullySampled: typeof import('../../src/engine/evaluate').isTraceFullySampled): RunSummary {
  const { test, sent, observed } = run;
  const snapshot = test.server.stats.snapshot();
  expect(snapshot.responses).toEqual({ 200: sent.length });

  // The server received exactly what the SDK wrote (after decompression).
  const b64 = (b: Buffer): string => b.toString('base64');
  expect(observed.map((o) => b64(o.body)).sort()).toEqual(sent.map(b64).sort());

  const records = test.kept();
  const inSink = new Map<string, number>();
  for (const r of records) inSink.set(r.envelope, (inSink.get(r.envelope) ?? 0) + 1);
  const summary: RunSummary = { kept: 0, dropped: 0, errors: 0, tagged: 0, rejected: 0 };

  for (const o of observed) {
    const { header, items } = parseEnvelope(o.body);
    const types = items.map((i) => i.header.type as string);
    const dsc = header.trace as Record<string, any> | undefined;
    const root = rootFor(dsc?.public_key);
    const v2 = items.some((i) => i.header.type === 'span' && i.header.content_type === 'application/vnd.sentry.items.span.v2+json');
    if (v2 && !types.includes('transaction') && dsc === undefined) {
      // Relay rejects a span v2 container without a DSC (missing_dsc): an outcome, not a sampling drop.
      expect(o.decision).toMatchObject({ kind: 'spans', spanRejection: 'missingDsc', decision: 'noMatch' });
      expect(o.forwarded).toBeNull();
      summary.rejected++;
    } else if (types.includes('transaction') || types.includes('span')) {
      expect(o.decision.kind).toBe(sampledKind);
      const event = types.includes('transaction') ? JSON.parse(items[types.indexOf('transaction')].payload.toString('utf8')) : null;
      const expected = evaluate({ config: OWN_CONFIG, ...root, dsc: dsc ?? null, event, itemType: event ? 'transaction' : 'span', now: new Date() });
      expect({ decision: o.decision.decision, ids: o.decision.matchedRuleIds, rate: o.decision.sampleRate }, `trace ${dsc?.trace_id}`).toEqual({
        decision: expected.decision,
        ids: expected.matchedRuleIds,
        rate: expected.sampleRate,
      });
      if (expected.decision === 'drop') {
        summary.dropped++;
        expect(o.forwarded).toBeNull();
      } else {
        summary.kept++;
        // Kept unchanged: forwarded byte for byte as received, and in the sink.
        expect(o.forwarded?.equals(o.body)).toBe(true);
        expect(inSink.get(b64(o.body))).toBe(1);
      }
    } else {
      expect(types).toContain('event');
      expect(o.decision.kind).toBe('error');
      summary.errors++;
      expect(o.forwarded).not.toBeNull();
      const tag = dsc ? isTraceFullySampled({ ...root, dsc, now: new Date() }) : null;
      expect(o.decision.traceFullySampled).toBe(tag);
      const forwarded = o.forwarded!;
      expect(inSink.get(b64(forwarded))).toBe(1);
      if (tag === null) {
        expect(forwarded.equals(o.body)).toBe(true);
        continue;
      }
      summary.tagged++;
      const before = parseEnvelope(o.body);
      const after = parseEnvelope(forwarded);
      // The envelope header line is untouched; only the event item changed, by the tag.
      expect(forwarded.subarray(0, forwarded.indexOf(10)).equals(o.body.subarray(0, o.body.indexOf(10)))).toBe(true);
      expect(after.items.length).toBe(before.items.length);
      after.items.forEach((item, k) => {
        if (item.header.type !== 'event') {
          expect(item.payload.equals(before.items[k].payload)).toBe(true);
          return;
        }
        const original = JSON.parse(before.items[k].payload.toString('utf8'));
        const wanted = original.contexts?.trace?.sampled !== undefined && original.contexts?.trace?.sampled !== null
          ? original
          : { ...original, contexts: { ...original.contexts, trace: { ...original.contexts?.trace, sampled: tag } } };
        expect(JSON.parse(item.payload.toString('utf8'))).toEqual(wanted);
      });
    }
  }
  // Nothing else reached the sink, and no error was lost.
  expect(records.length).toBe(observed.filter((o) => o.forwarded !== null).length);
  expect(summary.errors).toBe(run.errorTraces.size + 1);
  return summary;
}
