// Shared fixtures for engine tests: a demo project, generated traffic and envelopes.

import type { TraceShape } from '../../src/demo/envelopes';
import { TrafficGenerator } from '../../src/demo/traffic';
import { SamplingEngine } from '../../src/engine/engine';
import type { SamplingConfigJson } from '../../src/engine/types';

export const KEY = 'abd0f232775f45feab79864e580d160b';
export const OTHER_KEY = 'e12d836b15bb49d7bbf99e64295d995b';
export const FOREIGN_KEY = '0c5b3c9f0b8e4a1e9a0d2f6d1c7e8b9a';
export const NOW = new Date('2024-05-01T12:00:00Z');

/** A config exercising every stage: transaction, project and trace rules. */
export const MIXED_CONFIG: SamplingConfigJson = {
  version: 2,
  rules: [
    { id: 1, type: 'transaction', condition: { op: 'glob', name: 'event.transaction', value: ['*health*'] }, samplingValue: { type: 'sampleRate', value: 0.02 } },
    { id: 2, type: 'transaction', condition: { op: 'eq', name: 'event.transaction', value: ['/api/orders/{id}'] }, samplingValue: { type: 'factor', value: 0.5 } },
    { id: 3, type: 'project', condition: { op: 'eq', name: 'trace.environment', value: ['staging'] }, samplingValue: { type: 'sampleRate', value: 0.9 } },
    {
      id: 4,
      type: 'trace',
      condition: { op: 'eq', name: 'trace.release', value: ['shop@1.2.0'] },
      samplingValue: { type: 'factor', value: 1.5 },
      timeRange: { start: '2024-05-01T00:00:00Z', end: '2024-05-02T00:00:00Z' },
      decayingFn: { type: 'linear', decayedValue: 1.0 },
    },
    { id: 5, type: 'trace', condition: { op: 'glob', name: 'trace.environment', value: ['*dev*'] }, samplingValue: { type: 'sampleRate', value: 1.0 } },
    { id: 6, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0.3 } },
  ],
};

export function engineWith(config: SamplingConfigJson = MIXED_CONFIG): SamplingEngine {
  const engine = new SamplingEngine();
  engine.setNow(NOW);
  engine.putProject(KEY, { projectId: 1, organizationId: 1 }, config);
  return engine;
}

/** `n` traces of mixed traffic for KEY (30 names, two releases, three environments, 20% health checks). */
export function mixedTraffic(n: number, seed = 1): TraceShape[] {
  const gen = new TrafficGenerator({
    publicKey: KEY,
    seed,
    transactionNames: 30,
    releases: ['shop@1.1.0', 'shop@1.2.0'],
    environments: ['production', 'staging', 'development'],
    healthCheckShare: 0.2,
  });
  return Array.from({ length: n }, () => gen.next());
}
