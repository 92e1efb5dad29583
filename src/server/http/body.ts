// Reads a request body within a byte limit and decompresses it (gzip, deflate, br) under the same limit.

import type { IncomingMessage } from 'node:http';
import { brotliDecompress, gunzip, inflate, inflateRaw, type InputType, type ZlibOptions } from 'node:zlib';

import { BadEncodingError, BodyTooLargeError, RequestAbortedError, UnsupportedEncodingError } from '../errors';

/**
 * Reads the raw body and calls `done` once: with the body, or with 413 as soon as it (or the
 * declared Content-Length) passes `limit`, or when the request is aborted. A callback, not a
 * promise: the envelope path stays synchronous from the body's end to the answer.
 */
export function readRawBody(req: IncomingMessage, limit: number, done: (error: Error | null, body: Buffer | null) => void): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    done(new BodyTooLargeError(limit, 'request body'), null);
    return;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  let finished = false;
  const onData = (chunk: Buffer): void => {
    total += chunk.length;
    if (total > limit) {
      finish(new BodyTooLargeError(limit, 'request body'));
      return;
    }
    chunks.push(chunk);
  };
  const finish = (error: Error | null): void => {
    if (finished) return;
    finished = true;
    req.off('data', onData);
    if (error) {
      // Stop buffering; what is still coming is discarded.
      req.resume();
      done(error, null);
    } else {
      done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
    }
  };
  const aborted = (): void => finish(new RequestAbortedError());
  req.on('data', onData);
  req.on('end', () => finish(null));
  req.on('error', aborted);
  req.on('aborted', aborted);
}

type Decoder = (buf: InputType, options: ZlibOptions, callback: (error: Error | null, result: Buffer) => void) => void;

/** A zlib-wrapped stream starts with CMF/FLG such that CMF*256+FLG is a multiple of 31 (RFC 1950); else raw deflate. */
function looksZlibWrapped(raw: Buffer): boolean {
  return raw.length >= 2 && (raw[0] & 0x0f) === 8 && ((raw[0] << 8) | raw[1]) % 31 === 0;
}

function decoderFor(encoding: string, raw: Buffer): Decoder | null {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return gunzip as Decoder;
    case 'deflate':
      return (looksZlibWrapped(raw) ? inflate : inflateRaw) as Decoder;
    case 'br':
      return brotliDecompress as unknown as Decoder;
    default:
      return null;
  }
}

/**
 * Decodes `raw` per the Content-Encoding (a list is undone right to left); `raw` itself, at once, without one. Decompression stops as
 * soon as the output passes `limit` (413): a small compressed bomb never inflates in memory.
 */
export function decodeBody(raw: Buffer, contentEncoding: string | undefined, limit: number): Buffer | Promise<Buffer> {
  return contentEncoding === undefined ? raw : decodeEncoded(raw, contentEncoding, limit);
}

async function decodeEncoded(raw: Buffer, contentEncoding: string, limit: number): Promise<Buffer> {
  const encodings = contentEncoding
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '' && e !== 'identity');
  let body = raw;
  for (const encoding of encodings.reverse()) {
    const decode = decoderFor(encoding, body);
    if (decode === null) throw new UnsupportedEncodingError(encoding);
    body = await new Promise<Buffer>((resolve, reject) => {
      decode(body, { maxOutputLength: limit }, (error, result) => {
        if (error === null) resolve(result);
        else if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) reject(new BodyTooLargeError(limit, 'decompressed body'));
        else reject(new BadEncodingError(encoding, error));
      });
    });
  }
  return body;
}
