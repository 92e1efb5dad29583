// Agreement between the SDK-side traces sampler and the server: 10,000 random traces through the
// real @sentry/node SDK with createTracesSampler, sent to this project's server with the same rules.

import { afterAll, describe, expect, it } from 'vitest';
import * as Sentry from '@sentry/node';

import { createTracesSampler, type HeadDecision } from '../src/sdk';
import { KEEP, DROP } from '../src/engine/engine';
import { parseEnvelope, startTestServer, waitFor, type TestServer } from './helpers/server';
import { APP_KEY, memoryTransport, randomTraces, SDK_PROJECTS, sendTraces } from './helpers/sdk-traffic';
import type { EnvelopeObservation } from '../src/server/options';

const TRACES = Number(process.env.SDK_TRACES ?? 10_000);

let test: TestServer | undefined;
/** What the server saw (one server for both lifecycles). */
const observed: EnvelopeObservation[] = [];
afterAll(async () => {
  await Sentry.close(2000);
  await test?.server.close();
});

function traceIdOf(body: Uint8Array): { traceId: string; dsc: Record<string, string>; types: string[] } {
  const { header, items } = parseEnvelope(Buffer.from(body));
  return { traceId: header.trace?.trace_id, dsc: header.trace, types: items.map((i) => i.header.type as string) };
}

describe.each(['static', 'stream'] as const)('the traces sampler and the server agree (%s lifecycle)', (lifecycle) => {
  it(`sends exactly the traces the server keeps, out of ${lifecycle === 'static' ? TRACES : TRACES / 5} random traces`, async () => {
    observed.length = 0;
    test ??= await startTestServer(SDK_PROJECTS, { onEnvelope: (o) => observed.push(o) });
    const server = test;
    const count = lifecycle === 'static' ? TRACES : TRACES / 5;
    const traces = randomTraces(count, lifecycle === 'static' ? 13 : 31);
    const decisions = new Map<string, HeadDecision>();
    const sampler = createTracesSampler({ file: `${server.dir}/projects.json`, onDecision: (traceId, _name, d) => decisions.set(traceId, d) });
    await sampler.rules.prefetch([APP_KEY]);

    // 1. The application with the sampler, sending to the server over HTTP.
    Sentry.init({ dsn: server.server.dsn(APP_KEY, 1), tracesSampler: sampler, traceLifecycle: lifecycle, defaultIntegrations: false });
    await sendTraces(traces);
    const sdkKept = new Set([...decisions].filter(([, d]) => d.keep).map(([id]) => id));
    const traced = () => observed.filter((o) => o.decision.kind === 'transaction' || o.decision.kind === 'spans');
    await waitFor(() => traced().length >= sdkKept.size, 20_000, 'the server to see every sent trace');
    await Sentry.close(5000);

    expect(decisions.size).toBe(count);
    expect([...decisions.values()].every((d) => d.byRules)).toBe(true);
    const sentIds = new Set<string>();
    for (const o of traced()) {
      const { traceId, dsc } = traceIdOf(o.body);
      sentIds.add(traceId);
      const decision = decisions.get(traceId)!;
      // The server drops nothing the SDK sent; the DSC carries the rule's rate and the deciding value.
      expect(o.decision.decision, `trace ${traceId}`).toBe('keep');
      expect(o.decision.sampleRate, `trace ${traceId}`).toBe(decision.rate);
      expect(dsc.sample_rate).toBe(String(decision.rate));
      expect(dsc.sample_rand).toBe(String(decision.random));
      expect(dsc.sampled).toBe('true');
    }
    expect(traced().length).toBe(sdkKept.size);
    expect([...sentIds].sort()).toEqual([...sdkKept].sort());
    // The scenario is meaningful: both outcomes, several rules, and transaction rules (event-id seed) in the static lifecycle.
    expect(sdkKept.size).toBeGreaterThan(count * 0.15);
    expect(count - sdkKept.size).toBeGreaterThan(count * 0.3);
    const ruleChains = new Set([...decisions.values()].map((d) => d.ruleIds.join(',')));
    expect(ruleChains.size).toBeGreaterThan(5);
    const byEvent = [...decisions.values()].filter((d) => d.eventId !== null).length;
    if (lifecycle === 'static') expect(byEvent).toBeGreaterThan(100);
    else expect(byEvent).toBe(0);

    // 2. The same traces, every one sent (the SDK samples nothing), decided by the server's own
    // sampler: it keeps exactly those the SDK kept — so the SDK dropped only what the server drops.
    const replay: Uint8Array[] = [];
    Sentry.init({ dsn: server.server.dsn(APP_KEY, 1), tracesSampleRate: 1, traceLifecycle: lifecycle, defaultIntegrations: false, transport: memoryTransport(replay) });
    // Transaction rules draw from the event id: replay each transaction with the id the SDK drew from.
    Sentry.getClient()!.addEventProcessor((event) => {
      const eventId = decisions.get(event.contexts?.trace?.trace_id ?? '')?.eventId;
      if (event.type === 'transaction' && eventId) event.event_id = eventId;
      return event;
    });
    await sendTraces(traces);
    await Sentry.close(5000);
    let disagreements = 0;
    const seen = new Set<string>();
    for (const body of replay) {
      const { traceId, types } = traceIdOf(body);
      if (!types.includes('transaction') && !types.includes('span')) continue;
      if (seen.has(traceId)) continue;
      seen.add(traceId);
      const code = server.server.sampler.sampleEnvelope(body, APP_KEY);
      expect(code === KEEP || code === DROP, `trace ${traceId}: code ${code}`).toBe(true);
      if ((code === KEEP) !== decisions.get(traceId)!.keep) disagreements++;
    }
    expect(seen.size).toBe(count);
    expect(disagreements).toBe(0);
    await sampler.close();
  }, 120_000);
});
