// Where run-time changes to the definitions persist: back into the definitions file, or in Redis (shared by a fleet).

import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML, { isMap, isSeq, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { DefinitionsError } from '../errors';
import { DEFINITIONS_CHANNEL, DEFINITIONS_OVERRIDES_KEY } from '../state/keys';
import type { KeyValueStore } from '../store/kv';
import type { CustomRuleDefinition, DefinitionsDocument, OrganizationPatch, ProjectPatch } from './types';
import { validateCustomRules, validateOrganizationPatch, validateProjectPatch } from './validate';

/** One persisted change: the new values of an entity's changeable fields. */
export type DefinitionsChange =
  | { kind: 'organization'; organizationId: number; values: OrganizationPatch }
  | { kind: 'project'; organizationId: number; projectId: number; values: ProjectPatch }
  | { kind: 'customRules'; organizationId: number; rules: CustomRuleDefinition[] };

/** Stored changes to apply over the file's document at start (and on reload). */
export interface StoredOverrides {
  organizations: Map<number, OrganizationPatch>;
  projects: Map<number, ProjectPatch>;
  customRules: Map<number, CustomRuleDefinition[]>;
}

export interface DefinitionsPersistence {
  /** `file+redis`: written to the file (durable) and to Redis (shared with the fleet). */
  readonly kind: 'file' | 'redis' | 'file+redis' | 'none';
  /** Whether a change survives the loss of Redis (the file, or a Redis declared durable). */
  readonly durable?: boolean;
  /** Changes stored outside the document (Redis); empty for the file, which holds them itself. */
  load(): Promise<StoredOverrides>;
  /** Persists one change; `document` is the whole document after it. */
  save(change: DefinitionsChange, document: DefinitionsDocument): Promise<void>;
  /** Calls `listener` when another process changed the definitions (Redis only). */
  subscribe(listener: () => void): Promise<() => Promise<void>>;
}

export const emptyOverrides = (): StoredOverrides => ({ organizations: new Map(), projects: new Map(), customRules: new Map() });

/** Changes stay in memory only (definitions given as an object). */
export class NoPersistence implements DefinitionsPersistence {
  readonly kind = 'none' as const;
  readonly durable = false;
  async load(): Promise<StoredOverrides> {
    return emptyOverrides();
  }
  async save(): Promise<void> {}
  async subscribe(): Promise<() => Promise<void>> {
    return async () => {};
  }
}

function findById(seq: unknown, id: number): YAMLMap | undefined {
  if (!isSeq(seq)) return undefined;
  return (seq as YAMLSeq).items.find((item): item is YAMLMap => isMap(item) && Number((item as YAMLMap).get('id')) === id);
}

/**
 * Writes changes back into the definitions file. YAML files are edited in place (comments and
 * layout of untouched parts are kept); JSON files are rewritten. Writes are atomic (rename).
 */
export class FilePersistence implements DefinitionsPersistence {
  readonly kind = 'file' as const;
  readonly durable = true;
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<StoredOverrides> {
    return emptyOverrides();
  }

  async subscribe(): Promise<() => Promise<void>> {
    return async () => {};
  }

  save(change: DefinitionsChange, document: DefinitionsDocument): Promise<void> {
    const run = this.queue.then(() => this.write(change, document));
    this.queue = run.catch(() => {});
    return run;
  }

  private async write(change: DefinitionsChange, document: DefinitionsDocument): Promise<void> {
    let text: string;
    if (/\.json$/i.test(this.file)) {
      text = `${JSON.stringify(document, null, 2)}\n`;
    } else {
      const doc = YAML.parseDocument(await fs.readFile(this.file, 'utf8'));
      this.edit(doc, change);
      text = doc.toString();
    }
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.tmp`);
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, this.file);
  }

  private edit(doc: Document, change: DefinitionsChange): void {
    const org = findById(doc.get('organizations'), change.organizationId);
    if (!org) throw new DefinitionsError('organizations', `organization ${change.organizationId} not found in the file`, this.file);
    const setAll = (target: YAMLMap, values: Record<string, unknown>): void => {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined) continue;
        if (value === null) target.delete(key);
        else target.set(key, doc.createNode(value));
      }
    };
    if (change.kind === 'organization') setAll(org, change.values as Record<string, unknown>);
    else if (change.kind === 'project') {
      const project = findById(org.get('projects'), change.projectId);
      if (!project) throw new DefinitionsError('projects', `project ${change.projectId} not found in the file`, this.file);
      setAll(project, change.values as Record<string, unknown>);
    } else org.set('customRules', doc.createNode(change.rules));
  }
}

/** Keeps changes in a Redis hash (`dsctl:definitions`), one field per entity, and tells the fleet. */
export class RedisPersistence implements DefinitionsPersistence {
  readonly kind = 'redis' as const;

  /** `durable`: the operator declares this Redis persistent (AOF or RDB), so changes kept only there survive. */
  constructor(private readonly kv: KeyValueStore, readonly durable = false) {}

  async load(): Promise<StoredOverrides> {
    const hash = await this.kv.hgetall(DEFINITIONS_OVERRIDES_KEY);
    const out = emptyOverrides();
    for (const [field, json] of Object.entries(hash)) {
      const [kind, id] = [field.slice(0, 1), Number(field.slice(2))];
      const value = JSON.parse(json) as unknown;
      const source = `redis ${DEFINITIONS_OVERRIDES_KEY}[${field}]`;
      try {
        if (kind === 'o') out.organizations.set(id, validateOrganizationPatch(value));
        else if (kind === 'p') out.projects.set(id, validateProjectPatch(value));
        else if (kind === 'r') out.customRules.set(id, validateCustomRules(value, source));
      } catch (err) {
        throw new DefinitionsError(field, (err as Error).message, source);
      }
    }
    return out;
  }

  async save(change: DefinitionsChange): Promise<void> {
    const key = DEFINITIONS_OVERRIDES_KEY;
    if (change.kind === 'customRules') {
      await this.kv.hset(key, { [`r:${change.organizationId}`]: JSON.stringify(change.rules) });
    } else {
      const field = change.kind === 'organization' ? `o:${change.organizationId}` : `p:${change.projectId}`;
      const previous = await this.kv.hget(key, field);
      const merged = { ...(previous ? (JSON.parse(previous) as object) : {}), ...change.values };
      await this.kv.hset(key, { [field]: JSON.stringify(merged) });
    }
    await this.kv.publish(DEFINITIONS_CHANNEL, JSON.stringify({ kind: change.kind, organizationId: change.organizationId }));
  }

  subscribe(listener: () => void): Promise<() => Promise<void>> {
    return this.kv.subscribe(DEFINITIONS_CHANNEL, () => listener());
  }
}

/**
 * A fleet with a definitions file: changes go into the file (durable: a Redis restart loses
 * nothing) and into Redis (the other processes load them and are told at once).
 */
export class FileAndRedisPersistence implements DefinitionsPersistence {
  readonly kind = 'file+redis' as const;
  readonly durable = true;
  private readonly file: FilePersistence;
  private readonly redis: RedisPersistence;

  constructor(file: string, kv: KeyValueStore) {
    this.file = new FilePersistence(file);
    this.redis = new RedisPersistence(kv);
  }

  load(): Promise<StoredOverrides> {
    return this.redis.load();
  }

  async save(change: DefinitionsChange, document: DefinitionsDocument): Promise<void> {
    await this.file.save(change, document);
    await this.redis.save(change);
  }

  subscribe(listener: () => void): Promise<() => Promise<void>> {
    return this.redis.subscribe(listener);
  }
}
