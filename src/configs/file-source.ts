// The file source: project configs from a local JSON or YAML file, reloaded when it changes.

import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { FileSourceError, ProjectStateError, describeError } from './errors';
import type { ConfigMetrics } from './metrics';
import { parseProjectState, type ParsedProjectState } from './project-state';
import type { ConfigSource, SourceListener, SourceResult } from './source';

export interface FileSourceOptions {
  /** Path of a `.json`, `.yaml` or `.yml` file shaped like an upstream response: `{configs: {publicKey: projectState}}`. */
  path: string;
  /** Watch the file with fs.watch (default true); polling runs in any case. */
  watch?: boolean;
  /** Poll interval, ms, the fallback where fs.watch misses changes (default 2000). */
  pollInterval?: number;
}

type Entry = { text: string; parsed: ParsedProjectState | ProjectStateError };

/** Parses the text of a config file into per-key entries; throws FileSourceError on a bad file. */
export function parseConfigFile(path: string, text: string): Map<string, Entry> {
  const ext = extname(path).toLowerCase();
  let doc: unknown;
  try {
    if (ext === '.json') doc = JSON.parse(text);
    else doc = parseYaml(text); // YAML is a superset of JSON: also the choice for other extensions
  } catch (err) {
    throw new FileSourceError(path, `cannot parse: ${(err as Error).message}`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new FileSourceError(path, 'not an object');
  const configs = (doc as Record<string, unknown>).configs;
  if (configs === undefined || typeof configs !== 'object' || configs === null || Array.isArray(configs)) {
    throw new FileSourceError(path, '`configs` is missing or not an object');
  }
  const entries = new Map<string, Entry>();
  for (const [key, value] of Object.entries(configs as Record<string, unknown>)) {
    let parsed: ParsedProjectState | ProjectStateError;
    try {
      parsed = parseProjectState(key, value);
    } catch (err) {
      parsed = err instanceof ProjectStateError ? err : new ProjectStateError(key, String(err));
    }
    entries.set(key, { text: JSON.stringify(value), parsed });
  }
  return entries;
}

export class FileSource implements ConfigSource {
  readonly path: string;
  private entries = new Map<string, Entry>();
  private loadError: Error | null = null;
  private lastText: string | null = null;
  private lastStat = '';
  private listener: SourceListener = () => {};
  private watcher: FSWatcher | null = null;
  private poller: NodeJS.Timeout;
  private debounce: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: FileSourceOptions, private readonly deps: { metrics: ConfigMetrics; logger: Logger }) {
    this.path = resolve(options.path);
    this.reload(false);
    if (options.watch ?? true) this.startWatcher();
    this.poller = setInterval(() => this.poll(), options.pollInterval ?? 2000);
    this.poller.unref();
  }

  /** Whether the file has been loaded at least once. */
  get loaded(): boolean {
    return this.lastText !== null;
  }

  setListener(listener: SourceListener): void {
    this.listener = listener;
    // Every key of the file is pushed once, so its configs reach the installer without being asked for.
    const keys = [...this.entries.keys()];
    queueMicrotask(() => keys.forEach((key) => this.answer(key)));
  }

  request(publicKey: string): void {
    queueMicrotask(() => this.answer(publicKey));
  }

  private emit(result: SourceResult): void {
    if (this.closed) return;
    try {
      this.listener(result);
    } catch (err) {
      this.deps.logger.error({ err, publicKey: result.publicKey }, 'project config listener threw');
    }
  }

  private answer(publicKey: string): void {
    if (!this.loaded) {
      this.emit({ publicKey, kind: 'failed', error: this.loadError ?? new FileSourceError(this.path, 'not loaded') });
      return;
    }
    const entry = this.entries.get(publicKey);
    if (entry === undefined) this.emit({ publicKey, kind: 'state', state: { disabled: true, rev: null, raw: null } });
    else if (entry.parsed instanceof Error) this.emit({ publicKey, kind: 'invalid', error: entry.parsed });
    else this.emit({ publicKey, kind: 'state', state: entry.parsed });
  }

  private startWatcher(): void {
    try {
      // The directory is watched so that files replaced by rename (editors, atomic writes) are seen too.
      const name = basename(this.path);
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename !== null && filename.toString() !== name) return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.reload(true), 25);
        this.debounce.unref();
      });
      this.watcher.on('error', (err) => {
        this.deps.logger.warn({ path: this.path, err: describeError(err) }, 'fs.watch failed; polling only');
        this.watcher?.close();
        this.watcher = null;
      });
    } catch (err) {
      this.deps.logger.warn({ path: this.path, err: describeError(err) }, 'fs.watch unavailable; polling only');
    }
  }

  private poll(): void {
    let stat: string;
    try {
      const s = statSync(this.path);
      stat = `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      stat = 'missing';
    }
    if (stat !== this.lastStat || !this.loaded) this.reload(true);
  }

  /** Reads and parses the file; on any error the previous contents stay in force. Returns whether it changed. */
  reload(notify = true): boolean {
    if (this.closed) return false;
    let text: string;
    try {
      const s = statSync(this.path);
      this.lastStat = `${s.mtimeMs}:${s.size}:${s.ino}`;
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      this.lastStat = 'missing';
      this.loadError = new FileSourceError(this.path, `cannot read: ${describeError(err)}`, { cause: err });
      this.deps.logger.warn({ path: this.path, err: this.loadError.message }, 'project config file unreadable; keeping previous configs');
      return false;
    }
    if (text === this.lastText) return false;
    let next: Map<string, Entry>;
    try {
      next = parseConfigFile(this.path, text);
    } catch (err) {
      this.loadError = err as Error;
      this.deps.metrics.parseFailures.inc({ kind: 'file' });
      this.deps.logger.error({ path: this.path, err: describeError(err) }, 'project config file rejected; keeping previous configs');
      return false;
    }
    const previous = this.entries;
    this.entries = next;
    this.lastText = text;
    this.loadError = null;
    for (const entry of next.values()) {
      if (entry.parsed instanceof Error) {
        this.deps.metrics.parseFailures.inc({ kind: 'project_state' });
        this.deps.logger.warn({ path: this.path, err: entry.parsed.message }, 'invalid project state in file');
      }
    }
    this.deps.logger.info({ path: this.path, keys: next.size }, 'project config file loaded');
    if (notify) {
      for (const [key, entry] of next) if (previous.get(key)?.text !== entry.text) this.answer(key);
      for (const key of previous.keys()) if (!next.has(key)) this.answer(key);
    }
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = null;
  }
}
