// Relay registration with an upstream (relay-auth): challenge, then signed response, before any authenticated request.

import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

import { Backoff, type BackoffOptions } from './backoff';
import { ProjectConfigError, UpstreamNetworkError, UpstreamTimeoutError, describeError } from './errors';
import type { RelaySigner } from './signing';

export const REGISTER_CHALLENGE_PATH = '/api/0/relays/register/challenge/';
export const REGISTER_RESPONSE_PATH = '/api/0/relays/register/response/';

/** The Relay version this client announces (Sentry refuses versions it no longer supports). */
export const RELAY_PROTOCOL_VERSION = '25.1.0';

export type RegistrationState =
  /** Not yet tried, or the upstream refused a registered relay (401/403) and it must register again. */
  | 'unregistered'
  | 'registering'
  | 'registered'
  /** The upstream refused the challenge (401/403): the organization does not trust this public key. */
  | 'not_trusted'
  /** The last attempt failed otherwise (network, 5xx, bad answer); retried with backoff. */
  | 'failed'
  /** The upstream has no registration endpoints (404): requests go signed without registering. */
  | 'unsupported';

export const REGISTRATION_STATES: readonly RegistrationState[] = ['unregistered', 'registering', 'registered', 'not_trusted', 'failed', 'unsupported'];

/** Registration failed; requests that need it fail with this error until it succeeds. */
export class RegistrationError extends ProjectConfigError {}

/** The upstream does not trust this relay's public key (the message names the key). */
export class RelayNotTrustedError extends RegistrationError {
  constructor(readonly publicKey: string, readonly status: number, readonly detail: string) {
    super(
      `this relay's public key is not trusted by the organization: ${publicKey} ` +
        `(upstream answered ${status}${detail ? `: ${detail}` : ''}); add it to the organization's trusted relays ` +
        `(Settings > Relay) or, on self-hosted, to SENTRY_RELAY_WHITELIST_PK`,
    );
  }
}

export interface RegistrationStatus {
  state: RegistrationState;
  relayId: string;
  publicKey: string;
  /** Why the last attempt failed, while it has not succeeded since. */
  error?: string;
  /** When the state last changed (ISO time). */
  since: string;
}

export interface RegistrationOptions {
  /** Base URL of the upstream, without a trailing slash. */
  baseUrl: string;
  signer: RelaySigner;
  publicKey: string;
  version?: string;
  /** Timeout of one request, ms (default 5000). */
  requestTimeout?: number;
  /** Delay between failed attempts (default 1 s ×1.5 up to 60 s, as Relay's). */
  backoff?: BackoffOptions;
  logger: Logger;
  registry?: Registry;
  now?: () => number;
}

function registrationGauge(registry: Registry): Gauge<'state'> {
  const name = 'dynamic_sampling_configs_relay_registration';
  return (
    (registry.getSingleMetric(name) as Gauge<'state'> | undefined) ??
    new Gauge({ name, help: 'Registration of this relay with the upstream: 1 for the current state.', labelNames: ['state'] as const, registers: [registry] })
  );
}

function detailOf(text: string): string {
  try {
    const body = JSON.parse(text) as { detail?: unknown };
    if (typeof body?.detail === 'string') return body.detail;
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 200);
}

/** Registers once, single-flight; re-registers after `invalidate`. Attempts after a failure wait for the backoff. */
export class RelayRegistration {
  private current: RegistrationState = 'unregistered';
  private since: number;
  private lastError: Error | null = null;
  private inFlight: Promise<void> | null = null;
  private nextAttemptAt = 0;
  private notTrustedLogged = false;
  private readonly backoff: Backoff;
  private readonly gauge: Gauge<'state'> | null;
  private readonly now: () => number;
  private readonly closing = new AbortController();

  constructor(private readonly options: RegistrationOptions) {
    this.now = options.now ?? Date.now;
    this.since = this.now();
    this.backoff = new Backoff(options.backoff);
    this.gauge = options.registry ? registrationGauge(options.registry) : null;
    this.setState('unregistered');
  }

  get state(): RegistrationState {
    return this.current;
  }

  /** The upstream registered with (other clients of the same upstream share this registration). */
  get baseUrl(): string {
    return this.options.baseUrl;
  }

  status(): RegistrationStatus {
    return {
      state: this.current,
      relayId: this.options.signer.relayId,
      publicKey: this.options.publicKey,
      ...(this.lastError ? { error: this.lastError.message } : {}),
      since: new Date(this.since).toISOString(),
    };
  }

