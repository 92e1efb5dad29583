// In-memory KeyValueStore with Redis semantics and TTLs that follow an injectable clock (the embedded default).

import { systemClock, type Clock } from '../clock';
import type { HashIncrement, KeyValueStore } from './kv';

type Value = { kind: 'string'; value: string } | { kind: 'hash'; value: Map<string, string> } | { kind: 'set'; value: Set<string> };

interface Entry {
  data: Value;
  /** ms since the epoch; null: no expiry. */
  expiresAt: number | null;
}

/** Thrown for a command applied to a key holding another type (Redis' WRONGTYPE). */
export class WrongTypeError extends Error {
  constructor(readonly key: string, readonly expected: string) {
    super(`WRONGTYPE: ${key} does not hold a ${expected}`);
    this.name = 'WrongTypeError';
  }
}

export class MemoryKeyValueStore implements KeyValueStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly channels = new Map<string, Set<(message: string) => void>>();

  constructor(private readonly clock: Clock = systemClock) {}

  /** Number of live keys (tests, diagnostics). */
  get size(): number {
    this.purge();
    return this.entries.size;
  }

  /** Live keys, for tests and diagnostics. */
  keys(): string[] {
    this.purge();
    return [...this.entries.keys()];
  }

  private purge(): void {
    const now = this.clock();
    for (const [key, entry] of this.entries) if (entry.expiresAt !== null && entry.expiresAt <= now) this.entries.delete(key);
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== null && entry.expiresAt <= this.clock()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private typed(key: string, kind: 'string'): string | undefined;
  private typed(key: string, kind: 'hash'): Map<string, string> | undefined;
  private typed(key: string, kind: 'set'): Set<string> | undefined;
  private typed(key: string, kind: Value['kind']): Value['value'] | undefined {
    const entry = this.live(key);
    if (entry === undefined) return undefined;
    if (entry.data.kind !== kind) throw new WrongTypeError(key, kind);
    return entry.data.value;
  }

  private expiry(ttlMs: number | undefined): number | null {
    return ttlMs === undefined ? null : this.clock() + ttlMs;
  }

  private hashFor(key: string): Map<string, string> {
    const existing = this.typed(key, 'hash');
    if (existing) return existing;
    const value = new Map<string, string>();
    this.entries.set(key, { data: { kind: 'hash', value }, expiresAt: null });
    return value;
  }

  async get(key: string): Promise<string | null> {
    return this.typed(key, 'string') ?? null;
  }

  async mget(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map((key) => {
      const entry = this.live(key);
      return entry && entry.data.kind === 'string' ? entry.data.value : null;
    });
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.entries.set(key, { data: { kind: 'string', value }, expiresAt: this.expiry(ttlMs) });
  }

  async getset(key: string, value: string, ttlMs?: number): Promise<string | null> {
    const previous = this.typed(key, 'string') ?? null;
    await this.set(key, value, ttlMs);
    return previous;
  }

  async setnx(key: string, value: string, ttlMs?: number): Promise<boolean> {
    if (this.live(key)) return false;
    await this.set(key, value, ttlMs);
    return true;
  }

  async del(keys: readonly string[]): Promise<number> {
    let n = 0;
    for (const key of keys) if (this.live(key) && this.entries.delete(key)) n += 1;
    return n;
  }

  async exists(key: string): Promise<boolean> {
    return this.live(key) !== undefined;
  }

  async incr(key: string): Promise<number> {
    const current = this.typed(key, 'string');
    const next = (current === undefined ? 0 : Number.parseInt(current, 10)) + 1;
    const entry = this.live(key);
    this.entries.set(key, { data: { kind: 'string', value: String(next) }, expiresAt: entry?.expiresAt ?? null });
    return next;
  }

  async pexpire(key: string, ttlMs: number): Promise<boolean> {
    const entry = this.live(key);
    if (!entry) return false;
    if (ttlMs <= 0) this.entries.delete(key);
    else entry.expiresAt = this.clock() + ttlMs;
    return true;
  }

  async pttl(key: string): Promise<number> {
    const entry = this.live(key);
    if (!entry) return -2;
    return entry.expiresAt === null ? -1 : entry.expiresAt - this.clock();
  }

  async hget(key: string, field: string): Promise<string | null> {
    return this.typed(key, 'hash')?.get(field) ?? null;
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    const hash = this.typed(key, 'hash');
    const out: Record<string, string> = {};
    // Object keys that look like integers are reordered by JS; callers needing order use field names that are not.
    if (hash) for (const [field, value] of hash) out[field] = value;
    return out;
  }

  async hgetallMany(keys: readonly string[]): Promise<Record<string, string>[]> {
    return Promise.all(keys.map((key) => this.hgetall(key)));
  }

  async hset(key: string, values: Readonly<Record<string, string>>): Promise<void> {
    const hash = this.hashFor(key);
    for (const [field, value] of Object.entries(values)) hash.set(field, value);
  }

  async hsetnx(key: string, field: string, value: string): Promise<boolean> {
    const hash = this.hashFor(key);
    if (hash.has(field)) return false;
    hash.set(field, value);
    return true;
  }

  async hdel(key: string, fields: readonly string[]): Promise<number> {
    const hash = this.typed(key, 'hash');
    if (!hash) return 0;
    let n = 0;
    for (const field of fields) if (hash.delete(field)) n += 1;
    if (hash.size === 0) this.entries.delete(key);
    return n;
  }

  async hincrbyMany(increments: readonly HashIncrement[], ttlMs: number): Promise<void> {
    const touched = new Set<string>();
    for (const { key, field, by } of increments) {
      const hash = this.hashFor(key);
      hash.set(field, String(Number(hash.get(field) ?? '0') + by));
      touched.add(key);
    }
    for (const key of touched) await this.pexpire(key, ttlMs);
  }

  async sadd(key: string, members: readonly string[], ttlMs?: number): Promise<void> {
    let set = this.typed(key, 'set');
    if (!set) {
      set = new Set<string>();
      this.entries.set(key, { data: { kind: 'set', value: set }, expiresAt: null });
    }
    for (const member of members) set.add(member);
    if (ttlMs !== undefined) await this.pexpire(key, ttlMs);
  }

  async smembers(key: string): Promise<string[]> {
    return [...(this.typed(key, 'set') ?? [])];
  }

  async publish(channel: string, message: string): Promise<void> {
    for (const listener of this.channels.get(channel) ?? []) listener(message);
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    let listeners = this.channels.get(channel);
    if (!listeners) this.channels.set(channel, (listeners = new Set()));
    listeners.add(listener);
    return async () => {
      listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.channels.clear();
  }
}
