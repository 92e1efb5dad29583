// The definitions in force: lookups by organisation, project and public key, and run-time changes that persist and notify.

import { promises as fs } from 'node:fs';
import { NotFoundError } from '../errors';
import type { ActivatableBias } from '../../rules/types';
import { deactivateOldRules, isRuleInForce, ruleAppliesTo, upsertCustomRule, type CustomRuleRequest, type UpsertResult } from './custom-rules';
import { NoPersistence, type DefinitionsChange, type DefinitionsPersistence, type StoredOverrides } from './persistence';
import type {
  CustomRuleDefinition,
  DefinitionsDocument,
  OrganizationDefinition,
  OrganizationPatch,
  ProjectDefinition,
  ProjectPatch,
  PublicKeyDefinition,
  RelayDefinition,
} from './types';
import { parseDefinitions, validateDefinitions } from './validate';

/** What changed, and which configs it affects (a §10 trigger). */
export interface DefinitionsChangeEvent {
  trigger: string;
  /** Extra detail of the trigger (Sentry's `trigger_details`, e.g. the option key). */
  details?: string;
  scope: { organizationId: number } | { projectId: number };
}

/** A public key resolved to its project and organisation. */
export interface ResolvedKey {
  key: PublicKeyDefinition;
  project: ProjectDefinition;
  organization: OrganizationDefinition;
}

export type DefinitionsInput = string | DefinitionsDocument;

function normalizeKey(k: string | PublicKeyDefinition): PublicKeyDefinition {
  return typeof k === 'string' ? { publicKey: k } : k;
}

function applyPatch<T extends object>(target: T, patch: object): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) delete (target as Record<string, unknown>)[key];
    else (target as Record<string, unknown>)[key] = value;
  }
}

export class Definitions {
  private document: DefinitionsDocument;
  private orgs = new Map<number, OrganizationDefinition>();
  private projects = new Map<number, { project: ProjectDefinition; organization: OrganizationDefinition }>();
  private keys = new Map<string, ResolvedKey>();
  private readonly listeners = new Set<(event: DefinitionsChangeEvent) => void>();
  private unsubscribe: (() => Promise<void>) | null = null;
  /**
   * Reloads and local changes run one at a time: a reload that read the store before a local
   * change was saved must not replace the document after that change (its own notice brings a
   * reload that sees it).
   */
  private serial: Promise<unknown> = Promise.resolve();

  private constructor(
    private base: DefinitionsDocument,
    private readonly source: string | null,
    readonly persistence: DefinitionsPersistence,
  ) {
    this.document = structuredClone(base);
    this.index();
  }

  /** Loads definitions from a file path or an object, then applies changes stored in `persistence`. */
  static async load(input: DefinitionsInput, persistence?: DefinitionsPersistence): Promise<Definitions> {
    const source = typeof input === 'string' ? input : null;
    const document = typeof input === 'string' ? parseDefinitions(await fs.readFile(input, 'utf8'), input) : validateDefinitions(input, 'definitions');
    const definitions = new Definitions(document, source, persistence ?? new NoPersistence());
    await definitions.reload();
    return definitions;
  }

  /** Re-applies the persisted changes (from Redis) over the file's document (read again when changes are written to it). */
  async reload(): Promise<void> {
    await this.exclusive(async () => {
      // The file holds changes made by other processes on this machine too (Redis may have lost them).
      if (this.persistence.kind === 'file+redis' && this.source !== null) this.base = parseDefinitions(await fs.readFile(this.source, 'utf8'), this.source);
      const overrides = await this.persistence.load();
      this.document = Definitions.merge(this.base, overrides);
      this.index();
    });
  }

  private exclusive<T>(run: () => Promise<T>): Promise<T> {
    const result = this.serial.then(run, run);
    this.serial = result.catch(() => undefined);
    return result;
  }

