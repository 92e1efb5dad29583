// Reservoir rules shared through Redis: two servers (two engines) together keep exactly the rule's limit.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { transactionEnvelope, transactionEvent } from '../src/demo/envelopes';
import { SamplingEngine } from '../src/engine/engine';
import { Registry } from 'prom-client';

import { SharedReservoir } from '../src/server/reservoir/shared';
import { startRedis, type RedisServer } from './helpers/redis';
import { postEnvelope, silentLogger, startTestServer, type TestProject, type TestServer } from './helpers/server';

const KEY = 'abd0f232775f45feab79864e580d160b';
const LIMIT = 5;

function projects(): TestProject[] {
  return [
    {
      publicKey: KEY,
      projectId: 1,
      organizationId: 9,
      sampling: {
        version: 2,
        rules: [
          {
            id: 3001,
            type: 'transaction',
            condition: { op: 'eq', name: 'event.transaction', value: ['/investigate'] },
            samplingValue: { type: 'reservoir', limit: LIMIT },
            timeRange: { start: '2020-01-01T00:00:00Z', end: '2099-01-01T00:00:00Z' },
          },
          { id: 1000, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: 0 } },
        ],
      },
    },
  ];
}

const envelope = (i: number, transaction = '/investigate') => {
  const id = `67e5504410b1426f9247bb680e5f${String(i).padStart(4, '0')}`;
  const trace = { traceId: id, publicKey: KEY, transaction };
  return transactionEnvelope(trace, transactionEvent(trace, id));
};

let redis: RedisServer;
const servers: TestServer[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.server.close()));
  await redis?.stop();
});

describe('reservoir counters in the engine', () => {
  it('reports the rule that kept an item, and takes a shared count set from outside without recompiling', () => {
    const engine = new SamplingEngine({ reservoir: true });
    const [project] = projects();
    engine.putProject(KEY, project, project.sampling);
    const first = engine.decideEnvelope(envelope(1), KEY);
    expect(first.decision).toBe('keep');
    expect(first.reservoirRule).toEqual({ id: 3001, limit: LIMIT, endMs: Date.parse('2099-01-01T00:00:00Z') });
    // The fleet spent the budget: the rule is passed over and the remaining rules decide.
    engine.setReservoirCount(9, 3001, LIMIT);
    const spent = engine.decideEnvelope(envelope(2), KEY);
    expect(spent).toMatchObject({ decision: 'drop', reservoirRule: null, matchedRuleIds: [1000] });
    // A project of the organisation installed later starts from the shared count too.
    const other = 'c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3';
    engine.putProject(other, { projectId: 2, organizationId: 9 }, project.sampling);
    expect(engine.decideEnvelope(envelope(3), other).reservoirRule).toBeNull();
    // Room again (a count set lower): the reservoir keeps until its limit.
    engine.setReservoirCount(9, 3001, LIMIT - 2);
    const kept = [4, 5, 6].map((i) => engine.decideEnvelope(envelope(i), KEY).reservoirRule?.id ?? null);
    expect(kept).toEqual([3001, 3001, null]);
    // Another organisation's counts are its own.
    const elsewhere = 'd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4';
    engine.putProject(elsewhere, { projectId: 3, organizationId: 10 }, project.sampling);
    expect(engine.decideEnvelope(envelope(7), elsewhere).reservoirRule?.id).toBe(3001);
  });
});

describe('shared reservoir', () => {
  it('two processes sharing Redis keep the limit once, fleet-wide; then the rules without the reservoir apply', async () => {
    const a = await startTestServer(projects(), { redis: redis.url, redisPrefix: 'test-a:', reservoirRules: true });
    const b = await startTestServer(projects(), { redis: redis.url, redisPrefix: 'test-a:', reservoirRules: true });
    servers.push(a, b);
    const decisions: string[] = [];
    for (let i = 0; i < 16; i++) {
      const target = i % 2 === 0 ? a : b;
      const before = target.kept().length;
      const res = await postEnvelope(target.server, 1, KEY, envelope(i));
      expect(res.status).toBe(200);
      decisions.push(target.kept().length > before ? 'keep' : 'drop');
    }
    expect(decisions.filter((d) => d === 'keep').length).toBe(LIMIT);
    expect(decisions.slice(0, LIMIT)).toEqual(Array(LIMIT).fill('keep'));
    const kept = [...a.kept(), ...b.kept()];
    expect(kept.every((r) => r.decision.matchedRuleIds.join() === '3001')).toBe(true);
    // After exhaustion the item is decided by the remaining rules (rule 1000 drops it).
    const res = await postEnvelope(a.server, 1, KEY, envelope(99));
    expect(res.status).toBe(200);
    expect(a.kept().length + b.kept().length).toBe(LIMIT);
    expect(await a.server.registry.metrics()).toMatch(/dynamic_sampling_server_reservoir_checks_total\{verdict="exhausted"\} [1-9]/);
  });

  it('without Redis each process honours the limit on its own', async () => {
    const c = await startTestServer(projects(), { reservoirRules: true });
    servers.push(c);
    for (let i = 0; i < 8; i++) expect((await postEnvelope(c.server, 1, KEY, envelope(100 + i))).status).toBe(200);
    expect(c.kept().length).toBe(LIMIT);
  });

  it('without the reservoir option a config holding a reservoir rule is rejected, as current Relay does: nothing is sampled by it', async () => {
    const d = await startTestServer(projects());
    servers.push(d);
    for (let i = 0; i < 8; i++) expect((await postEnvelope(d.server, 1, KEY, envelope(200 + i))).status).toBe(200);
    // No config in force for the project: every envelope is kept, none by rule 3001 or dropped by rule 1000.
    expect(d.kept().length).toBe(8);
    expect(d.kept().every((k) => k.decision.matchedRuleIds.length === 0)).toBe(true);
  });
});

describe('shared reservoir without Redis at start', () => {
  it('answers "unavailable" at once after the first failure (no 2 s wait per item), and uses Redis once it is up', async () => {
    const later = await startRedis();
    await later.stop();
    const reservoir = new SharedReservoir(later.url, { logger: silentLogger, registry: new Registry(), prefix: 'test-later:' });
    try {
      const rule = { id: 3001, limit: 100, endMs: null };
      expect(reservoir.waitsForFirstConnection).toBe(true);
      const verdicts = [await reservoir.take(9, rule)];
      // The first failure settles the start-up wait: later items answer at once, not after a wait each.
      expect(reservoir.waitsForFirstConnection).toBe(false);
      for (let i = 0; i < 4; i++) verdicts.push(await reservoir.take(9, rule));
      expect(verdicts).toEqual(Array(5).fill('unavailable'));
      await later.start();
      let verdict = await reservoir.take(9, rule);
      for (let i = 0; verdict !== 'within' && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        verdict = await reservoir.take(9, rule);
      }
      expect(verdict).toBe('within');
    } finally {
      await reservoir.close();
      await later.stop();
    }
  }, 30_000);
});
