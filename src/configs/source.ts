// The small interface every source of project configs (upstream, file) implements.

import type { ParsedProjectState } from './project-state';

/** What a source reports about one key. */
export type SourceResult =
  /** A project state (enabled or disabled) was received. */
  | { publicKey: string; kind: 'state'; state: ParsedProjectState }
  /** The revision sent with the request is still current: keep the cached state. */
  | { publicKey: string; kind: 'unchanged' }
  /** The upstream is still computing the config; the source asks again by itself. */
  | { publicKey: string; kind: 'pending' }
  /** The state received for this key could not be parsed; other keys are unaffected. */
  | { publicKey: string; kind: 'invalid'; error: Error }
  /** An attempt failed (HTTP error, timeout, ...); the source retries until the key's deadline. */
  | { publicKey: string; kind: 'error'; error: Error }
  /** The source gave up on this key (deadline passed); it must be requested again. */
  | { publicKey: string; kind: 'failed'; error: Error };

export type SourceListener = (result: SourceResult) => void;

export interface RequestOptions {
  /** Ask the upstream to compute the config instead of answering from its cache. */
  noCache?: boolean;
}

export interface ConfigSource {
  /** Asks for the state of `publicKey`; `revision` is the cached `rev`, if any. Answers arrive via the listener. */
  request(publicKey: string, revision: string | null, options?: RequestOptions): void;
  /** Sets the listener that receives every result, asked for or pushed (a file that changed). */
  setListener(listener: SourceListener): void;
  /** Stops timers, watchers and requests in flight. */
  close(): Promise<void>;
}
