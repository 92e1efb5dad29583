// What a sink receives for each kept envelope, and the interface every sink implements.

import type { Decision } from '../decision';

/** Who sent an envelope: what forwarding passes on (`X-Forwarded-For`, `User-Agent`, `sentry_client`). */
export interface ClientInfo {
  /** The request's `X-Sentry-Auth` as received (forwarded as is; absent when the SDK authenticated in the query). */
  auth?: string | null;
  /** The peer address of the request. */
  address: string | null;
  /** The request's own `X-Forwarded-For` (proxies before this server). */
  forwardedFor: string | null;
  userAgent: string | null;
  /** The SDK's `sentry_client` (`sentry.javascript.browser/8.0.0`). */
  sentryClient: string | null;
}

/** One envelope the server kept (possibly reduced or tagged), ready to be forwarded or stored. */
export interface KeptEnvelope {
  /** When the request was received (ms since the epoch). */
  receivedAt: number;
  projectId: number;
  publicKey: string;
  /** The envelope's event id (or the generated one answered to the client). */
  eventId: string;
  decision: Decision;
  /** True when items were removed or an error event was tagged; false: the bytes are exactly those received (after decompression). */
  modified: boolean;
  envelope: Buffer;
  /** The sender, when the envelope came over HTTP. */
  client?: ClientInfo;
}

/** Whether a sink works (`/healthz`) and takes envelopes now (`/readyz`). */
export interface SinkHealth {
  /** False while it is broken (a write error until the file is reopened). */
  ok: boolean;
  /** False also while it refuses envelopes for now (a full upstream queue: back-pressure, not a failure). */
  ready: boolean;
  /** The last error while failing. */
  error?: string;
  /** Failing since (ISO time). */
  since?: string;
}

export interface EnvelopeSink {
  /** A short description for logs (`file:./data/kept.jsonl`, `stdout`, `upstream:http://...`). */
  readonly description: string;
  /**
   * Takes the envelope. Resolves once it is safe (written to the file or stream, or queued for the
   * upstream); rejects with `SinkUnavailableError` (503 to the client) when it cannot take it now.
   */
  accept(kept: KeptEnvelope): Promise<void>;
  /** Resolves when everything accepted so far is written or delivered, or after `timeoutMs`. */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Whether it can take envelopes now (absent: always). */
  health?(): SinkHealth;
  /** Flushes (bounded) and releases files, sockets and timers. */
  close(timeoutMs?: number): Promise<void>;
}
