// Command-line flags and environment variables of `dynamic-sampling serve` and `npm start`.

import { ServerOptionsError } from './errors';
import { metricsAccessFromArgs, type MetricsAccessOptions } from './http/access';
import { DEFAULTS } from './options';
import { parseSinkSpec, type SinkSpec } from './sinks/create';
import { FORWARD_ENCODINGS, type ForwardEncoding } from './sinks/upstream';
import { DEFAULT_CREDENTIALS_FILE } from '../configs/credentials';
import type { ConfigSourceOption } from './options';

export interface ServeArgs {
  host: string;
  port: number;
  configs: ConfigSourceOption | null;
  redis?: string;
  sink: SinkSpec;
  maxBodySize: number;
  workers: number;
  /** ms; 0 turns the summary off. */
  summaryInterval: number;
  /** Who may read /metrics and /stats. */
  metricsAccess: NonNullable<MetricsAccessOptions['metricsAccess']>;
  metricsTokens: string[];
  /** ms (undefined: the server's defaults). */
  requestTimeout?: number;
  headersTimeout?: number;
  shutdownTimeout?: number;
  /** Refuse (503) keys whose config cannot be loaded instead of accepting them unchecked. */
  rejectUnknownKeys: boolean;
  /** Accept reservoir rules (rejected by default, as current Relay does). */
  reservoirRules: boolean;
  /** `--upstream`: run as a Relay in front of Sentry (configs, forwarding and outcomes), with these credentials. */
  upstream: { url: string; credentialsFile: string; emitOutcomes: boolean } | null;
  /** Count trace roots into `redis` for the control plane. */
  countRoots: boolean;
  /** How long a fetched config is fresh, ms (undefined: 300 s, Relay's default). */
  configsExpiry?: number;
  help: boolean;
}

export const SERVE_USAGE = `options (flag, environment variable, default):
  --host HOST                HOST                  interface to listen on (127.0.0.1)
  --port N                   PORT                  port (3000; 0 picks a free one)
  --upstream URL             DS_UPSTREAM           run as a Relay in front of Sentry (or a Relay): register with
                                                   it, fetch project configs, forward kept envelopes (unless
                                                   --sink says otherwise) and report drops as outcomes
  --credentials FILE         DS_CREDENTIALS        Relay credentials for --upstream, created when absent
                                                   (${DEFAULT_CREDENTIALS_FILE}; see \`dynamic-sampling credentials\`)
  --emit-outcomes[=false]    DS_EMIT_OUTCOMES      with --upstream: send outcomes of what is dropped (true)
  --forward-encoding ENC     DS_FORWARD_ENCODING   compress forwarded envelopes: identity, gzip, deflate, br
                                                   (identity)
  --configs-file FILE        DS_CONFIGS_FILE       project configs from a JSON/YAML file
                                                   ({configs: {publicKey: projectState}}), reloaded on change
  --configs-upstream URL     DS_CONFIGS_UPSTREAM   or from Sentry / a Relay (project-config protocol)
  --relay-id ID              DS_RELAY_ID           Relay credentials for the upstream (signed requests)
  --relay-secret KEY         DS_RELAY_SECRET
  --configs-token TOKEN      DS_CONFIGS_TOKEN      or a bearer token for the upstream
  --redis URL                DS_REDIS, REDIS_URL   share configs and reservoir counters with other processes
  --configs-expiry SEC       DS_CONFIGS_EXPIRY     how long a fetched project config is fresh (300); with --redis the
                                                   fleet fetches each key once per expiry
  --count-roots              DS_COUNT_ROOTS        count trace roots into --redis for the control plane that keeps
                                                   its state there (--control-redis), wherever it runs
  --sink SPEC                DS_SINK               where kept envelopes go: file:PATH (JSON Lines), stdout,
                                                   or http(s)://relay-or-sentry (file:./data/kept.jsonl)
  --queue-size N             DS_QUEUE_SIZE         upstream sink: queued envelopes before 503 (10000)
  --queue-bytes N            DS_QUEUE_BYTES        upstream sink: queued bytes before 503 (268435456)
  --max-body BYTES           DS_MAX_BODY           body limit, compressed and decompressed (20971520)
  --workers N                DS_WORKERS            worker processes sharing the port (1)
  --summary-interval SEC     DS_SUMMARY_INTERVAL   console summary every SEC seconds (5; 0: off)
  --metrics-access MODE      DS_METRICS_ACCESS     who may read /metrics and /stats: loopback (clients on
                                                   127.0.0.0/8, ::1), token, or open (loopback; token with a token)
  --metrics-token TOKEN      DS_METRICS_TOKEN      bearer token(s) for --metrics-access token, comma-separated
  --metrics-token-file FILE  DS_METRICS_TOKEN_FILE or read from a file (one per line)
  --headers-timeout SEC      DS_HEADERS_TIMEOUT    a client must send its request headers within SEC (10), else 408
  --request-timeout SEC      DS_REQUEST_TIMEOUT    ... and its whole request within SEC (30), else 408
  --shutdown-timeout SEC     DS_SHUTDOWN_TIMEOUT   on SIGTERM, requests in flight get SEC to finish (10)
  --reject-unknown-keys      DS_REJECT_UNKNOWN_KEYS  while the configs source cannot answer, refuse unchecked keys
                                                   with 503 instead of accepting them (see the server README)
  --reservoir-rules          DS_RESERVOIR_RULES    accept historical reservoir rules (rejected by default, as
                                                   current Relay does); counted fleet-wide with --redis
  -h, --help
`;

