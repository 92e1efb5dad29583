// "Explain" for the dashboard: an envelope (pasted or picked from the recent ones) or a DSC, evaluated step by step
// by the engine against the configs the control plane serves.

import { explain, type ExplainResult } from '../../engine/evaluate';
import type { ItemType, SamplingConfigJson } from '../../engine/types';
import type { Definitions } from '../definitions/repository';
import { ApiError } from '../errors';
import { namedRules, type ConfigSource, type NamedRule, type ProjectSamplingConfigs } from './configs';

export interface ExplainInput {
  /** The envelope's text (header line, item headers, payloads). */
  envelope?: string;
  /** A DSC (the envelope header's `trace`), with the project it was sent to (default: the DSC's own project). */
  dsc?: Record<string, unknown>;
  event?: Record<string, unknown>;
  projectId?: number;
  itemType?: ItemType;
}

export interface DashboardExplanation {
  projectId: number;
  rootProjectId: number | null;
  configSource: ConfigSource | null;
  rootConfigSource: ConfigSource | null;
  itemType: ItemType;
  dsc: Record<string, unknown> | null;
  transaction: string | null;
  result: ExplainResult;
  /** The rules of the configs used, by id, with the bias that made each. */
  rules: Record<string, NamedRule>;
}

export interface ExplainDeps {
  definitions: Definitions;
  configs: ProjectSamplingConfigs;
  reservoir: boolean;
}

const invalid = (detail: string): ApiError => new ApiError(400, 'invalid', detail);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseLine(line: string | undefined, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line ?? '');
  } catch (err) {
    throw invalid(`${what} is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw invalid(`${what} must be a JSON object`);
  return value;
}

/** The DSC, the first transaction or span item, and the project key of a pasted envelope. */
export function readEnvelope(text: string): { dsc: Record<string, unknown> | null; event: Record<string, unknown> | null; itemType: ItemType; dsnKey: string | null } {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const header = parseLine(lines[0], 'envelope header (line 1)');
  const dsc = isObject(header.trace) ? header.trace : null;
  let dsnKey: string | null = null;
  if (typeof header.dsn === 'string') {
    try {
      dsnKey = decodeURIComponent(new URL(header.dsn).username) || null;
    } catch {
      throw invalid('envelope header: `dsn` is not a URL');
    }
  }
  // Item headers alternate with payloads; the envelope's `length` fields are not needed to find the first sampled item.
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const itemHeader = parseLine(lines[i], `item header (line ${i + 1})`);
    if (itemHeader.type === 'transaction') return { dsc, event: parseLine(lines[i + 1], `transaction payload (line ${i + 2})`), itemType: 'transaction', dsnKey };
    if (itemHeader.type === 'span') return { dsc, event: null, itemType: 'span', dsnKey };
    i++; // skip the payload of any other item
  }
  throw invalid('the envelope has no transaction or span item: only those are sampled (errors and others are always kept)');
}

export class DashboardExplainer {
  constructor(private readonly deps: ExplainDeps) {}

  async explain(input: ExplainInput): Promise<DashboardExplanation> {
    const { definitions } = this.deps;
    let dsc = input.dsc ?? null;
    let event = input.event ?? null;
    let itemType: ItemType = input.itemType ?? 'transaction';
    let projectKey: string | null = null;
    if (input.envelope !== undefined) {
      const read = readEnvelope(input.envelope);
      ({ dsc, event } = read);
      itemType = input.itemType ?? read.itemType;
      projectKey = read.dsnKey;
    }
    if (dsc !== null && !isObject(dsc)) throw invalid('`dsc` must be an object');
    const rootKey = dsc !== null && typeof dsc.public_key === 'string' ? dsc.public_key : null;
    const root = (rootKey === null ? undefined : definitions.resolveKey(rootKey)) ?? null;

    let projectId = input.projectId;
    if (projectId === undefined && projectKey !== null) projectId = definitions.resolveKey(projectKey)?.project.id;
    if (projectId === undefined) projectId = root?.project.id;
    if (projectId === undefined) throw invalid('which project received it? give `projectId`, or a DSC whose `public_key` is a key of a project');
    const found = definitions.project(projectId);
    if (!found) throw new ApiError(404, 'not_found', `project ${projectId} not found`);
    const ownKey = projectKey ?? definitions.publicKeysOf(found.project)[0].publicKey;

    const own = await this.deps.configs.current(ownKey);
    const rootSampling = rootKey !== null && root ? await this.deps.configs.current(rootKey) : null;
    const config = (own.state?.config.sampling ?? null) as SamplingConfigJson | null;
    const rootConfig = (rootSampling?.state?.config.sampling ?? null) as SamplingConfigJson | null;
    let result: ExplainResult;
    try {
      result = explain({
        config,
        rootConfig,
        dsc,
        event,
        itemType,
        rootProjectKnown: root !== null && root.organization.id === found.organization.id,
        reservoir: this.deps.reservoir,
        // The engine's own clock, as the ingestion server's engine decides.
      });
    } catch (err) {
      throw invalid((err as Error).message);
    }
    const rules: DashboardExplanation['rules'] = {};
    for (const rule of [...namedRules(own.state), ...namedRules(rootSampling?.state ?? null)]) rules[rule.id] = rule;
    return {
      projectId,
      rootProjectId: root?.project.id ?? null,
      configSource: own.state ? own.source : null,
      rootConfigSource: rootSampling?.state ? rootSampling.source : null,
      itemType,
      dsc,
      transaction: typeof event?.transaction === 'string' ? event.transaction : typeof dsc?.transaction === 'string' ? dsc.transaction : null,
      result,
      rules,
    };
  }
}
