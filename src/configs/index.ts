// Public entry of project-config fetching and caching: the service, its options, the sink boundary and errors.

export { ProjectConfigService } from './service';
export type { CacheOptions, LookupResult, ProjectConfigServiceOptions, SourceOptions, StateListener } from './service';
export type { ConfigSink, ProjectInfo } from './sink';
export type { KeyState, CacheTimings, SinkRejection } from './states';
export { KEY_STATES } from './states';
export type { InvalidateTarget } from './redis-cache';
export type { ConfigSource, SourceResult, SourceListener, RequestOptions } from './source';
export { UpstreamSource, type BatchingOptions, type UpstreamSourceOptions } from './batcher';
export { UpstreamClient, FullConfigRefusedError, PROJECT_CONFIGS_PATH, parseProjectConfigsResponse, type UpstreamConnectionOptions } from './upstream';
export { FileSource, parseConfigFile, type FileSourceOptions } from './file-source';
export { parseProjectState, type ParsedProjectState, type RawProjectState } from './project-state';
export { RelaySigner, generateRelayKeyPair, signRelayPayload, verifyRelaySignature, parseSecretKey, parsePublicKey } from './signing';
export { RelayRegistration, RegistrationError, RelayNotTrustedError, REGISTER_CHALLENGE_PATH, REGISTER_RESPONSE_PATH, REGISTRATION_STATES, type RegistrationState, type RegistrationStatus } from './registration';
export { DEFAULT_CREDENTIALS_FILE, CredentialsFileError, formatCredentials, generateCredentials, loadOrCreateCredentials, parseCredentials, readCredentials, type RelayCredentials } from './credentials';
export { createMetrics, type ConfigMetrics } from './metrics';
export * from './errors';
