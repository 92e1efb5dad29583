// Realistic envelopes for load tests: the demo organisation's traffic as transactions, span containers and errors.

import { DEMO_PROJECTS } from './projects';
import { errorEnvelope, spanEnvelope, transactionEnvelope, transactionEvent } from './envelopes';
import { TrafficGenerator } from './traffic';

export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * `size` requests over the demo projects (weighted 6:3:1), 45% transactions, 45% span envelopes and
 * 10% errors, with the SDK's auth header. Reproducible for a seed.
 */
export function loadCorpus(size = 2000, seed = 7): LoadRequest[] {
  const weights = [6, 3, 1];
  const generators = DEMO_PROJECTS.map((p, i) => new TrafficGenerator({ publicKey: p.publicKey, seed: seed + i }));
  const out: LoadRequest[] = [];
  for (let n = 0; n < size; n++) {
    const pick = n % 10 < weights[0] ? 0 : n % 10 < weights[0] + weights[1] ? 1 : 2;
    const project = DEMO_PROJECTS[pick];
    const traffic = generators[pick];
    const trace = traffic.next();
    const roll = traffic.random.next();
    const body =
      roll < 0.45
        ? transactionEnvelope(trace, transactionEvent(trace, traffic.random.hex32(), 3 + traffic.random.int(8)))
        : roll < 0.9
          ? spanEnvelope(trace, 2 + traffic.random.int(8))
          : errorEnvelope(trace, traffic.random.hex32());
    out.push({
      path: `/api/${project.projectId}/envelope/`,
      headers: {
        'content-type': 'application/x-sentry-envelope',
        'x-sentry-auth': `Sentry sentry_version=7, sentry_key=${project.publicKey}, sentry_client=sentry.javascript.node/10.0.0`,
      },
      body,
    });
  }
  return out;
}
