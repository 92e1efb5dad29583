// The control plane's own HTTP API: organisation and project options, biases, custom rules, generated configs, tasks.

import { generateRulesDetailed, getEnabledBiases } from '../../rules/generate';
import { DEFAULT_BIASES } from '../../rules/constants';
import {
  CUSTOM_RULE_DEFAULT_DURATION_MS,
  CUSTOM_RULE_DEFAULT_NUM_SAMPLES,
  queryToCondition,
} from '../definitions/custom-rules';
import type { Definitions } from '../definitions/repository';
import { validateBiases, validateOrganizationPatch, validateProjectPatch } from '../definitions/validate';
import { validateRuleCondition } from '../../rules/condition';
import { ApiError, NotFoundError } from '../errors';
import type { Clock } from '../clock';
import type { DynamicSamplingState } from '../state/ds-state';
import type { ReleaseBoosts } from '../state/releases';
import { describeProject } from '../serving/describe-project';
import type { RuleCondition } from '../../rules/types';
import type { TaskRunResult } from '../tasks/runner';
import { idParam, jsonBody, type RequestContext, type Router } from './router';
import type { PerOrgPipeline } from '../per-org/pipeline';
import type { PassReport } from '../per-org/pass';

export interface AdminDeps {
  definitions: Definitions;
  state: DynamicSamplingState;
  releases: ReleaseBoosts;
  clock: Clock;
  runTasks: () => Promise<TaskRunResult[]>;
  /** Emit reservoir (custom) rules, as the config endpoint does; custom rules exist only then. */
  reservoir?: boolean;
  /** The per-org pipeline (null in classic mode): configs are described from its results. */
  perOrg?: PerOrgPipeline | null;
}

/** A pass report as JSON (maps as objects). */
function reportJson(report: PassReport): unknown {
  const { results } = report;
  return {
    ...report,
    results: {
      ...results,
      rebalancedTransactions: results.rebalancedTransactions
        ? Object.fromEntries([...results.rebalancedTransactions].map(([id, b]) => [id, { named: b.named.map((i) => [i.id, i.newSampleRate]), implicit: b.implicit }]))
        : null,
    },
  };
}

const P = '/api/control';

function project(definitions: Definitions, id: number) {
  const found = definitions.project(id);
  if (!found) throw new NotFoundError('project', id);
  return found;
}

function organization(definitions: Definitions, id: number) {
  const org = definitions.organization(id);
  if (!org) throw new NotFoundError('organization', id);
  return org;
}

function numberField(value: unknown, name: string, check: (n: number) => boolean): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !check(value)) throw new ApiError(400, 'invalid', `${name} is out of range`);
  return value;
}

