// Test fixtures for the ingestion server: a configs file, a started server with a file sink, raw HTTP requests, envelope parsing.

import { connect } from 'node:net';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

import pino from 'pino';

import type { SamplingConfigJson, TxNameRuleJson } from '../../src/engine/types';
import { startServer, type RunningServer } from '../../src/server/server';
import type { ServerOptions } from '../../src/server/options';
import { parseJsonLines, type KeptRecord } from '../../src/server/sinks/record';
import type { EnvelopeSink } from '../../src/server/sinks/types';

export interface TestProject {
  publicKey: string;
  projectId: number;
  organizationId: number;
  sampling: SamplingConfigJson | null;
  /** Project config `txNameRules` (transaction-name rules), when the project has any. */
  txNameRules?: TxNameRuleJson[];
}

export const silentLogger = pino({ level: 'silent' });

/** Where kept envelopes go when a test reads only decisions and counts: nowhere. */
export const DISCARDING_SINK: EnvelopeSink = { description: 'none', accept: async () => {}, flush: async () => true, close: async () => {} };

/** An in-process server on a free loopback port that prints, logs and samples process metrics nothing. */
export const QUIET_SERVER = {
  host: '127.0.0.1',
  port: 0,
  sink: DISCARDING_SINK,
  summaryInterval: 0,
  logger: silentLogger,
  processMetrics: false,
} satisfies Partial<ServerOptions>;

/** A logger whose records (parsed JSON) are kept for assertions. */
export function captureLogger(level = 'info'): { logger: pino.Logger; records: () => Record<string, any>[] } {
  const records: Record<string, any>[] = [];
  const logger = pino({ level }, { write: (line: string) => void records.push(JSON.parse(line)) });
  return { logger, records: () => records };
}

export function tempDir(prefix = 'ds-server-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Writes a configs file (`{configs: {publicKey: projectState}}`); `disabledKeys` are answered 401. */
export function writeProjects(dir: string, projects: readonly TestProject[], disabledKeys: readonly string[] = []): string {
  const configs: Record<string, unknown> = {};
  for (const p of projects) {
    configs[p.publicKey] = {
      disabled: false,
      projectId: p.projectId,
      organizationId: p.organizationId,
      publicKeys: [{ publicKey: p.publicKey, numericId: p.projectId }],
      config: { ...(p.sampling === null ? {} : { sampling: p.sampling }), ...(p.txNameRules ? { txNameRules: p.txNameRules } : {}) },
    };
  }
  for (const key of disabledKeys) configs[key] = { disabled: true };
  const file = path.join(dir, 'projects.json');
  writeFileSync(file, JSON.stringify({ configs }));
  return file;
}

export interface TestServer {
  server: RunningServer;
  dir: string;
  sinkFile: string;
  /** Records written by the file sink so far. */
  kept(): (KeptRecord & { bytes: Buffer })[];
}

/** Starts a server on 127.0.0.1 (free port) with the projects loaded and a JSON Lines sink in a temp dir. */
export async function startTestServer(projects: readonly TestProject[], options: Partial<ServerOptions> & { disabledKeys?: string[] } = {}): Promise<TestServer> {
  const dir = tempDir();
  const file = writeProjects(dir, projects, options.disabledKeys ?? []);
  const sinkFile = path.join(dir, 'data', 'kept.jsonl');
  const { disabledKeys: _disabled, ...rest } = options;
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    configs: { file },
    sink: { type: 'file', path: sinkFile },
    summaryInterval: 0,
    logger: silentLogger,
    processMetrics: false,
    ...rest,
  });
  await server.sampler.prefetch([...projects.map((p) => p.publicKey), ...(options.disabledKeys ?? [])]);
  return {
    server,
    dir,
    sinkFile,
    kept: () => (existsSync(sinkFile) ? parseJsonLines(readFileSync(sinkFile, 'utf8')) : []),
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): any;
}

type RequestOptions = { method?: string; headers?: Record<string, string | number>; body?: Buffer | string };

/** Sends one request on a new connection and collects the whole answer. */
function send(target: string | http.RequestOptions, options: http.RequestOptions, body: Buffer | string | undefined): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const callback = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    };
    const req = typeof target === 'string' ? http.request(target, options, callback) : http.request({ ...target, ...options }, callback);
    req.on('error', reject);
    req.end(body);
  });
}

/** One HTTP request with full control over headers and body (a new connection each time). */
export function request(url: string, options: RequestOptions = {}): Promise<RawResponse> {
  return send(url, { method: options.method ?? 'POST', headers: options.headers, agent: false }, options.body);
}

/** One request with `target` sent as is on the request line (`//`, `*`, an absolute URL): no URL parsing on the way. */
export function requestTarget(baseUrl: string, target: string, options: RequestOptions = {}): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return send({ host: hostname, port, path: target }, { method: options.method ?? 'GET', headers: options.headers, agent: false }, options.body);
}

/** POSTs an envelope to `/api/<projectId>/envelope/` with the key in X-Sentry-Auth. */
export function postEnvelope(server: RunningServer, projectId: number, publicKey: string | null, body: Buffer | string, headers: Record<string, string | number> = {}): Promise<RawResponse> {
  return request(`${server.url}/api/${projectId}/envelope/`, {
    body,
    headers: {
      'content-type': 'application/x-sentry-envelope',
      ...(publicKey === null ? {} : { 'x-sentry-auth': `Sentry sentry_version=7, sentry_key=${publicKey}, sentry_client=test/1.0` }),
      ...headers,
    },
  });
}

export interface ParsedItem {
  header: Record<string, any>;
  payload: Buffer;
}

/** An independent envelope reader for assertions (newline framing, or `length` when given). */
export function parseEnvelope(bytes: Buffer): { header: Record<string, any>; items: ParsedItem[] } {
  let nl = bytes.indexOf(10);
  if (nl < 0) nl = bytes.length;
  const header = JSON.parse(bytes.subarray(0, nl).toString('utf8'));
  const items: ParsedItem[] = [];
  let i = nl + 1;
  while (i < bytes.length) {
    if (bytes[i] === 10) {
      i++;
      continue;
    }
    let end = bytes.indexOf(10, i);
    if (end < 0) end = bytes.length;
    const itemHeader = JSON.parse(bytes.subarray(i, end).toString('utf8'));
    const start = end + 1;
    let payloadEnd: number;
    if (typeof itemHeader.length === 'number') payloadEnd = start + itemHeader.length;
    else {
      payloadEnd = bytes.indexOf(10, start);
      if (payloadEnd < 0) payloadEnd = bytes.length;
    }
    items.push({ header: itemHeader, payload: bytes.subarray(start, payloadEnd) });
    i = payloadEnd + 1;
  }
  return { header, items };
}

export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sampleRate = (id: number, type: 'trace' | 'project' | 'transaction', value: number, condition: any = { op: 'and', inner: [] }) => ({
  id,
  type,
  condition,
  samplingValue: { type: 'sampleRate' as const, value },
});

/** Sends `bytes` on a raw connection and resolves with everything the server answers until it closes (rejects on a reset). */
export function rawExchange(url: string, bytes: string | Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write(bytes);
  });
}
