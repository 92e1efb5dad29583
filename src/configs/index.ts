// `dynamic-sampling/configs`: project configs fetched and cached, installed into an engine (createSampler),
// or into any ConfigInstaller (ProjectConfigService); the sources, signing and errors.

export { createSampler, Sampler, EngineInstaller, type SamplerOptions } from '../sampler';

export { ProjectConfigService } from './service';
export type { CacheOptions, LookupResult, ProjectConfigServiceOptions, SourceOptions, StateListener } from './service';
export type { ConfigInstaller, ProjectInfo } from './installer';
export type { KeyState, CacheTimings, InstallRejection } from './states';
export { KEY_STATES } from './states';
export type { InvalidateTarget } from './redis-cache';
export type { ConfigSource, SourceResult, SourceListener, RequestOptions } from './source';
export { UpstreamSource, type BatchingOptions, type UpstreamSourceOptions } from './batcher';
export { UpstreamClient, FullConfigRefusedError, PROJECT_CONFIGS_PATH, parseProjectConfigsResponse, type UpstreamConnectionOptions } from './upstream';
export { FileSource, parseConfigFile, type FileSourceOptions } from './file-source';
export { parseProjectState, type ParsedProjectState } from './project-state';
export type { ProjectState } from '../engine/types';
export { RelaySigner, generateRelayKeyPair, signRelayPayload, verifyRelaySignature, parseSecretKey, parsePublicKey } from './signing';
export { RelayRegistration, RegistrationError, RelayNotTrustedError, REGISTER_CHALLENGE_PATH, REGISTER_RESPONSE_PATH, REGISTRATION_STATES, type RegistrationState, type RegistrationStatus } from './registration';
export { DEFAULT_CREDENTIALS_FILE, CredentialsFileError, formatCredentials, generateCredentials, loadOrCreateCredentials, parseCredentials, readCredentials, type RelayCredentials } from './credentials';
export { createMetrics, type ConfigMetrics } from './metrics';
export * from './errors';