export function addAdminRoutes(router: Router, deps: AdminDeps): void {
  const { definitions } = deps;
  // Custom rules are reservoir rules: an extension that exists only with the reservoir option.
  const requireCustomRules = (): void => {
    if (!deps.reservoir) throw new ApiError(404, 'custom_rules_off', 'custom (investigation) rules are off: they need reservoir rules (server --reservoir-rules, control plane reservoirRules)');
  };
  // The router checks the admin token before the handler runs: reads need a read or write token, changes a write token.
  const guarded = (method: string, pattern: RegExp, handler: (ctx: RequestContext) => Promise<{ status: number; body?: unknown }>): void => {
    router.add(method, pattern, method === 'GET' ? 'read' : 'write', handler);
  };

  guarded('GET', new RegExp(`^${P}/definitions/?$`), async () => ({ status: 200, body: definitions.toDocument() }));

  guarded('GET', new RegExp(`^${P}/organizations/(\\d+)/?$`), async (ctx) => ({
    status: 200,
    body: organization(definitions, idParam(ctx.params[0], 'organization')),
  }));

  guarded('PATCH', new RegExp(`^${P}/organizations/(\\d+)/?$`), async (ctx) => {
    const id = idParam(ctx.params[0], 'organization');
    const patch = validateOrganizationPatch(jsonBody(ctx));
    return { status: 200, body: await definitions.updateOrganization(id, patch) };
  });

  guarded('GET', new RegExp(`^${P}/projects/(\\d+)/?$`), async (ctx) => ({ status: 200, body: project(definitions, idParam(ctx.params[0], 'project')).project }));

  guarded('PATCH', new RegExp(`^${P}/projects/(\\d+)/?$`), async (ctx) => {
    const id = idParam(ctx.params[0], 'project');
    const patch = validateProjectPatch(jsonBody(ctx));
    return { status: 200, body: await definitions.updateProject(id, patch) };
  });

  const biasesOf = (id: number) => {
    const enabled = getEnabledBiases(project(definitions, id).project.biases);
    return DEFAULT_BIASES.map((b) => ({ id: b.id, active: enabled.has(b.id) }));
  };
  guarded('GET', new RegExp(`^${P}/projects/(\\d+)/biases/?$`), async (ctx) => ({ status: 200, body: biasesOf(idParam(ctx.params[0], 'project')) }));

  guarded('PUT', new RegExp(`^${P}/projects/(\\d+)/biases/?$`), async (ctx) => {
    const id = idParam(ctx.params[0], 'project');
    const body = jsonBody(ctx);
    if (typeof body !== 'object' || body === null) throw new ApiError(400, 'invalid', 'body must be a list of biases or {"biases": [...]}');
    const list = Array.isArray(body) ? body : (body as { biases?: unknown }).biases;
    await definitions.setBiases(id, validateBiases(list));
    return { status: 200, body: biasesOf(id) };
  });

  guarded('GET', new RegExp(`^${P}/projects/(\\d+)/sampling/?$`), async (ctx) => {
    const { project: p, organization: org } = project(definitions, idParam(ctx.params[0], 'project'));
    const description = await describeProject({ ...deps, perOrg: deps.perOrg?.store ?? null }, p, org, deps.clock());
    const result = generateRulesDetailed(description, { reservoir: deps.reservoir });
    return { status: 200, body: { baseSampleRate: result.baseSampleRate, config: result.config, issues: result.issues.map((e) => e.message), state: description.state } };
  });

  // The last per-org pass of one organisation, or of all: status, results, comparison with the classic computation.
  guarded('GET', new RegExp(`^${P}/per-org/?$`), async () => {
    if (!deps.perOrg) throw new ApiError(404, 'not_found', 'the per-org pipeline is not running (classic pipeline)');
    return { status: 200, body: [...deps.perOrg.reports.values()].sort((a, b) => a.orgId - b.orgId).map(reportJson) };
  });
  guarded('GET', new RegExp(`^${P}/organizations/(\\d+)/per-org/?$`), async (ctx) => {
    const id = idParam(ctx.params[0], 'organization');
    organization(definitions, id);
    if (!deps.perOrg) throw new ApiError(404, 'not_found', 'the per-org pipeline is not running (classic pipeline)');
    const report = deps.perOrg.reports.get(id);
    if (!report) throw new ApiError(404, 'not_found', `no per-org pass of organization ${id} yet`);
    return { status: 200, body: reportJson(report) };
  });

  guarded('GET', new RegExp(`^${P}/organizations/(\\d+)/custom-rules/?$`), async (ctx) => {
    requireCustomRules();
    const org = organization(definitions, idParam(ctx.params[0], 'organization'));
    const now = deps.clock();
    return { status: 200, body: (org.customRules ?? []).filter((r) => r.isActive && Date.parse(r.endDate) > now) };
  });

  guarded('POST', new RegExp(`^${P}/organizations/(\\d+)/custom-rules/?$`), async (ctx) => {
    requireCustomRules();
    const orgId = idParam(ctx.params[0], 'organization');
    organization(definitions, orgId);
    const body = jsonBody(ctx) as Record<string, unknown>;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'invalid', 'body must be an object');
    let condition: RuleCondition;
    if (body.condition !== undefined) {
      const reason = validateRuleCondition(body.condition);
      if (reason !== null) throw new ApiError(400, 'invalid_condition', reason);
      condition = body.condition as RuleCondition;
    } else if (typeof body.query === 'string') {
      condition = queryToCondition(body.query);
    } else {
      throw new ApiError(400, 'invalid', 'give a `condition` (Relay rule condition) or a `query`');
    }
    const rawProjects = body.projects ?? [];
    if (!Array.isArray(rawProjects) || rawProjects.some((p) => typeof p !== 'number')) throw new ApiError(400, 'invalid', '`projects` must be a list of project ids');
    // `[-1]` (Sentry's "all projects") and `[]` both make an organisation-level rule.
    const projects = (rawProjects as number[]).filter((p) => p !== -1);
    const durationSeconds = numberField(body.durationSeconds, 'durationSeconds', (n) => n > 0 && n <= 30 * 86400);
    const now = deps.clock();
    const result = await definitions.upsertCustomRule(
      orgId,
      {
        condition,
        projects,
        start: now,
        end: now + (durationSeconds === undefined ? CUSTOM_RULE_DEFAULT_DURATION_MS : durationSeconds * 1000),
        numSamples: numberField(body.numSamples, 'numSamples', (n) => Number.isSafeInteger(n) && n > 0 && n <= 1_000_000) ?? CUSTOM_RULE_DEFAULT_NUM_SAMPLES,
        sampleRate: numberField(body.sampleRate, 'sampleRate', (n) => n > 0 && n <= 1) ?? 1.0,
        query: typeof body.query === 'string' ? body.query : null,
        createdBy: typeof body.createdBy === 'string' ? body.createdBy : null,
      },
      now,
    );
    return { status: result.created ? 201 : 200, body: { ...result.rule, externalRuleId: 3000 + result.rule.ruleId } };
  });

  guarded('DELETE', new RegExp(`^${P}/organizations/(\\d+)/custom-rules/(\\d+)/?$`), async (ctx) => {
    requireCustomRules();
    const rule = await definitions.deleteCustomRule(idParam(ctx.params[0], 'organization'), idParam(ctx.params[1], 'rule'));
    return { status: 200, body: rule };
  });

  guarded('POST', new RegExp(`^${P}/tasks/run/?$`), async () => {
    const results = await deps.runTasks();
    return {
      status: 200,
      body: results.map((r) => ({ task: r.task, outcome: r.outcome, summary: r.summary, error: r.error?.message })),
    };
  });
}
