// dynamic-sampling: Relay-compatible dynamic sampling for Node.js, with a Rust core.

import type { ControlPlane, ControlPlaneOptions } from './control/control-plane';
import { checkObject } from './engine/args';
import type { RunningServer } from './server/server';
import type { ServerOptions } from './server/options';

export * from './engine/engine';
export * from './engine/errors';
export * from './engine/evaluate';
export { ruleCategory, ruleCategories, sampledReason, type RuleCategory } from './engine/outcome';
export type * from './engine/types';
export * from './sampler';
export { ProjectConfigService, KEY_STATES, generateRelayKeyPair } from './configs';
export type { KeyState, LookupResult, ProjectConfigServiceOptions, ProjectInfo } from './configs';
export { generateSamplingConfig } from './rules/generate';

// ---- The services: the ingestion server and the control plane ------------------------------------
// Loaded on first use, so that `require('dynamic-sampling')` for the engine stays light.

export type { ControlPlane, ControlPlaneOptions } from './control/control-plane';
export type { MetricsAccess } from './server/http/access';
export type { TrafficRecorder, RootRecord, ReleaseObservation } from './control/traffic/recorder';
export type { DefinitionsDocument } from './control/definitions/types';
export type { RunningServer } from './server/server';
export type { ServerOptions, ConfigSourceOption, EnvelopeObservation } from './server/options';
export type { SinkSpec } from './server/sinks/create';
export type { EnvelopeSink, KeptEnvelope } from './server/sinks/types';

/** Starts the ingestion server (`src/server/README.md`); pass `recorder: plane.recorder` to count for a control plane. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  checkObject('options', options);
  const server = await import('./server/server');
  return server.startServer(options);
}

/** Starts the control plane (`src/control/README.md`): definitions, counting, rebalancing tasks, and the config endpoint. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  checkObject('options', options);
  const control = await import('./control/control-plane');
  return control.startControlPlane(options);
}
