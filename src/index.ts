// dynamic-sampling: Relay-compatible dynamic sampling for Node.js, with a Rust core.

export * from './engine/engine';
export * from './engine/errors';
export * from './engine/evaluate';
export type * from './engine/types';
export * from './sampler';
export { ProjectConfigService, KEY_STATES, generateRelayKeyPair } from './configs';
export type { KeyState, LookupResult, ProjectConfigServiceOptions, ProjectInfo } from './configs';
export { generateSamplingConfig } from './control/rules';
