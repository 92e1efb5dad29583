// Test fixtures for project configs: a loopback Relay-protocol upstream (with broken modes) and a validating installer.

import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConfigInstaller, ProjectInfo } from '../../src/configs/installer';

/** How the fake upstream answers: properly, or in one of the broken ways. */
export type UpstreamMode = 'ok' | 'http500' | 'hang' | 'close' | 'garbage';

export interface RecordedRequest {
  keys: string[];
  revisions: (string | null)[];
  fullConfig: unknown;
  noCache: unknown;
  headers: IncomingMessage['headers'];
}

/** Verifies a Relay signature with node:crypto, independently of the code under test. */
export function verifyRelaySignatureForTest(publicKeyB64: string, body: Buffer, signature: string): { t: string } | null {
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(publicKeyB64, 'base64url')]);
  const key: KeyObject = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const [sigPart, headerPart, extra] = signature.split('.');
  if (!sigPart || !headerPart || extra !== undefined) return null;
  if (/[=+/]/.test(signature)) return null; // base64url without padding only
  const header = Buffer.from(headerPart, 'base64url');
  const ok = verify(null, Buffer.concat([header, Buffer.from([0]), body]), key, Buffer.from(sigPart, 'base64url'));
  return ok ? (JSON.parse(header.toString()) as { t: string }) : null;
}

/** A project state as Sentry sends it, with an optional sampling config. */
export function projectState(
  publicKey: string,
  projectId: number,
  options: { rev?: string; sampling?: unknown; organizationId?: number; dynamicSampling?: unknown } = {},
): Record<string, unknown> {
  const config: Record<string, unknown> = { allowedDomains: ['*'], features: [] };
  if (options.sampling !== undefined) config.sampling = options.sampling;
  if (options.dynamicSampling !== undefined) config.dynamicSampling = options.dynamicSampling;
  return {
    disabled: false,
    projectId,
    organizationId: options.organizationId ?? 1,
    slug: `project-${projectId}`,
    publicKeys: [{ publicKey, numericId: projectId * 10 }],
    lastChange: '2024-05-01T10:00:00Z',
    rev: options.rev ?? `rev-${projectId}-1`,
    config,
  };
}

/** A valid sampling config with one uniform rule at `rate`. */
export function samplingConfig(rate: number, id = 1000): Record<string, unknown> {
  return {
    version: 2,
    rules: [{ id, type: 'trace', condition: { op: 'and', inner: [] }, samplingValue: { type: 'sampleRate', value: rate } }],
  };
}

/** A 32-hex-character project key derived from a number. */
export function keyOf(n: number): string {
  return n.toString(16).padStart(32, '0');
}

export class FakeUpstream {
  /** key → project state (null: disabled); keys absent here are left out of answers (→ disabled). */
  readonly configs = new Map<string, unknown>();
  /** key → how many more times to answer "pending" for it. */
  readonly pendingCounts = new Map<string, number>();
  readonly requests: RecordedRequest[] = [];
  mode: UpstreamMode = 'ok';
  /** Delay before answering, ms. */
  delay = 0;
  /** When set, requests must carry a valid Relay signature from this public key and relay id. */
  relay?: { id: string; publicKey: string };
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Requests rejected for authentication. */
  rejected = 0;
  inFlight = 0;
  maxInFlight = 0;
  url = '';
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (!address || typeof address !== 'object') throw new Error('no address');
    this.server = server;
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  /** How many requests asked for `key`. */
  requestsFor(key: string): number {
    return this.requests.filter((r) => r.keys.includes(key)).length;
  }

