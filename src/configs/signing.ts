// Signs upstream requests the way Relay does (relay-auth): Ed25519 over a timestamped header and the body.

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, KeyObject } from 'node:crypto';
import { SigningKeyError } from './errors';

// DER prefixes that wrap a raw 32-byte Ed25519 key as PKCS#8 (private) and SPKI (public).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Base64 URL-safe encoding without padding (Relay's BASE64URL_NOPAD). */
export function base64UrlNoPad(data: Uint8Array): string {
  return Buffer.from(data).toString('base64url');
}

function decodeBase64UrlNoPad(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new SigningKeyError(`${what} is not base64url without padding`);
  return Buffer.from(text, 'base64url');
}

/** Imports a Relay secret key: base64url of the 32-byte seed, or of the 64-byte seed + public key pair. */
export function parseSecretKey(text: string): KeyObject {
  const bytes = decodeBase64UrlNoPad(text.trim(), 'secret key');
  if (bytes.length !== 32 && bytes.length !== 64) {
    throw new SigningKeyError(`secret key has ${bytes.length} bytes, expected 32 or 64`);
  }
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, bytes.subarray(0, 32)]),
    format: 'der',
    type: 'pkcs8',
  });
  if (bytes.length === 64 && !publicKeyBytes(createPublicKey(key)).equals(bytes.subarray(32))) {
    throw new SigningKeyError('secret key pair holds a public key that does not belong to its seed');
  }
  return key;
}

/** Imports a Relay public key: base64url of the 32 raw Ed25519 bytes. */
export function parsePublicKey(text: string): KeyObject {
  const bytes = decodeBase64UrlNoPad(text.trim(), 'public key');
  if (bytes.length !== 32) throw new SigningKeyError(`public key has ${bytes.length} bytes, expected 32`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, bytes]), format: 'der', type: 'spki' });
}

function publicKeyBytes(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);
}

/** Generates Relay credentials in Relay's text formats (as `relay credentials generate` would). */
export function generateRelayKeyPair(): { secretKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_PREFIX.length);
  return { secretKey: base64UrlNoPad(seed), publicKey: base64UrlNoPad(publicKeyBytes(publicKey)) };
}

/**
 * Signs `body` like relay-auth's `SecretKey::sign`: the header `{"t":"<RFC 3339 UTC>"}` is
 * serialized, a NUL byte and the body are appended, the result is signed with Ed25519, and the
 * signature is `base64url(signature) + "." + base64url(header)`, both without padding.
 */
export function signRelayPayload(secretKey: KeyObject, body: Uint8Array, timestamp: Date = new Date()): string {
  const header = Buffer.from(JSON.stringify({ t: timestamp.toISOString() }));
  const message = Buffer.concat([header, Buffer.from([0]), body]);
  const signature = sign(null, message, secretKey);
  return `${base64UrlNoPad(signature)}.${base64UrlNoPad(header)}`;
}

/**
 * Verifies a Relay signature over `body` and returns its decoded header, or null when the
 * signature is malformed or does not match (relay-auth's `PublicKey::verify_meta`).
 */
export function verifyRelaySignature(
  publicKey: KeyObject,
  body: Uint8Array,
  signature: string,
): { t?: string } | null {
  const dot = signature.indexOf('.');
  if (dot < 0) return null;
  const sig = Buffer.from(signature.slice(0, dot), 'base64url');
  const header = Buffer.from(signature.slice(dot + 1), 'base64url');
  if (sig.length !== 64) return null;
  const message = Buffer.concat([header, Buffer.from([0]), body]);
  if (!verify(null, message, publicKey, sig)) return null;
  try {
    return JSON.parse(header.toString('utf8')) as { t?: string };
  } catch {
    return null;
  }
}

/** Relay credentials for signed requests; the optional public key is checked against the secret. */
export class RelaySigner {
  private readonly key: KeyObject;
  /** The public key of the secret, base64url without padding (what the upstream trusts). */
  readonly publicKey: string;

  constructor(readonly relayId: string, secretKey: string, publicKey?: string) {
    if (!relayId) throw new SigningKeyError('relayId is required to sign requests');
    this.key = parseSecretKey(secretKey);
    const own = publicKeyBytes(createPublicKey(this.key));
    if (publicKey !== undefined && !publicKeyBytes(parsePublicKey(publicKey)).equals(own)) {
      throw new SigningKeyError('publicKey does not belong to secretKey');
    }
    this.publicKey = base64UrlNoPad(own);
  }

  /** The headers that authenticate a request with `body`. */
  headers(body: Uint8Array, timestamp?: Date): Record<string, string> {
    return {
      'X-Sentry-Relay-Id': this.relayId,
      'X-Sentry-Relay-Signature': signRelayPayload(this.key, body, timestamp),
    };
  }
}
