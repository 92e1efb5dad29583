// Authenticates config requests: Relay signatures from known relays (Ed25519, relay-auth format) and bearer tokens.

import type { IncomingHttpHeaders } from 'node:http';
import { bearerToken, matchesAny } from '../../access/tokens';
import { verifyRelaySignature } from '../../configs/signing';
import type { RelayRegistry } from '../relays/registry';

/** Signatures older (or newer) than this are refused (replay protection), ms. */
export const SIGNATURE_MAX_AGE_MS = 5 * 60 * 1000;

/** 401: bad or missing credentials; 403: none configured and the client is not trusted (protected mode). */
export type AuthResult = { ok: true; via: 'relay' | 'token' | 'open'; relayId?: string } | { ok: false; status: 401 | 403; reason: string };

export class RequestAuthenticator {
  constructor(
    /** Configured and registered relays: their signed requests are accepted. */
    private readonly relays: RelayRegistry,
    private readonly tokens: readonly string[],
    /** With neither relays nor tokens configured, accept any client, not only trusted ones (`insecureOpen`). */
    private readonly open: boolean,
    private readonly wallClock: () => number = Date.now,
  ) {}

  /** Whether any credential is configured. */
  get configured(): boolean {
    return this.relays.configured || this.tokens.length > 0;
  }

  /** Checks a bearer token against the configured tokens (constant time). */
  checkToken(headers: IncomingHttpHeaders, tokens: readonly string[] = this.tokens): boolean {
    return matchesAny(bearerToken(headers), tokens);
  }

  /**
   * A signed request from a known relay, or a valid bearer token. Without any credential configured:
   * trusted (loopback) clients only, or anyone when `open`.
   */
  async authenticate(headers: IncomingHttpHeaders, body: Buffer, clientTrusted: boolean): Promise<AuthResult> {
    const relayId = headers['x-sentry-relay-id'];
    const signature = headers['x-sentry-relay-signature'];
    if (typeof relayId === 'string' && typeof signature === 'string') {
      const key = await this.relays.verifierOf(relayId);
      if (key) {
        const header = verifyRelaySignature(key, body, signature);
        if (!header) return { ok: false, status: 401, reason: 'invalid relay signature' };
        const t = header.t === undefined ? Number.NaN : Date.parse(header.t);
        if (!Number.isFinite(t) || Math.abs(this.wallClock() - t) > SIGNATURE_MAX_AGE_MS) return { ok: false, status: 401, reason: 'relay signature expired' };
        return { ok: true, via: 'relay', relayId };
      }
      if (!this.checkToken(headers)) return { ok: false, status: 401, reason: `unknown relay ${relayId}` };
    }
    if (this.checkToken(headers)) return { ok: true, via: 'token' };
    if (!this.configured) {
      if (this.open || clientTrusted) return { ok: true, via: 'open' };
      return { ok: false, status: 403, reason: 'no relays or tokens are configured: the project config endpoint serves loopback clients only' };
    }
    return { ok: false, status: 401, reason: 'missing or invalid credentials' };
  }
}