  /** Every key asked for, in order (with repeats). */
  get keysAsked(): string[] {
    return this.requests.flatMap((r) => r.keys);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'POST' || url.pathname !== '/api/0/relays/projectconfigs/' || url.searchParams.get('version') !== '3') {
      res.writeHead(404).end('not found');
      return;
    }
    if (this.relay) {
      const signature = req.headers['x-sentry-relay-signature'];
      const header =
        req.headers['x-sentry-relay-id'] === this.relay.id && typeof signature === 'string'
          ? verifyRelaySignatureForTest(this.relay.publicKey, body, signature)
          : null;
      const fresh = header !== null && Math.abs(Date.parse(header.t) - Date.now()) < 5 * 60_000;
      if (!fresh) {
        this.rejected += 1;
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"detail":"bad signature"}');
        return;
      }
    }
    if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`) {
      this.rejected += 1;
      res.writeHead(401).end('{"detail":"bad token"}');
      return;
    }
    let request: { publicKeys?: string[]; revisions?: (string | null)[]; fullConfig?: unknown; noCache?: unknown };
    try {
      request = JSON.parse(body.toString());
    } catch {
      res.writeHead(400).end('bad json');
      return;
    }
    const keys = request.publicKeys ?? [];
    const revisions = request.revisions ?? keys.map(() => null);
    this.requests.push({ keys, revisions, fullConfig: request.fullConfig, noCache: request.noCache, headers: req.headers });
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delay > 0) await new Promise((r) => setTimeout(r, this.delay));
      switch (this.mode) {
        case 'http500':
          res.writeHead(500).end('internal server error');
          return;
        case 'hang':
          return; // never answers; the socket is destroyed at stop()
        case 'close':
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100000' });
          res.write('{"configs": {"');
          setTimeout(() => res.socket?.destroy(), 5);
          return;
        case 'garbage':
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('<html>502 Bad Gateway</html>');
          return;
        case 'ok':
          break;
      }
      const configs: Record<string, unknown> = {};
      const pending: string[] = [];
      const unchanged: string[] = [];
      keys.forEach((key, i) => {
        const left = this.pendingCounts.get(key) ?? 0;
        if (left > 0) {
          this.pendingCounts.set(key, left - 1);
          pending.push(key);
          return;
        }
        if (!this.configs.has(key)) return; // neither configs nor pending: disabled
        const state = this.configs.get(key);
        const rev = state && typeof state === 'object' ? (state as { rev?: unknown }).rev : undefined;
        if (revisions[i] != null && rev === revisions[i]) unchanged.push(key);
        else configs[key] = state;
      });
      const answer: Record<string, unknown> = { configs };
      if (pending.length) answer.pending = pending;
      if (unchanged.length) answer.unchanged = unchanged;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
    } finally {
      this.inFlight -= 1;
    }
  }
}

/** The rejection the engine raises for a bad sampling config (the installer contract only needs the name). */
class TestSamplingConfigError extends Error {
  constructor(message: string, readonly path: string, readonly ruleId: number | null) {
    super(message);
    this.name = 'SamplingConfigError';
  }
}

const SAMPLING_VALUE_TYPES = new Set(['sampleRate', 'factor', 'minimumSampleRate', 'reservoir']);

/**
 * A small real installer standing in for the engine: it parses the sampling JSON and checks that every
 * rule has an `id`, `type`, `condition` and a known `samplingValue`, else throws SamplingConfigError.
 */
export class ValidatingInstaller implements ConfigInstaller {
  readonly configs = new Map<string, { info: ProjectInfo; sampling: unknown }>();
  readonly events: Array<{ op: 'put' | 'remove' | 'rejected'; publicKey: string; ruleId?: number | null }> = [];

  put(info: ProjectInfo, samplingConfigJson: string | null): void {
    let sampling: unknown = null;
    if (samplingConfigJson !== null) {
      sampling = JSON.parse(samplingConfigJson);
      try {
        this.validate(sampling);
      } catch (err) {
        this.events.push({ op: 'rejected', publicKey: info.publicKey, ruleId: (err as TestSamplingConfigError).ruleId });
        throw err;
      }
    }
    this.configs.set(info.publicKey, { info: { ...info }, sampling });
    this.events.push({ op: 'put', publicKey: info.publicKey });
  }

  remove(publicKey: string): void {
    this.configs.delete(publicKey);
    this.events.push({ op: 'remove', publicKey });
  }

  /** The `value` of the first rule's samplingValue for a key, if the installer holds a config. */
  rateOf(publicKey: string): number | undefined {
    const sampling = this.configs.get(publicKey)?.sampling as { rules?: Array<{ samplingValue?: { value?: number } }> } | null;
    return sampling?.rules?.[0]?.samplingValue?.value;
  }

  count(op: 'put' | 'remove' | 'rejected', publicKey?: string): number {
    return this.events.filter((e) => e.op === op && (publicKey === undefined || e.publicKey === publicKey)).length;
  }

  private validate(config: unknown): void {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new TestSamplingConfigError('sampling config is not an object', '', null);
    }
    const rules = (config as { rules?: unknown }).rules ?? [];
    if (!Array.isArray(rules)) throw new TestSamplingConfigError('rules is not a list', 'rules', null);
    rules.forEach((rule: Record<string, unknown>, i: number) => {
      const ruleId = typeof rule?.id === 'number' ? rule.id : null;
      const fail = (field: string, why: string): never => {
        throw new TestSamplingConfigError(`rules[${i}].${field}: ${why}`, `rules[${i}].${field}`, ruleId);
      };
      if (typeof rule !== 'object' || rule === null) fail('', 'not an object');
      if (ruleId === null || !Number.isInteger(ruleId) || ruleId < 0 || ruleId > 0xffffffff) fail('id', 'missing or not a u32');
      if (typeof rule.type !== 'string') fail('type', 'missing');
      if (typeof rule.condition !== 'object' || rule.condition === null) fail('condition', 'missing');
      const value = rule.samplingValue as { type?: unknown } | undefined;
      if (typeof value !== 'object' || value === null) fail('samplingValue', 'missing');
      if (!SAMPLING_VALUE_TYPES.has(String(value!.type))) fail('samplingValue.type', `unknown type ${String(value!.type)}`);
    });
  }
}

/** Waits until `predicate` holds, polling every 10 ms; fails after `timeout` ms with `what`. */
export async function waitFor(predicate: () => boolean, what: string, timeout = 5000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public t = Date.UTC(2024, 4, 1, 10, 0, 0)) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