  /** Reloads whenever another process changes the definitions; `onReload` sees every reload. */
  async watch(onReload?: () => void): Promise<void> {
    if (this.unsubscribe) return;
    this.unsubscribe = await this.persistence.subscribe(() => {
      void this.reload().then(() => onReload?.(), () => {});
    });
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private static merge(base: DefinitionsDocument, overrides: StoredOverrides): DefinitionsDocument {
    const doc = structuredClone(base);
    for (const org of doc.organizations) {
      const o = overrides.organizations.get(org.id);
      if (o) applyPatch(org, o);
      const rules = overrides.customRules.get(org.id);
      if (rules) org.customRules = rules;
      for (const project of org.projects) {
        const p = overrides.projects.get(project.id);
        if (p) applyPatch(project, p);
      }
    }
    return doc;
  }

  private index(): void {
    this.orgs = new Map();
    this.projects = new Map();
    this.keys = new Map();
    for (const organization of this.document.organizations) {
      this.orgs.set(organization.id, organization);
      for (const project of organization.projects) {
        this.projects.set(project.id, { project, organization });
        for (const k of project.publicKeys) {
          const key = normalizeKey(k);
          this.keys.set(key.publicKey, { key, project, organization });
        }
      }
    }
  }

  /** Where the definitions came from (a file path), if anywhere. */
  get path(): string | null {
    return this.source;
  }

  /** A copy of the document in force. */
  toDocument(): DefinitionsDocument {
    return structuredClone(this.document);
  }

  get relays(): readonly RelayDefinition[] {
    return this.document.relays ?? [];
  }

  organizations(): OrganizationDefinition[] {
    return [...this.orgs.values()];
  }

  organization(id: number): OrganizationDefinition | undefined {
    return this.orgs.get(id);
  }

  project(id: number): { project: ProjectDefinition; organization: OrganizationDefinition } | undefined {
    return this.projects.get(id);
  }

  resolveKey(publicKey: string): ResolvedKey | undefined {
    return this.keys.get(publicKey);
  }

  publicKeysOf(project: ProjectDefinition): PublicKeyDefinition[] {
    return project.publicKeys.map(normalizeKey);
  }

  /** The organisation's volume tiers, or the document's defaults. */
  tiersOf(org: OrganizationDefinition) {
    return org.samplingTiers ?? this.document.defaults?.samplingTiers ?? null;
  }

  /** Organisation-level and project rules of the project that are active and in their window at `now`. */
  customRulesFor(project: ProjectDefinition, organization: OrganizationDefinition, now: number): CustomRuleDefinition[] {
    return (organization.customRules ?? []).filter((r) => isRuleInForce(r, now) && ruleAppliesTo(r, project.id));
  }

  onChange(listener: (event: DefinitionsChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: DefinitionsChangeEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private requireOrg(id: number): OrganizationDefinition {
    const org = this.orgs.get(id);
    if (!org) throw new NotFoundError('organization', id);
    return org;
  }

  private requireProject(id: number): { project: ProjectDefinition; organization: OrganizationDefinition } {
    const found = this.projects.get(id);
    if (!found) throw new NotFoundError('project', id);
    return found;
  }

  private persist(change: DefinitionsChange, mutate: (doc: DefinitionsDocument) => void): Promise<void> {
    return this.exclusive(async () => {
      // The base document (the file's content) changes too when the file is where changes persist.
      if (this.persistence.kind !== 'redis') mutate(this.base);
      mutate(this.document);
      this.index();
      await this.persistence.save(change, this.document);
    });
  }

  /** Changes organisation options (`organizationoption.update`, invalidates the organisation). */
  async updateOrganization(id: number, patch: OrganizationPatch): Promise<OrganizationDefinition> {
    this.requireOrg(id);
    await this.persist({ kind: 'organization', organizationId: id, values: patch }, (doc) => {
      const org = doc.organizations.find((o) => o.id === id);
      if (org) applyPatch(org, patch);
    });
    this.emit({ trigger: 'organizationoption.update', details: Object.keys(patch).join(','), scope: { organizationId: id } });
    return this.requireOrg(id);
  }

  /** Changes project options (`projectoption.update`, invalidates the project). */
  async updateProject(id: number, patch: ProjectPatch): Promise<ProjectDefinition> {
    const { organization } = this.requireProject(id);
    await this.persist({ kind: 'project', organizationId: organization.id, projectId: id, values: patch }, (doc) => {
      const project = doc.organizations.find((o) => o.id === organization.id)?.projects.find((p) => p.id === id);
      if (project) applyPatch(project, patch);
    });
    this.emit({ trigger: 'projectoption.update', details: Object.keys(patch).join(','), scope: { projectId: id } });
    return this.requireProject(id).project;
  }

  /** Sets `sentry:dynamic_sampling_biases` of a project. */
  setBiases(projectId: number, biases: ActivatableBias[] | null): Promise<ProjectDefinition> {
    return this.updateProject(projectId, { biases });
  }

  private async saveRules(org: OrganizationDefinition, rules: CustomRuleDefinition[]): Promise<void> {
    await this.persist({ kind: 'customRules', organizationId: org.id, rules }, (doc) => {
      const target = doc.organizations.find((o) => o.id === org.id);
      if (target) target.customRules = structuredClone(rules);
    });
  }

  /** Creates or extends a custom rule; invalidates its projects (or the organisation). */
  async upsertCustomRule(orgId: number, request: CustomRuleRequest, now: number): Promise<UpsertResult> {
    const org = this.requireOrg(orgId);
    for (const projectId of request.projects) {
      if (this.projects.get(projectId)?.organization.id !== orgId) throw new NotFoundError('project', projectId);
    }
    const result = upsertCustomRule(org, request, now);
    await this.saveRules(org, result.rules);
    const trigger = 'dynamic_sampling:custom_rule_upsert';
    if (request.projects.length === 0) this.emit({ trigger, scope: { organizationId: orgId } });
    else for (const projectId of request.projects) this.emit({ trigger, scope: { projectId } });
    return result;
  }

  /** Deactivates a custom rule now (`custom_rule_delete`); invalidates what it applied to. */
  async deleteCustomRule(orgId: number, ruleId: number): Promise<CustomRuleDefinition> {
    const org = this.requireOrg(orgId);
    const rule = (org.customRules ?? []).find((r) => r.ruleId === ruleId && r.isActive);
    if (!rule) throw new NotFoundError('customRule', ruleId);
    const rules = (org.customRules ?? []).map((r) => (r === rule ? { ...r, isActive: false } : r));
    await this.saveRules(org, rules);
    const trigger = 'dynamic_sampling:custom_rule_delete';
    if (rule.projects.length === 0) this.emit({ trigger, scope: { organizationId: orgId } });
    else for (const projectId of rule.projects) this.emit({ trigger, scope: { projectId } });
    return { ...rule, isActive: false };
  }

  /** Records that a rule's notification was sent (`notification_sent`). */
  async markNotificationSent(orgId: number, ruleId: number): Promise<void> {
    const org = this.requireOrg(orgId);
    const rules = (org.customRules ?? []).map((r) => (r.ruleId === ruleId && r.isActive ? { ...r, notificationSent: true } : r));
    await this.saveRules(org, rules);
  }

  /** Deactivates rules that ended more than a minute ago, in every organisation; returns them. */
  async deactivateOldRules(now: number): Promise<CustomRuleDefinition[]> {
    const all: CustomRuleDefinition[] = [];
    for (const org of this.organizations()) {
      const { rules, deactivated } = deactivateOldRules(org.customRules ?? [], now);
      if (deactivated.length === 0) continue;
      await this.saveRules(org, rules);
      all.push(...deactivated);
    }
    return all;
  }
}
