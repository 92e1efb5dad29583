// The HTTP fuzzer's inputs and clients: seeded requests to the ingestion server (targets, methods,
// auth forms, encodings, headers, mutated SDK envelopes), sent either through Node's HTTP client
// over keep-alive connections or as raw bytes on a socket (what Node's client refuses to send).

import http from 'node:http';
import net from 'node:net';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';

import { mutatedEnvelope, type Prng, withEventId } from './fuzz';

/** How long a request may go without an answer or a close before it counts as hung (not a timing check: 60 s). */
const HANG_MS = Number(process.env.FUZZ_HANG_MS ?? 60_000);

export interface FuzzProjects {
  key: string;
  projectId: number;
  /** A key of another project (403 on project `projectId`'s endpoint). */
  otherKey: string;
  disabledKey: string;
}

export interface FuzzRequest {
  index: number;
  /** `http`: Node's client on a keep-alive agent; `raw`: bytes on a fresh socket. */
  mode: 'http' | 'raw';
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The body as sent (compressed when `content-encoding` says so). */
  body: Buffer;
  /** Raw mode: the whole request. */
  raw: Buffer | null;
  /**
   * Raw mode: end our side after writing (the declared length is longer than the body). Node's
   * server then drops the request unanswered, so only requests that cannot complete half-close.
   */
  halfClose?: boolean;
  /** The server may close the connection before reading the whole request (body over the limit, huge headers). */
  mayReset: boolean;
  /** A short description of the choices, for failure messages. */
  shape: string;
}

const WEIRD_TARGETS = [
  '//', '///', '//:99999/', '//[::1', '//[::1]:99999/', '//user@/api/42/envelope/', '//a:b@c/', '/%', '/%zz', '/%ff%fe',
  '/api/%34%32/envelope/', '/api/42/envelope/?sentry_key=%zz', '/api/42/envelope/?%', '/api/42/envelope/#frag', '/api//envelope/',
  '/api/42/envelope//', '/api/42/store/', '/api/42/', '/api/-1/envelope/', '/api/0/envelope/', '/api/4.2/envelope/', '/api/1e3/envelope/',
  '/api/99999999999999999999/envelope/', '/api/9007199254740993/envelope/', '/api/43/envelope/', '/API/42/ENVELOPE/',
  '/api/42/envelope/../../healthz', '/..%2f..%2fetc%2fpasswd', '/healthz', '/healthz?x=1', '/stats', '/metrics', '/', '',
  '?', '*', 'http://localhost/api/42/envelope/', 'http://[::1/api/42/envelope/', 'https://x:99999/', '/api/42/envelope/?sentry_key=',
  '/api/42/envelope/?sentry_key=abd0f232775f45feab79864e580d160b&sentry_key=x', `/api/42/envelope/?${'a=1&'.repeat(500)}`,
  `/${'x'.repeat(4000)}`, '/api/42/envelope/\u00e9', '/api/４２/envelope/',
];

const RAW_TARGETS = [
  '/api/42/envelope/ x', '/\x00', '/\x7f', '/\xff\xfe', '/api/42/envelope/\t', '//[::1', '//', `/${'y'.repeat(20_000)}`, '*', '', ' ',
  'http://[::1', '/api/42/envelope/\r', '/api/42/envelope/%0d%0a',
];

const METHODS = ['GET', 'OPTIONS', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'FUZZ', 'M-SEARCH', 'CONNECT', 'TRACE', 'PROPFIND'];

/** A unique event id per request (the first 8 hex digits tie it to the run). */
export function requestEventId(runSeed: number, index: number): string {
  return `${(runSeed >>> 0).toString(16).padStart(8, '0')}${index.toString(16).padStart(24, '0')}`;
}

function withDsn(envelope: Buffer, key: string, projectId: number): Buffer {
  if (envelope[0] !== 0x7b) return envelope;
  return Buffer.concat([Buffer.from(`{"dsn":"http://${key}@127.0.0.1:9/${projectId}",`), envelope.subarray(1)]);
}

function mutatePath(rng: Prng, path: string): string {
  const chars = ['/', '%', '?', '#', '&', '=', '.', '@', ':', '[', ']', '0', '9', 'a', '%2F', '%00', '+', ';', '~', '\u00e9'];
  let p = path;
  for (let n = 1 + rng.below(3); n > 0; n--) {
    const at = rng.below(p.length + 1);
    p = rng.oneIn(3) ? p.slice(0, at) + p.slice(at + 1) : p.slice(0, at) + rng.pick(chars) + p.slice(at);
  }
  return p;
}

