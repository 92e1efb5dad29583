// Public entry of the ingestion server: startServer and what it takes and returns.

export { startServer, type RunningServer } from './server';
export type { ServerOptions, ConfigSourceOption, EnvelopeObservation } from './options';
export { parseServeArgs, SERVE_USAGE, type ServeArgs } from './args';
export { runServer, projectsOfFile } from './run';
export { parseSinkSpec, createSink, type SinkSpec } from './sinks/create';
export type { EnvelopeSink, KeptEnvelope } from './sinks/types';
export { parseJsonLines, toRecord, type KeptRecord } from './sinks/record';
export { UpstreamSink, type UpstreamSinkOptions } from './sinks/upstream';
export type { StatsSnapshot, ProjectStats } from './stats';
export * from './errors';
export { RootCounter, type RootInput } from './roots';
export { IpcTrafficRecorder } from './cluster';
