// `dynamic-sampling/server`: the ingestion server (startServer), what it takes and returns, and its sinks.

export { startServer, type RunningServer } from './server';
export type { ServerOptions, ConfigSourceOption, EnvelopeObservation } from './options';
export { parseSinkSpec, type SinkSpec } from './sinks/create';
export type { EnvelopeSink, KeptEnvelope } from './sinks/types';
export { parseJsonLines, type KeptRecord } from './sinks/record';
export { UpstreamSink, type UpstreamSinkOptions } from './sinks/upstream';
export { type ForwardEncoding } from './sinks/upstream';
export type { OutcomeReporterOptions, ReportedOutcome } from './outcomes/reporter';
export type { StatsSnapshot, ProjectStats } from './stats';
export * from './errors';
export type { MetricsAccess } from './http/access';
