// The request path reads no envelope JSON in TypeScript: every JSON.parse during requests is recorded, and none may be handed any part of an envelope (the engine's plan stands for it).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ReleaseObservation, RootRecord, TrafficRecorder } from '../src/control/traffic/recorder';
import { errorEnvelope, spanEnvelope, transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { postEnvelope, sampleRate, startTestServer, type TestServer } from './helpers/server';

const KEY = 'abd0f232775f45feab79864e580d160b';
const DROP_KEY = 'e12d836b15bb49d7bbf99e64295d995b';

class Recorder implements TrafficRecorder {
  roots: RootRecord[] = [];
  releases: ReleaseObservation[] = [];
  recordRoot(root: RootRecord): void {
    this.roots.push(root);
  }
  observeRelease(observation: ReleaseObservation): void {
    this.releases.push(observation);
  }
}

const trace = (publicKey: string, n: number, sampled?: boolean) => ({
  traceId: `67e5504410b1426f9247bb680e5fe0${String(n).padStart(2, '0')}`,
  publicKey,
  transaction: '/checkout',
  release: 'shop@1.0',
  environment: 'production',
  ...(sampled === undefined ? {} : { sampled }),
});

describe('the request path reads no envelope JSON', () => {
  const recorder = new Recorder();
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(
      [
        { publicKey: KEY, projectId: 1, organizationId: 1, sampling: { version: 2, rules: [sampleRate(1, 'trace', 1)] } },
        { publicKey: DROP_KEY, projectId: 2, organizationId: 1, sampling: { version: 2, rules: [sampleRate(2, 'trace', 0)] } },
      ],
      { recorder },
    );
  });
  afterAll(async () => {
    await t?.server.close();
  });

  it('decides, drops, tags, counts and forwards without JSON.parse of any envelope bytes', async () => {
    const envelopes: [number, string | null, Buffer][] = [
      [1, KEY, transactionEnvelope(trace(KEY, 1), transactionEvent(trace(KEY, 1), '9ec79c33ec9942ab8353589fcb2e04dc'))],
      [2, DROP_KEY, transactionEnvelope(trace(DROP_KEY, 2), transactionEvent(trace(DROP_KEY, 2), '8ec79c33ec9942ab8353589fcb2e04dc'))],
      [1, KEY, spanEnvelope(trace(KEY, 3), 3)],
      [2, DROP_KEY, spanEnvelope(trace(DROP_KEY, 4), 3)],
      // Error events of a kept and a dropped trace get their tag written.
      [1, KEY, errorEnvelope(trace(KEY, 5, true), '7ec79c33ec9942ab8353589fcb2e04dc')],
      [2, DROP_KEY, errorEnvelope(trace(DROP_KEY, 6, true), '6ec79c33ec9942ab8353589fcb2e04dc')],
    ];
    // The key from the header's dsn (no X-Sentry-Auth): the engine reads it too.
    const dsnOnly = Buffer.from(`${JSON.stringify({ event_id: '5ec79c33ec9942ab8353589fcb2e04dc', dsn: `http://${KEY}@127.0.0.1/1` })}\n{"type":"attachment","length":3}\nabc\n`);
    envelopes.push([1, null, dsnOnly]);
    const keptBefore = t.kept().length;

    const parsed: string[] = [];
    const original = JSON.parse;
    JSON.parse = function (text: string, reviver?: Parameters<typeof JSON.parse>[1]) {
      parsed.push(String(text));
      return original.call(JSON, text, reviver);
    } as typeof JSON.parse;
    const statuses: number[] = [];
    try {
      for (const [projectId, key, body] of envelopes) statuses.push((await postEnvelope(t.server, projectId, key, body)).status);
    } finally {
      JSON.parse = original;
    }

    expect(statuses).toEqual(envelopes.map(() => 200));
    const fromEnvelopes = parsed.filter((text) => text.length > 1 && envelopes.some(([, , body]) => body.includes(text)));
    expect(fromEnvelopes).toEqual([]);
    // The work was done: drops removed items, error events were tagged, roots counted.
    const kept = t.kept().slice(keptBefore);
    expect(kept.filter((k) => k.modified).length).toBeGreaterThanOrEqual(2);
    const tagged = kept.map((k) => k.bytes.toString()).filter((text) => text.includes('"sampled":'));
    expect(tagged.some((text) => text.includes('"contexts":{"trace":{"sampled":true}') || text.includes('"sampled":true,'))).toBe(true);
    expect(tagged.some((text) => text.includes('"sampled":false'))).toBe(true);
    expect(recorder.roots.map((r) => r.decision).sort()).toEqual(['drop', 'drop', 'keep', 'keep']);
    expect(kept.some((k) => k.eventId === '5ec79c33ec9942ab8353589fcb2e04dc')).toBe(true);
  });
});