  /** Resolves once registered (or when the upstream has no registration); rejects with the reason otherwise. */
  ensure(): Promise<void> {
    if (this.current === 'registered' || this.current === 'unsupported') return Promise.resolve();
    if (this.inFlight) return this.inFlight;
    if (this.lastError && this.now() < this.nextAttemptAt) return Promise.reject(this.lastError);
    this.inFlight = this.register().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** The upstream refused an authenticated request (401/403): register again before the next one. */
  invalidate(status: number): void {
    if (this.current !== 'registered') return;
    this.options.logger.warn({ status }, 'upstream refused this relay: registering again');
    this.setState('unregistered');
  }

  close(): void {
    this.closing.abort();
  }

  private setState(state: RegistrationState): void {
    if (state !== this.current) this.since = this.now();
    this.current = state;
    if (this.gauge) for (const s of REGISTRATION_STATES) this.gauge.set({ state: s }, s === state ? 1 : 0);
  }

  private async register(): Promise<void> {
    const { signer, publicKey, logger } = this.options;
    const version = this.options.version ?? RELAY_PROTOCOL_VERSION;
    this.setState('registering');
    try {
      const challenge = await this.post(REGISTER_CHALLENGE_PATH, { relay_id: signer.relayId, public_key: publicKey, version });
      if (challenge.status === 404) {
        this.succeed('unsupported');
        logger.warn('the upstream has no relay registration endpoints: requests go signed without registering');
        return;
      }
      if (challenge.status === 401 || challenge.status === 403) throw new RelayNotTrustedError(publicKey, challenge.status, detailOf(challenge.text));
      if (challenge.status !== 200) throw new RegistrationError(`registration challenge answered HTTP ${challenge.status}: ${detailOf(challenge.text)}`);
      const token = this.tokenOf(challenge.text);
      const response = await this.post(REGISTER_RESPONSE_PATH, { relay_id: signer.relayId, token, version });
      if (response.status === 401 || response.status === 403) throw new RelayNotTrustedError(publicKey, response.status, detailOf(response.text));
      if (response.status !== 200) throw new RegistrationError(`registration response answered HTTP ${response.status}: ${detailOf(response.text)}`);
      this.succeed('registered');
      logger.info({ relayId: signer.relayId }, 'registered with the upstream');
    } catch (err) {
      const error = err instanceof ProjectConfigError ? err : new RegistrationError(`registration failed: ${describeError(err)}`, { cause: err });
      this.lastError = error;
      this.nextAttemptAt = this.now() + this.backoff.fail();
      if (error instanceof RelayNotTrustedError) {
        this.setState('not_trusted');
        // Said once loudly; the attempts go on with backoff (an admin may add the key meanwhile).
        if (!this.notTrustedLogged) logger.error({ publicKey, relayId: signer.relayId, status: error.status }, error.message);
        this.notTrustedLogged = true;
      } else {
        this.setState('failed');
        logger.warn({ err: error.message, retryInMs: this.backoff.current }, 'relay registration failed');
      }
      throw error;
    }
  }

  private succeed(state: RegistrationState): void {
    this.lastError = null;
    this.notTrustedLogged = false;
    this.backoff.reset();
    this.setState(state);
  }

  private tokenOf(text: string): string {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new RegistrationError('registration challenge answer is not JSON');
    }
    const { relay_id: relayId, token } = (body ?? {}) as Record<string, unknown>;
    if (typeof token !== 'string' || token === '') throw new RegistrationError('registration challenge answer has no `token`');
    if (typeof relayId === 'string' && relayId.toLowerCase() !== this.options.signer.relayId.toLowerCase()) {
      throw new RegistrationError(`registration challenge is for relay ${relayId}, not ${this.options.signer.relayId}`);
    }
    return token;
  }

  private async post(path: string, payload: unknown): Promise<{ status: number; text: string }> {
    const body = Buffer.from(JSON.stringify(payload));
    const timeoutMs = this.options.requestTimeout ?? 5000;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const response = await fetch(this.options.baseUrl + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...this.options.signer.headers(body) },
        body,
        signal: AbortSignal.any([timeout, this.closing.signal]),
      });
      return { status: response.status, text: await response.text() };
    } catch (err) {
      if (timeout.aborted) throw new UpstreamTimeoutError(timeoutMs);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UpstreamNetworkError(`registration request failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
    }
  }
}
