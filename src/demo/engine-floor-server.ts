// The second floor `npm run load` compares the ingestion server with: a bare node:http server that also runs the engine on each body (counting on, as under `npm start`) and appends the kept ones, with nothing else a server does (no authentication against configs, metrics, outcomes, stats, control plane).

import { readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';

import { KEEP, NO_MATCH, SamplingEngine } from '../engine/engine';
import { startFloorServer } from './bare-server';

const PROJECTS_FILE = path.join(__dirname, '..', '..', 'examples', 'projects.json');
const SENTRY_KEY = /sentry_key=([0-9a-fA-F]{32})/;
const NO_EVENT_ID = '00000000000000000000000000000000';

interface ProjectsFile {
  configs: Record<string, { projectId: number; organizationId: number; config?: { sampling?: unknown } }>;
}

/** An engine holding the demo projects of `examples/projects.json` (reservoir rules accepted, counting on). */
function demoEngine(): SamplingEngine {
  const engine = new SamplingEngine({ reservoir: true });
  engine.setCounting(true);
  const file = JSON.parse(readFileSync(PROJECTS_FILE, 'utf8')) as ProjectsFile;
  for (const [publicKey, project] of Object.entries(file.configs)) {
    if (project.config === undefined) continue;
    engine.putProject(publicKey, { projectId: project.projectId, organizationId: project.organizationId }, project.config.sampling ?? null);
  }
  return engine;
}

/** Starts the engine floor on `port`, appending kept envelopes (and unreadable ones: never lost) to `file`. */
export function startEngineFloorServer(port: number, file: string): Promise<http.Server> {
  const engine = demoEngine();
  return startFloorServer(port, file, (body, req) => {
    const key = SENTRY_KEY.exec(String(req.headers['x-sentry-auth']))?.[1]?.toLowerCase();
    const code = key === undefined ? engine.sampleUnattributed(body) : engine.sampleEnvelope(body, key);
    // Read now: the next decision rewrites the plan.
    const eventId = code >= 0 ? (engine.plan.eventId() ?? NO_EVENT_ID) : NO_EVENT_ID;
    return { append: code === KEEP || code === NO_MATCH || code < 0, eventId };
  });
}

if (require.main === module) {
  const [port, file] = process.argv.slice(2);
  void startEngineFloorServer(Number(port), file);
}
