// Public entry of the ingestion server: startServer and what it takes and returns.

export { startServer, type RunningServer } from './server';
export type { ServerOptions, ConfigSourceOption, EnvelopeObservation } from './options';
export { parseServeArgs, SERVE_USAGE, type ServeArgs } from './args';
export { runServer, projectsOfFile, relayOptions } from './run';
export { parseSinkSpec, createSink, type SinkSpec } from './sinks/create';
export type { EnvelopeSink, KeptEnvelope } from './sinks/types';
export { parseJsonLines, toRecord, type KeptRecord } from './sinks/record';
export { UpstreamSink, FORWARD_ENCODINGS, type ForwardEncoding, type UpstreamSinkOptions } from './sinks/upstream';
export { OutcomeReporter, OUTCOMES_PATH, OUTCOME_ID, type OutcomeEvent, type OutcomeReporterOptions, type ReportedOutcome } from './outcomes/reporter';
export { DATA_CATEGORY, itemCategories, type CategoryQuantity } from './outcomes/categories';
export type { StatsSnapshot, ProjectStats } from './stats';
export * from './errors';
export { ReservoirAwareEngine } from './reservoir/engine';
export { RootCounter, type RootInput } from './roots';
export { IpcTrafficRecorder } from './cluster';