function encodeBody(rng: Prng, body: Buffer, headers: Record<string, string>): { body: Buffer; shape: string } {
  const roll = rng.below(100);
  if (roll < 65) return { body, shape: 'plain' };
  const set = (value: string) => {
    headers['content-encoding'] = value;
  };
  if (roll < 73) {
    set(rng.pick(['gzip', 'x-gzip', 'GZIP', ' gzip ']));
    return { body: gzipSync(body), shape: 'gzip' };
  }
  if (roll < 78) {
    set('deflate');
    return { body: deflateSync(body), shape: 'deflate' };
  }
  if (roll < 81) {
    set('deflate');
    return { body: deflateRawSync(body), shape: 'deflate-raw' };
  }
  if (roll < 86) {
    set('br');
    return { body: brotliCompressSync(body), shape: 'br' };
  }
  if (roll < 88) {
    set('gzip, br');
    return { body: brotliCompressSync(gzipSync(body)), shape: 'gzip+br' };
  }
  if (roll < 91) {
    set(rng.pick(['zstd', 'compress', 'gzip;q=1', 'identity', '', ',', 'br, identity', 'deflate, zstd', '\u00e9']));
    return { body, shape: 'odd-encoding' };
  }
  if (roll < 95) {
    // Says compressed, is not.
    set(rng.pick(['gzip', 'deflate', 'br']));
    return { body, shape: 'not-compressed' };
  }
  // Truncated or corrupted compressed data.
  const encoding = rng.pick(['gzip', 'deflate', 'br'] as const);
  set(encoding);
  const compressed = encoding === 'gzip' ? gzipSync(body) : encoding === 'deflate' ? deflateSync(body) : brotliCompressSync(body);
  const cut = Buffer.from(compressed.subarray(0, rng.below(compressed.length + 1)));
  if (cut.length > 0 && rng.oneIn(2)) cut[rng.below(cut.length)] ^= 0xff;
  return { body: cut, shape: `broken-${encoding}` };
}

/** One seeded request. */
export function fuzzRequest(rng: Prng, index: number, runSeed: number, seeds: readonly Buffer[], p: FuzzProjects, maxBody: number): FuzzRequest {
  const headers: Record<string, string> = {};
  const shape: string[] = [];
  let mayReset = false;
  const eventId = requestEventId(runSeed, index);

  // Body: a mutated SDK envelope (with this request's event id) most of the time.
  let envelope: Buffer;
  const bodyRoll = rng.below(100);
  if (bodyRoll < 88) {
    envelope = withEventId(rng.pick(seeds), eventId);
    shape.push('envelope');
  } else if (bodyRoll < 93) {
    envelope = rng.bytes(rng.below(2000));
    shape.push('random-bytes');
  } else if (bodyRoll < 96) {
    envelope = Buffer.alloc(0);
    shape.push('empty');
  } else if (bodyRoll < 98) {
    envelope = Buffer.alloc(maxBody + 1 + rng.below(1000), 0x20);
    mayReset = true;
    shape.push('over-limit');
  } else {
    envelope = Buffer.from(`${'\n'.repeat(rng.below(3))}{"event_id":"${eventId}"}\n${'{"type":"event"}\n{}\n'.repeat(rng.below(2000))}`);
    shape.push('many-items');
  }

  // Authentication.
  let query = '';
  const authRoll = rng.below(100);
  if (authRoll < 50) headers['x-sentry-auth'] = `Sentry sentry_version=7, sentry_key=${p.key}, sentry_client=sentry.javascript.node/11.12.0`;
  else if (authRoll < 55) headers.authorization = `Sentry sentry_key=${p.key}, sentry_version=7`;
  else if (authRoll < 65) query = `?sentry_key=${p.key}&sentry_version=7`;
  else if (authRoll < 78) envelope = withDsn(envelope, rng.oneIn(5) ? p.otherKey : p.key, p.projectId);
  else {
    const bad = rng.pick([
      `Sentry sentry_key=${p.key.toUpperCase()}`, `Sentry sentry_key=${p.otherKey}`, `Sentry sentry_key=${p.disabledKey}`,
      `Sentry sentry_key=${rng.hex(32)}`, 'Sentry sentry_key=', 'Sentry ,,,===,', `Sentry sentry_key=${p.key.slice(1)}`,
      `sentry_key = ${p.key} `, 'Sentry', '', `Sentry sentry_key=${p.key}\u00e9`, `Sentry sentry_key=${'a'.repeat(5000)}`,
    ]);
    headers['x-sentry-auth'] = bad;
    if (rng.oneIn(3)) query = `?sentry_key=${rng.pick([p.key, p.otherKey, '', '%zz', p.disabledKey])}`;
    shape.push('bad-auth');
  }
  if (bodyRoll < 88) envelope = mutatedEnvelope(rng, seeds, envelope);

  // Target and method.
  let path = `/api/${p.projectId}/envelope/${query}`;
  const pathRoll = rng.below(100);
  if (pathRoll >= 85) path = pathRoll < 93 ? rng.pick(WEIRD_TARGETS) : mutatePath(rng, path);
  const method = rng.oneIn(12) ? rng.pick(METHODS) : 'POST';

  // Headers.
  headers['content-type'] = rng.pick(['application/x-sentry-envelope', 'application/x-sentry-envelope', 'text/plain;charset=UTF-8', 'application/json', '']);
  if (headers['content-type'] === '') delete headers['content-type'];
  if (rng.oneIn(8)) headers.origin = rng.pick(['https://shop.example.com', 'null', '*', '\u00e9']);
  if (rng.oneIn(20)) headers['sentry-trace'] = rng.pick(['4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1', 'garbage']);
  if (rng.oneIn(40)) {
    headers['x-padding'] = 'p'.repeat(rng.pick([100, 8000, 17_000, 70_000]));
    mayReset ||= headers['x-padding'].length > 16_000;
    shape.push(`padding-${headers['x-padding'].length}`);
  }
  const encoded = encodeBody(rng, envelope, headers);
  shape.push(encoded.shape);
  const body = encoded.body;

  // Raw requests: what Node's client will not send (and CONNECT, whose answer Node's client does not read as a response).
  if (rng.oneIn(12) || method === 'CONNECT') {
    const { bytes, halfClose, extra } = rawRequest(rng, method, path, headers, body);
    return { index, mode: 'raw', method, path, headers, body, raw: bytes, halfClose, mayReset: true, shape: [...shape, extra ? 'raw+extra-bytes' : 'raw'].join(' ') };
  }
  if (!rng.oneIn(10)) headers['content-length'] = String(body.length);
  else {
    // Said explicitly: without a length, Node's client sends the body of GET, HEAD, DELETE, OPTIONS
    // and TRACE unframed, which the server rightly reads as the start of the next request on the
    // keep-alive connection (it then answers 400 and closes while the agent may reuse the socket).
    headers['transfer-encoding'] = 'chunked';
    shape.push('chunked');
  }
  // Node's client refuses characters outside latin1 in paths and header values.
  for (const [name, value] of Object.entries(headers)) if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) headers[name] = Buffer.from(value, 'utf8').toString('latin1');
  path = path.replace(/[^\x21-\xff]/g, (c) => encodeURIComponent(c));
  return { index, mode: 'http', method, path, headers, body, raw: null, mayReset, shape: `${method} ${path.slice(0, 60)} ${shape.join(' ')}` };
}

