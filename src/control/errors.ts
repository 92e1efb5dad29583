// Typed errors of the control plane, each carrying the context needed to act on it.

/** A rebalancing model was given input it cannot work with (Sentry's `InvalidModelInputError`). */
export class InvalidModelInputError extends Error {
  readonly model: string;
  readonly detail: string;

  constructor(model: string, detail: string) {
    super(`invalid model input: ${model}: ${detail}`);
    this.name = 'InvalidModelInputError';
    this.model = model;
    this.detail = detail;
  }
}

/** A project description could not be turned into a base sample rate or a bias input. */
export class InvalidProjectInputError extends Error {
  readonly projectId: number | undefined;
  readonly field: string;

  constructor(projectId: number | undefined, field: string, detail: string) {
    super(`invalid project input${projectId === undefined ? '' : ` (project ${projectId})`}: ${field}: ${detail}`);
    this.name = 'InvalidProjectInputError';
    this.projectId = projectId;
    this.field = field;
  }
}

/** A bias failed while generating its rules; rule generation skips it and goes on. */
export class BiasGenerationError extends Error {
  readonly bias: string;
  readonly projectId: number;

  constructor(bias: string, projectId: number, cause: unknown) {
    super(`bias ${bias} failed for project ${projectId}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'BiasGenerationError';
    this.bias = bias;
    this.projectId = projectId;
  }
}

/** A custom (investigation) rule was dropped: invalid id, condition or dates. */
export class InvalidCustomRuleError extends Error {
  readonly ruleId: number;

  constructor(ruleId: number, detail: string) {
    super(`invalid custom rule ${ruleId}: ${detail}`);
    this.name = 'InvalidCustomRuleError';
    this.ruleId = ruleId;
  }
}

/** The definitions file (or a change through the API) does not describe valid organisations and projects. */
export class DefinitionsError extends Error {
  /** Where in the document the problem is, e.g. `organizations[0].projects[1].platform`. */
  readonly path: string;
  readonly source: string | undefined;

  constructor(path: string, detail: string, source?: string) {
    super(`invalid definitions${source ? ` (${source})` : ''}${path ? ` at ${path}` : ''}: ${detail}`);
    this.name = 'DefinitionsError';
    this.path = path;
    this.source = source;
  }
}

/** An organisation, project or custom rule that the definitions do not hold. */
export class NotFoundError extends Error {
  readonly kind: 'organization' | 'project' | 'customRule';
  readonly id: number;

  constructor(kind: 'organization' | 'project' | 'customRule', id: number) {
    super(`unknown ${kind} ${id}`);
    this.name = 'NotFoundError';
    this.kind = kind;
    this.id = id;
  }
}

/** Creating a custom rule would exceed a limit (50 per project, rule ids up to 2000). */
export class TooManyRulesError extends Error {
  readonly organizationId: number;
  readonly projectId: number | undefined;

  constructor(organizationId: number, detail: string, projectId?: number) {
    super(`too many custom rules in organization ${organizationId}${projectId === undefined ? '' : ` (project ${projectId})`}: ${detail}`);
    this.name = 'TooManyRulesError';
    this.organizationId = organizationId;
    this.projectId = projectId;
  }
}

/** A custom-rule query uses a term the query translator does not support. */
export class UnsupportedQueryError extends Error {
  readonly query: string;

  constructor(query: string, detail: string) {
    super(`unsupported query ${JSON.stringify(query)}: ${detail}`);
    this.name = 'UnsupportedQueryError';
    this.query = query;
  }
}

/** A task ran past its time budget (Sentry's `TimeoutException`); carries the task context's summary. */
export class TaskTimeoutError extends Error {
  readonly taskName: string;
  readonly maxSeconds: number;
  /** `TaskContext.toDict()` at the time of the timeout. */
  readonly context: unknown;

  constructor(taskName: string, maxSeconds: number, context: unknown) {
    super(`task ${taskName} exceeded its time budget of ${maxSeconds} s`);
    this.name = 'TaskTimeoutError';
    this.taskName = taskName;
    this.maxSeconds = maxSeconds;
    this.context = context;
  }
}

/** A value read from the state store could not be understood (logged; readers fall back). */
export class StoredStateError extends Error {
  readonly key: string;

  constructor(key: string, detail: string) {
    super(`unreadable state at ${key}: ${detail}`);
    this.name = 'StoredStateError';
    this.key = key;
  }
}

/** A request to the control plane's HTTP API was refused; `status` is the HTTP status to answer. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, detail: string) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** Invalid options given to `startControlPlane` or one of its parts. */
export class ControlPlaneOptionsError extends Error {
  readonly option: string;

  constructor(option: string, detail: string) {
    super(`invalid control plane option ${option}: ${detail}`);
    this.name = 'ControlPlaneOptionsError';
    this.option = option;
  }
}