const FLAGS: Record<string, string[]> = {
  upstream: ['DS_UPSTREAM'],
  credentials: ['DS_CREDENTIALS'],
  'emit-outcomes': ['DS_EMIT_OUTCOMES'],
  'forward-encoding': ['DS_FORWARD_ENCODING'],
  host: ['HOST'],
  port: ['PORT'],
  'configs-file': ['DS_CONFIGS_FILE'],
  'configs-upstream': ['DS_CONFIGS_UPSTREAM'],
  'relay-id': ['DS_RELAY_ID'],
  'relay-secret': ['DS_RELAY_SECRET'],
  'configs-token': ['DS_CONFIGS_TOKEN'],
  redis: ['DS_REDIS', 'REDIS_URL'],
  sink: ['DS_SINK'],
  'queue-size': ['DS_QUEUE_SIZE'],
  'queue-bytes': ['DS_QUEUE_BYTES'],
  'max-body': ['DS_MAX_BODY'],
  workers: ['DS_WORKERS'],
  'summary-interval': ['DS_SUMMARY_INTERVAL'],
  'metrics-access': ['DS_METRICS_ACCESS'],
  'metrics-token': ['DS_METRICS_TOKEN'],
  'metrics-token-file': ['DS_METRICS_TOKEN_FILE'],
  'headers-timeout': ['DS_HEADERS_TIMEOUT'],
  'request-timeout': ['DS_REQUEST_TIMEOUT'],
  'shutdown-timeout': ['DS_SHUTDOWN_TIMEOUT'],
  'reject-unknown-keys': ['DS_REJECT_UNKNOWN_KEYS'],
  'reservoir-rules': ['DS_RESERVOIR_RULES'],
  'count-roots': ['DS_COUNT_ROOTS'],
  'configs-expiry': ['DS_CONFIGS_EXPIRY'],
};

/** Flags that take no value. */
export const BOOLEAN_FLAGS = new Set(['reject-unknown-keys', 'reservoir-rules', 'emit-outcomes', 'count-roots']);

/** A duration in seconds (fractions allowed) → ms; `positive` refuses 0. */
function seconds(name: string, text: string | undefined, positive = true): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) throw new ServerOptionsError(`--${name} must be a number of seconds${positive ? ' > 0' : ' >= 0'}, got "${text}"`);
  return Math.round(value * 1000);
}

const truthy = (value: string | undefined): boolean => value !== undefined && value !== '' && !/^(0|false|no|off)$/i.test(value);

function integer(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new ServerOptionsError(`--${name} must be an integer >= ${min}, got "${text}"`);
  return value;
}

