// Which relays the control plane trusts (an allow-list of public keys) and which have registered (relay id → key).

import type { KeyObject } from 'node:crypto';

import { parsePublicKey } from '../../configs/signing';
import type { RelayDefinition } from '../definitions/types';
import { ControlPlaneOptionsError } from '../errors';
import type { KeyValueStore } from '../store/kv';

/** Registered relays, shared through the store by every process of the control plane. */
const REGISTERED_KEY = 'relays:registered';

export class RelayRegistry {
  private readonly trusted = new Set<string>();
  private readonly fixed = new Map<string, string>();
  private readonly parsed = new Map<string, KeyObject>();

  constructor(
    private readonly kv: KeyValueStore,
    /** Relays configured with their id (definitions' and options' `relays`): trusted and known. */
    relays: readonly RelayDefinition[],
    /** Further public keys allowed to register under any relay id (Sentry's trusted relays). */
    trustedKeys: readonly string[] = [],
  ) {
    for (const relay of relays) {
      this.keyObject(relay.publicKey, `relays[${relay.relayId}]`);
      this.fixed.set(relay.relayId, relay.publicKey);
      this.trusted.add(relay.publicKey);
    }
    trustedKeys.forEach((key, i) => {
      this.keyObject(key, `trustedRelays[${i}]`);
      this.trusted.add(key);
    });
  }

  /** Whether any relay may register. */
  get configured(): boolean {
    return this.trusted.size > 0;
  }

  isTrusted(publicKey: string): boolean {
    return this.trusted.has(publicKey);
  }

  /** The public key a relay id is bound to (configured, or registered), or null. */
  async publicKeyOf(relayId: string): Promise<string | null> {
    return this.fixed.get(relayId) ?? (await this.kv.hget(REGISTERED_KEY, relayId));
  }

  /** The key object a relay id signs with, for relays that are still trusted. */
  async verifierOf(relayId: string): Promise<KeyObject | null> {
    const key = await this.publicKeyOf(relayId);
    if (key === null || !this.trusted.has(key)) return null;
    return this.keyObject(key, `relay ${relayId}`);
  }

  async register(relayId: string, publicKey: string): Promise<void> {
    await this.kv.hset(REGISTERED_KEY, { [relayId]: publicKey });
  }

  private keyObject(publicKey: string, where: string): KeyObject {
    let key = this.parsed.get(publicKey);
    if (!key) {
      try {
        key = parsePublicKey(publicKey);
      } catch (err) {
        throw new ControlPlaneOptionsError(where, (err as Error).message);
      }
      this.parsed.set(publicKey, key);
    }
    return key;
  }
}
