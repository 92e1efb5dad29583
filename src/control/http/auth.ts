// Authenticates requests: Relay signatures from known relays (Ed25519, relay-auth format) and bearer tokens.

import { timingSafeEqual, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parsePublicKey, verifyRelaySignature } from '../../configs/signing';
import { ControlPlaneOptionsError } from '../errors';
import type { RelayDefinition } from '../definitions/types';

/** Signatures older (or newer) than this are refused (replay protection), ms. */
export const SIGNATURE_MAX_AGE_MS = 5 * 60 * 1000;

export type AuthResult = { ok: true; via: 'relay' | 'token' | 'open'; relayId?: string } | { ok: false; reason: string };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class RequestAuthenticator {
  private readonly relays = new Map<string, KeyObject>();

  constructor(
    relays: readonly RelayDefinition[],
    private readonly tokens: readonly string[],
    /** Accept requests without credentials (only when neither relays nor tokens are configured). */
    private readonly open: boolean,
    private readonly wallClock: () => number = Date.now,
  ) {
    for (const relay of relays) {
      try {
        this.relays.set(relay.relayId, parsePublicKey(relay.publicKey));
      } catch (err) {
        throw new ControlPlaneOptionsError(`relays[${relay.relayId}]`, (err as Error).message);
      }
    }
  }

  /** Whether any credential is configured. */
  get configured(): boolean {
    return this.relays.size > 0 || this.tokens.length > 0;
  }

  /** Checks a bearer token against the configured tokens. */
  checkToken(headers: IncomingHttpHeaders, tokens: readonly string[] = this.tokens): boolean {
    const header = headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
    const given = header.slice(7).trim();
    return tokens.some((t) => sameSecret(t, given));
  }

  /** A signed request from a known relay, or a valid bearer token (or an open server). */
  authenticate(headers: IncomingHttpHeaders, body: Buffer): AuthResult {
    const relayId = headers['x-sentry-relay-id'];
    const signature = headers['x-sentry-relay-signature'];
    if (typeof relayId === 'string' && typeof signature === 'string') {
      const key = this.relays.get(relayId);
      if (key) {
        const header = verifyRelaySignature(key, body, signature);
        if (!header) return { ok: false, reason: 'invalid relay signature' };
        const t = header.t === undefined ? Number.NaN : Date.parse(header.t);
        if (!Number.isFinite(t) || Math.abs(this.wallClock() - t) > SIGNATURE_MAX_AGE_MS) return { ok: false, reason: 'relay signature expired' };
        return { ok: true, via: 'relay', relayId };
      }
      if (!this.checkToken(headers)) return { ok: false, reason: `unknown relay ${relayId}` };
    }
    if (this.checkToken(headers)) return { ok: true, via: 'token' };
    if (this.open && !this.configured) return { ok: true, via: 'open' };
    return { ok: false, reason: 'missing or invalid credentials' };
  }
}
