// The engine floor of `npm run load`: it decides as the engine does and appends exactly the kept envelopes.

import { mkdtempSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startEngineFloorServer } from '../src/demo/engine-floor-server';
import { freePort } from '../src/demo/free-port';
import { loadCorpus } from '../src/demo/load-corpus';
import { DROP, SamplingEngine } from '../src/engine/engine';

const projects = JSON.parse(readFileSync(path.join(__dirname, '..', 'examples', 'projects.json'), 'utf8')) as {
  configs: Record<string, { projectId: number; organizationId: number; config?: { sampling?: unknown } }>;
};

describe('engine floor server', () => {
  let server: http.Server;
  let url: string;
  let file: string;

  beforeAll(async () => {
    file = path.join(mkdtempSync(path.join(tmpdir(), 'ds-floor-')), 'floor.bin');
    const port = await freePort();
    server = await startEngineFloorServer(port, file);
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers with the event id and appends the envelopes the engine keeps, and only those', async () => {
    const engine = new SamplingEngine({ reservoir: true });
    for (const [key, p] of Object.entries(projects.configs)) {
      if (p.config) engine.putProject(key, { projectId: p.projectId, organizationId: p.organizationId }, p.config.sampling ?? null);
    }
    // The demo config holds a reservoir rule (limit 50): fewer requests than that may hit it.
    const corpus = loadCorpus(120, 11);
    const expected: Buffer[] = [];
    let dropped = 0;
    for (const request of corpus) {
      const key = /sentry_key=([0-9a-f]{32})/.exec(request.headers['x-sentry-auth'])![1];
      const code = engine.sampleEnvelope(request.body, key);
      const eventId = engine.plan.eventId();
      const response = await fetch(`${url}${request.path}`, { method: 'POST', headers: request.headers, body: request.body });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { id: string }).id).toBe(eventId ?? '00000000000000000000000000000000');
      if (code === DROP) dropped++;
      else expected.push(request.body);
    }
    expect(dropped).toBeGreaterThan(0);
    expect(expected.length).toBeGreaterThan(0);
    expect(readFileSync(file).equals(Buffer.concat(expected))).toBe(true);
  });
});
