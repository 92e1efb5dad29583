// Bearer tokens: constant-time comparison, and reading them from a list or a file (never echoing them back).

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';

/** Compares digests, so neither the content nor the length of a token leaks through timing. */
export function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(headers: IncomingHttpHeaders): string | null {
  const header = headers.authorization;
  if (typeof header !== 'string' || !/^bearer /i.test(header)) return null;
  const token = header.slice(7).trim();
  return token === '' ? null : token;
}

/** Whether `given` is one of `tokens` (every token is compared: the time does not say which matched). */
export function matchesAny(given: string | null, tokens: readonly string[]): boolean {
  if (given === null) return false;
  let found = false;
  for (const token of tokens) found = sameSecret(token, given) || found;
  return found;
}

/** Tokens of a list: separated by commas or new lines, blank entries and `#` comment lines ignored. */
export function parseTokenList(text: string): string[] {
  return text
    .split(/[,\r\n]/)
    .map((t) => t.trim())
    .filter((t) => t !== '' && !t.startsWith('#'));
}

/** Reads the tokens of a file (one per line, or comma-separated); the error names the option and the path, never the content. */
export function readTokenFile(path: string, option: string, fail: (message: string) => Error): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw fail(`${option}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const tokens = parseTokenList(text);
  if (tokens.length === 0) throw fail(`${option}: ${path} holds no token`);
  return tokens;
}

/**
 * Tokens given directly or through a file (`--x-token` / `--x-token-file`, `X` / `X_FILE`); both at once is an error.
 * `undefined` when neither is given.
 */
export function tokensFromValueOrFile(
  value: { name: string; text: string | undefined },
  file: { name: string; path: string | undefined },
  fail: (message: string) => Error,
): string[] | undefined {
  if (value.text !== undefined && file.path !== undefined) throw fail(`give either ${value.name} or ${file.name}, not both`);
  if (file.path !== undefined) return readTokenFile(file.path, file.name, fail);
  if (value.text === undefined) return undefined;
  const tokens = parseTokenList(value.text);
  if (tokens.length === 0) throw fail(`${value.name} holds no token`);
  return tokens;
}
