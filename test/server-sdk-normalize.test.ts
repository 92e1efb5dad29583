// End to end: the real @sentry/node SDK sends URL-named transactions (`/users/1234/orders/98765`,
// source `url`) to the real server on 127.0.0.1, whose rules are written for the names Relay
// normalizes them to (`/users/*/orders/*`), with transaction-name rules from the project configs
// file, for the event (own project) and for the DSC's name (root project).

import * as Sentry from '@sentry/node';
import { afterAll, describe, expect, it } from 'vitest';

import { normalizedFields } from '../src/engine/evaluate';
import type { SamplingConfigJson, TxNameRuleJson } from '../src/engine/types';
import type { EnvelopeObservation } from '../src/server/options';
import { hexId, OWN_KEY, ROOT_KEY } from './helpers/server-sdk';
import { parseEnvelope, sampleRate, startTestServer, waitFor, type TestServer } from './helpers/server';

/** The span attribute the SDK reads the transaction source from (`transaction_info.source`). */
const SOURCE_ATTRIBUTE = 'sentry.segment.name.source';

const eq = (name: string, value: string) => ({ op: 'eq', name, value: [value] });

const OWN_RULES: TxNameRuleJson[] = [{ pattern: '/orgs/*/**', expiry: '2099-01-01T00:00:00Z', redaction: { method: 'replace', substitution: '*' } }];
const ROOT_RULES: TxNameRuleJson[] = [{ pattern: '/shop/*/**', expiry: '2099-01-01T00:00:00Z', redaction: { method: 'replace', substitution: '*' } }];

const OWN: SamplingConfigJson = {
  version: 2,
  rules: [
    sampleRate(1, 'transaction', 0, eq('event.transaction', '/users/*/orders/*')),
    sampleRate(2, 'transaction', 0, eq('event.transaction', '/orgs/*/items/*')),
    sampleRate(9, 'trace', 1),
  ],
};
const ROOT: SamplingConfigJson = {
  version: 2,
  rules: [sampleRate(12, 'trace', 0, eq('trace.transaction', '/shop/*/cart/*')), sampleRate(13, 'trace', 1)],
};

interface Spec {
  name: string;
  source: 'url' | 'route';
  /** The incoming trace's DSC name, rooted in the ROOT project (none: the SDK starts the trace). */
  rootTransaction?: string;
  expected: { decision: 'keep' | 'drop'; ids: number[] };
}

const SPECS: Spec[] = [
  ...[[1234, 98765], [7, 12], [555, 42], [31337, 1], [99, 100], [123456789, 2024]].map(([u, o]) => ({
    name: `/users/${u}/orders/${o}`,
    source: 'url' as const,
    // One-digit ids are not identifiers (Relay scrubs runs of two or more digits).
    expected: String(u).length > 1 && String(o).length > 1 ? { decision: 'drop' as const, ids: [1] } : { decision: 'keep' as const, ids: [9] },
  })),
  ...['1234', '8f14e45f-ceea-467a-9dd6-1f5a3c7d9e0b', '2024-05-01T10:00:00Z'].map((id) => ({
    name: `/users/${id}/profile`,
    source: 'url' as const,
    expected: { decision: 'keep' as const, ids: [9] },
  })),
  // A route is already parametrized: it is left alone, so the URL rule does not match it.
  { name: '/users/1234/orders/98765', source: 'route', expected: { decision: 'keep', ids: [9] } },
  // The own project's txNameRules turn `/orgs/acme/items/*` into `/orgs/*/items/*`.
  ...['acme', 'globex', 'initech'].map((org, i) => ({
    name: `/orgs/${org}/items/${770 + i}`,
    source: 'url' as const,
    expected: { decision: 'drop' as const, ids: [2] },
  })),
  // The DSC's name is parametrized with the root project's rules before its trace rules run.
  ...['acme', 'globex'].map((shop, i) => ({
    name: 'checkout',
    source: 'route' as const,
    rootTransaction: `/shop/${shop}/cart/${4000 + i}`,
    expected: { decision: 'drop' as const, ids: [12] },
  })),
  { name: 'checkout', source: 'route', rootTransaction: '/basket/4001', expected: { decision: 'keep', ids: [13] } },
];

let test: TestServer | undefined;
afterAll(async () => {
  await Sentry.close(2000);
  await test?.server.close();
});

