// Authentication: the project key from X-Sentry-Auth, the query or the envelope's DSN, checked against the project's config.

import type { IncomingHttpHeaders } from 'node:http';

import type { ProjectConfigService } from '../../configs';
import { AuthError, KeyUncheckedError } from '../errors';

/** A field (`sentry_key`, `sentry_client`) of an `X-Sentry-Auth` (or `Authorization: Sentry ...`) header value. */
function authField(value: string | undefined, name: string): string | null {
  if (value === undefined) return null;
  const text = value.trim().replace(/^sentry\s+/i, '');
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim().toLowerCase() === name) {
      const field = part.slice(eq + 1).trim();
      return field === '' ? null : field;
    }
  }
  return null;
}

/** The `sentry_key` of an `X-Sentry-Auth` (or `Authorization: Sentry ...`) header value. */
export function keyFromAuthHeader(value: string | undefined): string | null {
  return authField(value, 'sentry_key');
}

/** Parsed `X-Sentry-Auth` values: an SDK sends the same one with every request. */
const AUTH_CACHE_SIZE = 1024;
const parsedAuth = new Map<string, { key: string | null; client: string | null }>();

/** The `sentry_key` and `sentry_client` of an `X-Sentry-Auth` value (parsed once per distinct value). */
function sentryAuth(value: string): { key: string | null; client: string | null } {
  let parsed = parsedAuth.get(value);
  if (parsed === undefined) {
    parsed = { key: authField(value, 'sentry_key'), client: authField(value, 'sentry_client') };
    // Bounded: clients choose the value.
    if (parsedAuth.size >= AUTH_CACHE_SIZE) parsedAuth.clear();
    parsedAuth.set(value, parsed);
  }
  return parsed;
}

/** The SDK's `sentry_client` from X-Sentry-Auth, `Authorization: Sentry ...` or the query (browser SDKs). */
export function clientFromRequest(headers: IncomingHttpHeaders, query: URLSearchParams): string | null {
  const auth = headers['x-sentry-auth'];
  const first = Array.isArray(auth) ? auth[0] : auth;
  const authorization = headers.authorization;
  const fromHeader = (first === undefined ? null : sentryAuth(first).client) ?? (authorization !== undefined && /^sentry\s/i.test(authorization) ? authField(authorization, 'sentry_client') : null);
  const value = fromHeader ?? query.get('sentry_client');
  // It travels on in a header of the forwarded request: printable ASCII only.
  return value === null || value === '' || !/^[\x20-\x7e]+$/.test(value) ? null : value.replace(/,/g, ' ');
}

/** The key a request carries in its headers or query (before the envelope header is read). */
export function keyFromRequest(headers: IncomingHttpHeaders, query: URLSearchParams): string | null {
  const auth = headers['x-sentry-auth'];
  const first = Array.isArray(auth) ? auth[0] : auth;
  const fromHeader = first === undefined ? null : sentryAuth(first).key;
  if (fromHeader !== null) return fromHeader;
  const authorization = headers.authorization;
  if (authorization !== undefined && /^sentry\s/i.test(authorization)) {
    const key = keyFromAuthHeader(authorization);
    if (key !== null) return key;
  }
  const fromQuery = query.get('sentry_key');
  return fromQuery === null || fromQuery === '' ? null : fromQuery;
}

/** The project a key was checked against; `verified` is false when its config could not be loaded (kept, not checked). */
export interface AuthenticatedProject {
  publicKey: string;
  projectId: number;
  organizationId: number | null;
  /** The key's numeric id from the project config (Relay's `key_id` in outcomes), null when unknown. */
  keyId: number | null;
  verified: boolean;
}

const KEY_PATTERN = /^[0-9a-f]{32}$/;

/** Checks keys against the project configs: unknown or disabled keys get 401, keys of another project 403. */
export class ProjectAuthenticator {
  constructor(
    private readonly configs: ProjectConfigService,
    /** How long a request may wait for a key's first config load, ms. */
    private readonly waitMs: number,
    /** Refuse (503) a key whose config cannot be loaded, instead of accepting it unchecked. */
    private readonly rejectUnchecked = false,
  ) {}

  /**
   * The project of `key`, at once when its config is loaded (or known to be unavailable); a
   * promise only while a key's first config load is awaited. Throws (or rejects) `AuthError`.
   */
  authenticate(key: string | null, projectId: number): AuthenticatedProject | Promise<AuthenticatedProject> {
    if (key === null) throw new AuthError(401, 'missing authorization information: no sentry_key in X-Sentry-Auth, the query or the envelope dsn');
    const publicKey = key.toLowerCase();
    if (!KEY_PATTERN.test(publicKey)) throw new AuthError(401, 'invalid project key: expected 32 hex digits');
    const lookup = this.configs.get(publicKey);
    if (lookup.state === 'pending') {
      return this.configs.prefetch([publicKey], { timeout: this.waitMs }).then(() => this.checked(publicKey, projectId, this.configs.get(publicKey)));
    }
    return this.checked(publicKey, projectId, lookup);
  }

  private checked(publicKey: string, projectId: number, lookup: ReturnType<ProjectConfigService['get']>): AuthenticatedProject {
    switch (lookup.state) {
      case 'fresh':
      case 'stale': {
        const info = lookup.info!;
        if (info.projectId !== projectId) throw new AuthError(403, `the project key does not belong to project ${projectId}`);
        return { publicKey, projectId, organizationId: info.organizationId, keyId: lookup.keyId ?? null, verified: true };
      }
      case 'disabled':
        throw new AuthError(401, 'unknown or disabled project key');
      default:
        // No config could be loaded (source failing or slow): by default keep the envelope rather than lose it.
        if (this.rejectUnchecked) throw new KeyUncheckedError(Math.max(1, Math.ceil(this.waitMs / 1000)));
        return { publicKey, projectId, organizationId: null, keyId: null, verified: false };
    }
  }
}
