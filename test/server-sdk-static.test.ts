// End to end with the real @sentry/node SDK with traceLifecycle "static" (transaction events), plus errors.

import { afterAll, describe, expect, it } from 'vitest';

import { evaluate, isTraceFullySampled } from '../src/engine/evaluate';
import { runSdk, traceSpecs, verifyRun, type SdkRun } from './helpers/server-sdk';

let run: SdkRun | undefined;
afterAll(async () => {
  await run?.test.server.close();
});

describe('the server with @sentry/node sending transactions (static lifecycle)', () => {
  it('decides like evaluate(), forwards kept transactions byte for byte, never drops errors', async () => {
    run = await runSdk('static', traceSpecs(48));
    const summary = verifyRun(run, 'transaction', expect, evaluate, isTraceFullySampled);
    // The scenario is meaningful: both decisions, tagged errors, and a gzip body.
    expect(summary.kept).toBeGreaterThan(5);
    expect(summary.dropped).toBeGreaterThan(5);
    expect(summary.tagged).toBeGreaterThan(0);
    expect(run.gzipped).toBeGreaterThanOrEqual(1);
  });
});