describe('the server with @sentry/node sending URL-named transactions', () => {
  it("matches rules written for Relay's normalized names", async () => {
    const observed: EnvelopeObservation[] = [];
    test = await startTestServer(
      [
        { publicKey: OWN_KEY, projectId: 1, organizationId: 1, sampling: OWN, txNameRules: OWN_RULES },
        { publicKey: ROOT_KEY, projectId: 2, organizationId: 1, sampling: ROOT, txNameRules: ROOT_RULES },
      ],
      { onEnvelope: (o) => observed.push(o) },
    );
    Sentry.init({
      dsn: test.server.dsn(OWN_KEY, 1),
      tracesSampleRate: 1,
      traceLifecycle: 'static',
      defaultIntegrations: false,
      release: 'shop@1.0.0',
      environment: 'production',
    });
    for (const [i, spec] of SPECS.entries()) {
      const traceId = hexId(1000 + i);
      const run = () =>
        Sentry.startSpan({ name: spec.name, op: 'http.server', forceTransaction: true, attributes: { [SOURCE_ATTRIBUTE]: spec.source } }, () => {
          Sentry.startSpan({ name: 'db.query', op: 'db' }, () => undefined);
        });
      if (spec.rootTransaction) {
        const baggage = [`sentry-trace_id=${traceId}`, `sentry-public_key=${ROOT_KEY}`, `sentry-transaction=${encodeURIComponent(spec.rootTransaction)}`, 'sentry-sample_rate=1', 'sentry-sampled=true'].join(',');
        await Sentry.continueTrace({ sentryTrace: `${traceId}-${traceId.slice(0, 16)}-1`, baggage }, run);
      } else {
        await Sentry.startNewTrace(run);
      }
    }
    await Sentry.flush(10_000);
    await waitFor(() => observed.length >= SPECS.length, 15_000, 'the server to decide every transaction');

    const byName = new Map<string, EnvelopeObservation[]>();
    let checked = 0;
    for (const o of observed) {
      const { header, items } = parseEnvelope(o.body);
      const item = items.find((it) => it.header.type === 'transaction');
      expect(item, 'every envelope holds a transaction').toBeDefined();
      const event = JSON.parse(item!.payload.toString('utf8'));
      const dsc = header.trace as Record<string, string>;
      const rootName = dsc.public_key === ROOT_KEY ? dsc.transaction : null;
      const spec = SPECS.find(
        (s, i) => s.name === event.transaction && s.source === event.transaction_info?.source && (s.rootTransaction ?? null) === rootName && !byName.has(`${i}`),
      );
      expect(spec, `a transaction we sent: ${event.transaction} ${JSON.stringify(event.transaction_info)} ${JSON.stringify(dsc)}`).toBeDefined();
      const index = SPECS.indexOf(spec!);
      byName.set(`${index}`, [o]);
      expect(o.decision.kind).toBe('transaction');
      expect({ name: spec!.name, root: spec!.rootTransaction, decision: o.decision.decision, ids: o.decision.matchedRuleIds }).toEqual({
        name: spec!.name,
        root: spec!.rootTransaction,
        ...spec!.expected,
      });
      if (spec!.expected.decision === 'drop') expect(o.forwarded).toBeNull();
      else expect(o.forwarded?.equals(o.body)).toBe(true);
      // What the rules read, as the engine reports it.
      const fields = normalizedFields({ event, dsc, txNameRules: OWN_RULES, rootTxNameRules: ROOT_RULES });
      if (spec!.source === 'url') expect(fields['event.transaction.source']).toBe('sanitized');
      if (spec!.name === '/users/1234/orders/98765' && spec!.source === 'url') expect(fields['event.transaction']).toBe('/users/*/orders/*');
      if (spec!.rootTransaction?.startsWith('/shop/')) expect(fields['trace.transaction']).toMatch(/^\/shop\/\*\/cart\/\*$/);
      checked++;
    }
    expect(checked).toBe(SPECS.length);
    expect(byName.size).toBe(SPECS.length);
    // Both decisions occur, by each kind of normalization.
    const dropped = observed.filter((o) => o.decision.decision === 'drop').map((o) => o.decision.matchedRuleIds[0]);
    expect(new Set(dropped)).toEqual(new Set([1, 2, 12]));
  });
});
