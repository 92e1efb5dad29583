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
