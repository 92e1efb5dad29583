// One project-config request to a Relay-compatible upstream (POST /api/0/relays/projectconfigs/?version=3).

import { ConfigOptionsError, ProjectStateError, UpstreamHttpError, UpstreamNetworkError, UpstreamProtocolError, UpstreamTimeoutError } from './errors';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { parseProjectState, type ParsedProjectState } from './project-state';
import { RelayRegistration } from './registration';
import { RelaySigner } from './signing';

export const PROJECT_CONFIGS_PATH = '/api/0/relays/projectconfigs/?version=3';

export interface UpstreamConnectionOptions {
  /** Base URL of the upstream (Sentry or a Relay), e.g. `https://sentry.example.com`. */
  url: string;
  /** Relay credentials: requests are signed when `relayId` and `secretKey` are set. */
  relayId?: string;
  /** Relay secret key, base64url without padding (32-byte seed or 64-byte pair). */
  secretKey?: string;
  /** Relay public key; when given it is checked against `secretKey` at construction. */
  publicKey?: string;
  /** Bearer token sent as `Authorization: Bearer ...` (simpler deployments, e.g. this project's control plane). */
  token?: string;
  /** Ask for the full project config (needed for sampling; default true). */
  fullConfig?: boolean;
  /** Timeout of one HTTP request, ms (default 5000). */
  requestTimeout?: number;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * Register with the upstream (challenge and response) before the first signed request, as Relay
   * does; a real Sentry answers only registered relays (default true when signing).
   */
  register?: boolean;
}

/**
 * Sentry gives full configs (the ones holding `sampling`) to internal relays only; a relay an
 * organization trusts is external. Registering again would not help: say what would.
 */
export class FullConfigRefusedError extends UpstreamHttpError {
  constructor(body: string) {
    super(403, body);
    this.message =
      'the upstream refuses full project configs (with sampling) to this relay: it is trusted as an external relay only. ' +
      'Make it internal (self-hosted: add its public key to SENTRY_RELAY_WHITELIST_PK in sentry.conf.py)';
  }
}

/** The parsed answer for one batch; one bad entry never spoils the others. */
export interface ProjectConfigsAnswer {
  /** Entries of `configs`: a parsed state (null in the response = disabled) or why it could not be parsed. */
  configs: Map<string, ParsedProjectState | ProjectStateError>;
  pending: Set<string>;
  unchanged: Set<string>;
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new UpstreamProtocolError(`\`${field}\` is not a list of strings`);
  }
  return value as string[];
}

/** Parses a response body; throws UpstreamProtocolError when it is not a project-config response. */
export function parseProjectConfigsResponse(text: string): ProjectConfigsAnswer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new UpstreamProtocolError(`response is not JSON (${(err as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new UpstreamProtocolError('response is not a JSON object');
  }
  const { configs: rawConfigs, pending, unchanged } = body as Record<string, unknown>;
  if (rawConfigs !== undefined && (typeof rawConfigs !== 'object' || rawConfigs === null || Array.isArray(rawConfigs))) {
    throw new UpstreamProtocolError('`configs` is not an object');
  }
  const configs = new Map<string, ParsedProjectState | ProjectStateError>();
  for (const [key, value] of Object.entries((rawConfigs ?? {}) as Record<string, unknown>)) {
    try {
      configs.set(key, parseProjectState(key, value));
    } catch (err) {
      configs.set(key, err instanceof ProjectStateError ? err : new ProjectStateError(key, String(err)));
    }
  }
  return {
    configs,
    pending: new Set(stringList(pending, 'pending')),
    unchanged: new Set(stringList(unchanged, 'unchanged')),
  };
}

/** Sends single project-config requests; batching, retries and backoff live in the batcher. */
export class UpstreamClient {
  readonly endpoint: string;
  private readonly signer: RelaySigner | null;
  private readonly token: string | undefined;
  private readonly fullConfig: boolean;
  private readonly requestTimeout: number;
  private readonly extraHeaders: Record<string, string>;
  private readonly closing = new AbortController();
  /** Registration with the upstream (null: requests are not signed, or `register: false`). */
  readonly registration: RelayRegistration | null;

  constructor(options: UpstreamConnectionOptions, deps: { logger?: Logger; registry?: Registry } = {}) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new ConfigOptionsError(`upstream url is not a URL: ${String(options.url)}`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new ConfigOptionsError(`upstream url must be http(s): ${options.url}`);
    }
    this.endpoint = base.origin + base.pathname.replace(/\/+$/, '') + PROJECT_CONFIGS_PATH;
    const wantsSigning = options.relayId !== undefined || options.secretKey !== undefined;
    if (wantsSigning && (!options.relayId || !options.secretKey)) {
      throw new ConfigOptionsError('request signing needs both relayId and secretKey');
    }
    this.signer = wantsSigning ? new RelaySigner(options.relayId!, options.secretKey!, options.publicKey) : null;
    this.token = options.token;
    this.fullConfig = options.fullConfig ?? true;
    this.requestTimeout = options.requestTimeout ?? 5000;
    this.extraHeaders = options.headers ?? {};
    this.registration =
      this.signer && options.register !== false
        ? new RelayRegistration({
            baseUrl: base.origin + base.pathname.replace(/\/+$/, ''),
            signer: this.signer,
            publicKey: this.signer.publicKey,
            requestTimeout: this.requestTimeout,
            logger: deps.logger ?? pino({ level: 'silent' }),
            registry: deps.registry,
          })
        : null;
  }

  /** Serializes the request body for `keys` (exported shape for tests and logs). */
  body(keys: string[], revisions: (string | null)[], noCache: boolean): Buffer {
    return Buffer.from(JSON.stringify({ publicKeys: keys, revisions, fullConfig: this.fullConfig, noCache }));
  }

  /** Sends one request; throws an Upstream*Error on any failure of the request as a whole. */
  async fetchConfigs(keys: string[], revisions: (string | null)[], noCache = false): Promise<ProjectConfigsAnswer> {
    await this.registration?.ensure();
    const body = this.body(keys, revisions, noCache);
    const headers: Record<string, string> = {
      ...this.extraHeaders,
      'Content-Type': 'application/json',
      Accept: 'application/json',
    };
    if (this.signer) Object.assign(headers, this.signer.headers(body));
    if (this.token) headers.Authorization = `Bearer ${this.token}`;

    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new UpstreamTimeoutError(this.requestTimeout)), this.requestTimeout);
    const signal = AbortSignal.any([timeout.signal, this.closing.signal]);
    let text: string;
    let status: number;
    try {
      const response = await fetch(this.endpoint, { method: 'POST', headers, body, signal });
      status = response.status;
      text = await response.text();
    } catch (err) {
      if (timeout.signal.aborted) throw new UpstreamTimeoutError(this.requestTimeout);
      if (this.closing.signal.aborted) throw new UpstreamNetworkError('request aborted: source closed');
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new UpstreamNetworkError(`request failed: ${detail}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if (status === 403 && /full config/i.test(text)) throw new FullConfigRefusedError(text);
    if (status === 401 || status === 403) this.registration?.invalidate(status);
    if (status < 200 || status >= 300) throw new UpstreamHttpError(status, text);
    return parseProjectConfigsResponse(text);
  }

  /** Aborts requests in flight. */
  close(): void {
    this.closing.abort();
    this.registration?.close();
  }
}
