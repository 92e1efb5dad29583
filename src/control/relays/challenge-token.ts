// Registration challenge tokens: a state (relay id, public key, time, nonce) the upstream signs with its own secret.
// Opaque to the relay; checked when the relay answers (signature, age, and that it names this relay).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ChallengeState {
  relayId: string;
  publicKey: string;
  /** Unix seconds when the challenge was issued. */
  issuedAt: number;
}

/** How long a challenge may be answered, seconds (Relay's `create_register_challenge` default). */
export const CHALLENGE_MAX_AGE_S = 60;

export type TokenCheck = { ok: true; state: ChallengeState } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

export class ChallengeTokens {
  private readonly secret: Buffer;

  /** `secret`: the upstream's own (processes that share relays share it); a random one per process when absent. */
  constructor(secret?: string, private readonly maxAgeS = CHALLENGE_MAX_AGE_S) {
    this.secret = secret ? Buffer.from(secret) : randomBytes(32);
  }

  private mac(data: string): Buffer {
    return createHmac('sha256', this.secret).update(data).digest();
  }

  issue(relayId: string, publicKey: string, nowMs: number): string {
    const state = { t: Math.floor(nowMs / 1000), relay_id: relayId, public_key: publicKey, nonce: randomBytes(16).toString('base64url') };
    const data = Buffer.from(JSON.stringify(state)).toString('base64url');
    return `${data}.${this.mac(data).toString('base64url')}`;
  }

  check(token: string, nowMs: number): TokenCheck {
    const dot = token.indexOf('.');
    if (dot < 0) return { ok: false, reason: 'malformed' };
    const data = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = this.mac(data);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
    let state: { t?: unknown; relay_id?: unknown; public_key?: unknown };
    try {
      state = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as typeof state;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (typeof state.t !== 'number' || typeof state.relay_id !== 'string' || typeof state.public_key !== 'string') return { ok: false, reason: 'malformed' };
    const age = nowMs / 1000 - state.t;
    if (age < -5 || age > this.maxAgeS) return { ok: false, reason: 'expired' };
    return { ok: true, state: { relayId: state.relay_id, publicKey: state.public_key, issuedAt: state.t } };
  }
}
