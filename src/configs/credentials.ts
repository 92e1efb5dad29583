// Relay credentials kept in a file shaped like Relay's `credentials.json`: `{"secret_key", "public_key", "id"}`.

import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { SigningKeyError } from './errors';
import { generateRelayKeyPair, RelaySigner } from './signing';

/** Where `npm start` / `serve` keep the credentials unless told otherwise (Relay keeps them in `.relay/`). */
export const DEFAULT_CREDENTIALS_FILE = '.relay/credentials.json';

export interface RelayCredentials {
  /** Ed25519 secret key, base64url without padding (Relay's format). */
  secretKey: string;
  /** Ed25519 public key, base64url without padding: what a Sentry admin adds as a trusted relay. */
  publicKey: string;
  /** The relay id (a UUID). */
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A credentials error that names the file. */
export class CredentialsFileError extends SigningKeyError {
  constructor(readonly path: string, message: string, options?: { cause?: unknown }) {
    super(`${path}: ${message}`, options);
  }
}

/** Parses the text of a credentials file; the keys are checked to belong together. */
export function parseCredentials(path: string, text: string): RelayCredentials {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CredentialsFileError(path, `not JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CredentialsFileError(path, 'not a JSON object');
  const { secret_key: secretKey, public_key: publicKey, id } = value as Record<string, unknown>;
  for (const [field, v] of [['secret_key', secretKey], ['public_key', publicKey], ['id', id]] as const) {
    if (typeof v !== 'string' || v === '') throw new CredentialsFileError(path, `\`${field}\` is missing or not a string`);
  }
  if (!UUID.test(id as string)) throw new CredentialsFileError(path, '`id` is not a UUID');
  try {
    new RelaySigner(id as string, secretKey as string, publicKey as string);
  } catch (err) {
    throw new CredentialsFileError(path, (err as Error).message, { cause: err });
  }
  return { secretKey: secretKey as string, publicKey: publicKey as string, id: (id as string).toLowerCase() };
}

/** The file's JSON text, as Relay writes it. */
export function formatCredentials(credentials: RelayCredentials): string {
  return `${JSON.stringify({ secret_key: credentials.secretKey, public_key: credentials.publicKey, id: credentials.id }, null, 2)}\n`;
}

/** New credentials: a fresh key pair and relay id. */
export function generateCredentials(): RelayCredentials {
  const { secretKey, publicKey } = generateRelayKeyPair();
  return { secretKey, publicKey, id: randomUUID() };
}

/** Reads the credentials file; throws CredentialsFileError when it is missing or invalid. */
export function readCredentials(path: string): RelayCredentials {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CredentialsFileError(path, code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (err as Error).message})`, { cause: err });
  }
  return parseCredentials(path, text);
}

/**
 * Reads the credentials file, or creates it (readable by its owner only) with new credentials when
 * it does not exist. A file that exists but is invalid is never overwritten: that throws.
 */
export function loadOrCreateCredentials(path: string): { credentials: RelayCredentials; created: boolean } {
  try {
    return { credentials: readCredentials(path), created: false };
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    if (cause?.code !== 'ENOENT') throw err;
  }
  const credentials = generateCredentials();
  try {
    mkdirSync(dirname(path), { recursive: true });
    // `wx`: never replace a file another process created meanwhile.
    writeFileSync(path, formatCredentials(credentials), { flag: 'wx', mode: 0o600 });
    chmodSync(path, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { credentials: readCredentials(path), created: false };
    throw new CredentialsFileError(path, `cannot be written (${(err as Error).message})`, { cause: err });
  }
  return { credentials, created: true };
}
