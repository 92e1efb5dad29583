// Parses one project state (an entry of a project-config response or file) into what the cache needs.

import type { ProjectState } from '../engine/types';
import { ProjectStateError } from './errors';

/** The parsed outcome of one project state: disabled, or enabled with its info and sampling JSON. */
export type ParsedProjectState =
  | { disabled: true; rev: string | null; raw: ProjectState | null }
  | {
      disabled: false;
      projectId: number;
      organizationId: number;
      /** The key's numeric id (`publicKeys[].numericId` of this key; Relay's `key_id` in outcomes), null when not listed. */
      keyId: number | null;
      rev: string | null;
      /** `config.sampling ?? config.dynamicSampling`, serialized; null when the project has none. */
      samplingJson: string | null;
      /** `config.txNameRules` (transaction-name rules), serialized; null when there are none. */
      txNameRulesJson: string | null;
      raw: ProjectState;
    };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Parses one project state. `null` (and `{disabled: true}`) means disabled. Throws
 * ProjectStateError when the entry does not have the shape of a project state.
 */
export function parseProjectState(publicKey: string, value: unknown): ParsedProjectState {
  if (value === null) return { disabled: true, rev: null, raw: null };
  if (!isPlainObject(value)) throw new ProjectStateError(publicKey, 'not an object');
  const raw = value as ProjectState;
  if (raw.rev !== undefined && raw.rev !== null && typeof raw.rev !== 'string') {
    throw new ProjectStateError(publicKey, '`rev` is not a string');
  }
  const rev = typeof raw.rev === 'string' ? raw.rev : null;
  if (raw.disabled !== undefined && typeof raw.disabled !== 'boolean') {
    throw new ProjectStateError(publicKey, '`disabled` is not a boolean');
  }
  if (raw.disabled === true) return { disabled: true, rev, raw };
  if (!isId(raw.projectId)) throw new ProjectStateError(publicKey, '`projectId` is missing or not an id');
  if (raw.organizationId !== undefined && raw.organizationId !== null && !isId(raw.organizationId)) {
    throw new ProjectStateError(publicKey, '`organizationId` is not an id');
  }
  if (!isPlainObject(raw.config)) throw new ProjectStateError(publicKey, '`config` is missing or not an object');
  const sampling = raw.config.sampling ?? raw.config.dynamicSampling;
  let samplingJson: string | null = null;
  if (sampling !== undefined && sampling !== null) {
    // Validation of the sampling config itself is the engine's job (ConfigInstaller.put).
    samplingJson = JSON.stringify(sampling);
  }
  // Transaction-name rules travel with the sampling config (they change what rules see).
  const txNameRules = raw.config.txNameRules;
  const txNameRulesJson = Array.isArray(txNameRules) && txNameRules.length > 0 ? JSON.stringify(txNameRules) : null;
  const key = publicKey.toLowerCase();
  const listed = Array.isArray(raw.publicKeys) ? raw.publicKeys.find((k) => isPlainObject(k) && typeof k.publicKey === 'string' && k.publicKey.toLowerCase() === key) : undefined;
  return {
    disabled: false,
    projectId: raw.projectId,
    // Limited configs may omit the organization; 0 stands for "unknown organization".
    organizationId: isId(raw.organizationId) ? raw.organizationId : 0,
    keyId: listed && isId(listed.numericId) ? listed.numericId : null,
    rev,
    samplingJson,
    txNameRulesJson,
    raw,
  };
}

/** Whether a string can be a project public key (DSN key). Others are answered "disabled" without a fetch. */
export function isPlausiblePublicKey(key: unknown): key is string {
  return typeof key === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(key);
}