/** Reads flags (`--name value` or `--name=value`), falling back to the environment, then to `defaults`. */
export function parseServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, defaults: { configsFile?: string } = {}): ServeArgs {
  const given = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new ServerOptionsError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!(name in FLAGS)) throw new ServerOptionsError(`unknown option --${name}`);
    if (BOOLEAN_FLAGS.has(name)) {
      given.set(name, eq < 0 ? 'true' : arg.slice(eq + 1));
      continue;
    }
    let value: string | undefined = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ServerOptionsError(`--${name} needs a value`);
    given.set(name, value);
  }
  const get = (name: string): string | undefined => {
    if (given.has(name)) return given.get(name);
    for (const variable of FLAGS[name]) {
      const value = env[variable];
      if (value !== undefined && value !== '') return value;
    }
    return undefined;
  };

  const file = get('configs-file') ?? undefined;
  const upstream = get('configs-upstream');
  if (file !== undefined && upstream !== undefined) throw new ServerOptionsError('give either --configs-file or --configs-upstream, not both');
  const relayUpstream = get('upstream');
  if (relayUpstream !== undefined && (file !== undefined || upstream !== undefined)) throw new ServerOptionsError('--upstream fetches the project configs itself: leave out --configs-file and --configs-upstream');
  let configs: ConfigSourceOption | null = null;
  if (relayUpstream !== undefined) {
    // Credentials are read (or created) when the server starts: runServer fills them in.
    configs = { upstream: { url: relayUpstream } };
  } else if (upstream !== undefined) {
    configs = { upstream: { url: upstream, relayId: get('relay-id'), secretKey: get('relay-secret'), token: get('configs-token') } };
  } else if (file !== undefined || defaults.configsFile !== undefined) {
    configs = { file: file ?? defaults.configsFile! };
  }

  let sink = get('sink') === undefined ? (relayUpstream !== undefined ? parseSinkSpec(relayUpstream) : DEFAULTS.sink) : parseSinkSpec(get('sink')!);
  const encoding = get('forward-encoding');
  if (encoding !== undefined) {
    if (!(FORWARD_ENCODINGS as readonly string[]).includes(encoding)) throw new ServerOptionsError(`--forward-encoding must be one of ${FORWARD_ENCODINGS.join(', ')}, got "${encoding}"`);
    if (sink.type !== 'upstream') throw new ServerOptionsError('--forward-encoding applies to forwarding only (--upstream, or --sink http(s)://...)');
    sink = { ...sink, encoding: encoding as ForwardEncoding };
  }
  if (sink.type === 'upstream') {
    const size = get('queue-size');
    const bytes = get('queue-bytes');
    sink = { ...sink, ...(size ? { maxQueue: integer('queue-size', size, 1) } : {}), ...(bytes ? { maxQueueBytes: integer('queue-bytes', bytes, 1) } : {}) };
  }
  if (truthy(get('count-roots')) && get('redis') === undefined) throw new ServerOptionsError('--count-roots needs --redis (the Redis the control plane keeps its counts in)');
  const port = get('port');
  const maxBody = get('max-body');
  const workers = get('workers');
  const summary = get('summary-interval');
  const portValue = port === undefined ? DEFAULTS.port : integer('port', port, 0);
  if (portValue > 65535) throw new ServerOptionsError(`--port must be at most 65535, got ${portValue}`);
  return {
    host: get('host') ?? DEFAULTS.host,
    port: portValue,
    configs,
    redis: get('redis'),
    sink,
    maxBodySize: maxBody === undefined ? DEFAULTS.maxBodySize : integer('max-body', maxBody, 1),
    workers: workers === undefined ? 1 : integer('workers', workers, 1),
    summaryInterval: summary === undefined ? DEFAULTS.summaryInterval : Math.round(Number(summary) * 1000),
    ...(metricsAccessFromArgs(get) as Pick<ServeArgs, 'metricsAccess' | 'metricsTokens'>),
    headersTimeout: seconds('headers-timeout', get('headers-timeout')),
    requestTimeout: seconds('request-timeout', get('request-timeout')),
    shutdownTimeout: seconds('shutdown-timeout', get('shutdown-timeout'), false),
    rejectUnknownKeys: truthy(get('reject-unknown-keys')),
    reservoirRules: truthy(get('reservoir-rules')),
    upstream:
      relayUpstream === undefined
        ? null
        : { url: relayUpstream, credentialsFile: get('credentials') ?? DEFAULT_CREDENTIALS_FILE, emitOutcomes: get('emit-outcomes') === undefined || truthy(get('emit-outcomes')) },
    countRoots: truthy(get('count-roots')),
    configsExpiry: seconds('configs-expiry', get('configs-expiry')),
    help,
  };
}