function rawRequest(rng: Prng, method: string, path: string, headers: Record<string, string>, body: Buffer): { bytes: Buffer; halfClose: boolean; extra: boolean } {
  let halfClose = false;
  let extra = false;
  const target = rng.oneIn(2) ? rng.pick(RAW_TARGETS) : path;
  const version = rng.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'http/1.1', '', 'HTTP/9.9']);
  const eol = rng.oneIn(6) ? '\n' : '\r\n';
  const verb = rng.oneIn(10) ? rng.pick(['post', 'P\x00ST', 'PO ST', '']) : method;
  const lines = [`${verb} ${target} ${version}`.trimEnd(), 'host: 127.0.0.1', 'connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  let payload = body;
  switch (rng.below(9)) {
    case 0:
      lines.push(`content-length: ${body.length + 1}`); // one byte short: the server waits, then sees the end
      halfClose = true;
      break;
    case 1:
      lines.push(`content-length: ${Math.max(0, body.length - 1)}`); // the last byte becomes the next request
      extra = body.length > 0;
      break;
    case 2:
      lines.push(`content-length: ${rng.pick(['abc', '-1', '1e3', '99999999999999999999', ' 5', '0x10', ''])}`);
      halfClose = true; // some of these parse (" 5"): the server then waits for bytes that never come
      break;
    case 3:
      lines.push(`content-length: ${body.length}`, `content-length: ${body.length + 7}`);
      break;
    case 4:
      lines.push('transfer-encoding: chunked', `content-length: ${body.length}`);
      payload = chunked(body, rng);
      break;
    case 5:
      lines.push('transfer-encoding: chunked');
      if (rng.oneIn(2)) payload = chunked(body, rng);
      else {
        payload = Buffer.concat([Buffer.from(`${rng.pick(['zz', '-1', 'ffffffffffffffffff', '5;ext=1'])}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
        halfClose = true; // `5;ext=1` before a short body parses: the server then waits for chunk bytes that never come (408)
      }
      break;
    case 6:
      lines.push(rng.pick(['no-colon-header', 'bad name: x', ': empty-name', 'x-fold: a', ' folded continuation', `x-bytes: \xff\xfe`, 'x-nul: a\x00b']));
      lines.push(`content-length: ${body.length}`);
      break;
    default:
      lines.push(`content-length: ${body.length}`);
  }
  return { bytes: Buffer.concat([Buffer.from(`${lines.join(eol)}${eol}${eol}`, 'latin1'), payload]), halfClose, extra };
}

function chunked(body: Buffer, rng: Prng): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const n = Math.min(body.length - at, 1 + rng.below(4096));
    parts.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

export interface FuzzAnswer {
  /** Statuses of the responses read (raw mode may read several, or none when the server closed). */
  statuses: number[];
  /** Raw mode: the body of each response read. */
  bodies?: Buffer[];
  headers: http.IncomingHttpHeaders | null;
  body: Buffer | null;
  /** A client-side error (connection reset before an answer...). */
  error: string | null;
}

/** Sends an `http` request on the agent. */
export function sendHttp(port: number, agent: http.Agent, r: FuzzRequest): Promise<FuzzAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: FuzzAnswer) => {
      if (!settled) {
        settled = true;
        resolve(answer);
      }
    };
    let req: http.ClientRequest;
    try {
      req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path || '/', headers: r.headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ statuses: [res.statusCode ?? 0], headers: res.headers, body: Buffer.concat(chunks), error: null }));
        res.on('error', (e) => done({ statuses: [res.statusCode ?? 0], headers: res.headers, body: null, error: `response: ${e.message}` }));
      });
    } catch (e) {
      // Node refused to send it (invalid method or header): nothing reached the server.
      done({ statuses: [], headers: null, body: null, error: `client refused: ${(e as Error).message}` });
      return;
    }
    req.on('error', (e) => done({ statuses: [], headers: null, body: null, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    // Liveness only: a request neither answered nor closed within HANG_MS has hung the server's handling of it.
    const stuck = setTimeout(() => {
      done({ statuses: [], headers: null, body: null, error: `hung: no answer and no close within ${HANG_MS} ms` });
      req.destroy();
    }, HANG_MS);
    req.once('close', () => clearTimeout(stuck));
    req.end(r.method === 'GET' || r.method === 'HEAD' ? (r.body.length > 0 ? r.body : undefined) : r.body);
  });
}

/**
 * Parses every HTTP/1.x response in `data`; null when the bytes are not well-formed responses.
 * Answers to HEAD carry no body, whatever their `content-length`.
 */
export function parseResponses(data: Buffer, head = false): { statuses: number[]; bodies: Buffer[]; last: { headers: Record<string, string>; body: Buffer } | null } | null {
  const statuses: number[] = [];
  const bodies: Buffer[] = [];
  let last: { headers: Record<string, string>; body: Buffer } | null = null;
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) return null;
    const lines = data.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] ([1-5]\d\d) [\x20-\x7e]*$/.exec(lines[0]);
    if (!m) return null;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) return null;
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    at = end + 4;
    let body: Buffer;
    if (head && statuses.length === 0) {
      body = Buffer.alloc(0);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isSafeInteger(n) || n < 0 || at + n > data.length) return null;
      body = data.subarray(at, at + n);
      at += n;
    } else if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', at);
        if (lineEnd < 0) return null;
        const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) return null;
        at = lineEnd + 2;
        if (size === 0) {
          at += 2;
          break;
        }
        parts.push(data.subarray(at, at + size));
        at += size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      body = data.subarray(at);
      at = data.length;
    }
    statuses.push(Number(m[1]));
    bodies.push(body);
    last = { headers, body };
  }
  return { statuses, bodies, last };
}

/** Sends a raw request on a fresh socket (`connection: close`) and reads until the server closes. */
export function sendRaw(port: number, r: FuzzRequest): Promise<FuzzAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let error: string | null = null;
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => {
      const data = Buffer.concat(chunks);
      if (data.length === 0) {
        resolve({ statuses: [], headers: null, body: null, error: error ?? 'closed without an answer' });
        return;
      }
      const parsed = parseResponses(data, /^HEAD /.test(r.raw!.toString('latin1', 0, 5)));
      if (parsed === null) resolve({ statuses: [-1], headers: null, body: data, error: `not a valid HTTP response: ${JSON.stringify(data.subarray(0, 400).toString('latin1'))}` });
      else resolve({ statuses: parsed.statuses, bodies: parsed.bodies, headers: parsed.last?.headers ?? null, body: parsed.last?.body ?? null, error });
    });
    // Liveness only: a server that neither answers nor closes has hung on the input.
    const stuck = setTimeout(() => {
      error = `hung: no answer and no close within ${HANG_MS} ms`;
      socket.destroy();
    }, HANG_MS);
    socket.once('close', () => clearTimeout(stuck));
    socket.write(r.raw!, () => {
      if (r.halfClose) socket.end();
    });
  });
}
