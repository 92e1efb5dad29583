// Random traces sent through the real @sentry/node SDK with controlled trace ids, and a transport
// that keeps serialized envelopes in memory (for replays through the server's own sampler).

import * as Sentry from '@sentry/node';
import { serializeEnvelope } from '@sentry/core';

import type { SamplingConfigJson } from '../../src/engine/types';
import { sampleRate, type TestProject } from './server';

export const APP_KEY = 'abd0f232775f45feab79864e580d160b';
export const CHILD_KEY = 'e12d836b15bb49d7bbf99e64295d995b';

/** Rules of every stage, on fields the SDK knows at span start (name, op, release, environment). */
export const APP_CONFIG: SamplingConfigJson = {
  version: 2,
  rules: [
    sampleRate(1, 'transaction', 0.1, { op: 'glob', name: 'event.transaction', value: ['*health*'] }),
    { id: 2, type: 'transaction', condition: { op: 'eq', name: 'event.contexts.trace.op', value: ['queue.process'] }, samplingValue: { type: 'factor', value: 0.5 } },
    sampleRate(3, 'project', 0.6, { op: 'eq', name: 'trace.environment', value: ['staging'] }),
    { id: 10, type: 'trace', condition: { op: 'eq', name: 'trace.release', value: ['shop@2.0.0'] }, samplingValue: { type: 'factor', value: 1.5 } },
    sampleRate(11, 'trace', 0.2, { op: 'glob', name: 'trace.transaction', value: ['/api/users/*'] }),
    sampleRate(12, 'trace', 0.3, { op: 'eq', name: 'trace.environment', value: ['production'] }),
    sampleRate(13, 'trace', 0.45),
  ],
};

/** A downstream service's project: no rules of its own, so the trace's root rules decide. */
export const CHILD_CONFIG: SamplingConfigJson = { version: 2, rules: [] };

export const SDK_PROJECTS: TestProject[] = [
  { publicKey: APP_KEY, projectId: 1, organizationId: 1, sampling: APP_CONFIG },
  { publicKey: CHILD_KEY, projectId: 2, organizationId: 1, sampling: CHILD_CONFIG },
];

export interface RandomTrace {
  traceId: string;
  name: string;
  op: string;
  release: string;
  environment: string;
}

const NAMES = ['/healthz', '/api/users/123', '/api/users/98765', '/api/orders', '/checkout', 'GET /search', 'process-payments', '/internal/health/deep'];

function hex(random: () => number, digits: number): string {
  let out = '';
  while (out.length < digits) out += Math.floor(random() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return out.slice(0, digits);
}

/** A small seeded generator (tests stay reproducible). */
export function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

export function randomTraces(count: number, seed: number): RandomTrace[] {
  const random = seeded(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const traces: RandomTrace[] = [];
  for (let i = 0; i < count; i++) {
    const base = pick(NAMES);
    traces.push({
      traceId: hex(random, 32),
      // Some names unique per trace, so outcomes are not all served from the cache.
      name: random() < 0.2 ? `${base}/${Math.floor(random() * 1e6)}` : base,
      op: random() < 0.25 ? 'queue.process' : 'http.server',
      release: pick(['shop@1.0.0', 'shop@2.0.0', 'shop@2.1.0']),
      environment: pick(['production', 'staging', 'development']),
    });
  }
  return traces;
}

/**
 * Starts each trace as a root span of the current client, with its trace id, release and
 * environment. Those two are client options the SDK reads when it builds the DSC (later, when the
 * envelope is made): traces are grouped by them and each group is flushed before the next.
 */
export async function sendTraces(traces: readonly RandomTrace[], batch = 50): Promise<void> {
  const options = Sentry.getClient()!.getOptions();
  const groups = new Map<string, RandomTrace[]>();
  for (const t of traces) {
    const key = `${t.release} ${t.environment}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  for (const group of groups.values()) {
    options.release = group[0].release;
    options.environment = group[0].environment;
    for (let start = 0; start < group.length; start += batch) {
      for (const t of group.slice(start, start + batch)) {
        Sentry.withScope((scope) => {
          scope.setPropagationContext({ traceId: t.traceId, sampleRand: Math.random() });
          Sentry.startSpan({ name: t.name, op: t.op }, () => {
            Sentry.startSpan({ name: 'db.query', op: 'db' }, () => undefined);
          });
        });
      }
      // The transport holds a bounded queue: let each batch drain.
      await Sentry.flush(10_000);
    }
  }
}

/** A transport that keeps every envelope, serialized as the SDK would send it. */
export function memoryTransport(into: Uint8Array[]): () => { send: (e: Parameters<typeof serializeEnvelope>[0]) => Promise<{ statusCode: number }>; flush: () => Promise<boolean> } {
  return () => ({
    send: async (envelope) => {
      const body = serializeEnvelope(envelope);
      into.push(typeof body === 'string' ? Buffer.from(body) : body);
      return { statusCode: 200 };
    },
    flush: async () => true,
  });
}
