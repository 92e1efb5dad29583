// The per-org pass's base-rate step under the predictive rate budget: the projects model gets the rate whose served rules keep the target.

import { solveOrgBudget, type CandidateRates, type CandidateRatesOf } from '../budget/org-budget';
import { ReleaseBoosts } from '../state/releases';
import {
  applyRateOverrides,
  balanceTransactions,
  parseRateOverrides,
  projectsModel,
  type BaseRateContext,
  type BaseRateProblem,
  type BaseRateSolver,
} from './calculations';

/**
 * What the pass would store for a model rate: the projects model, the per-project overrides, and
 * the transaction balancing of the pass (its 30 largest transactions per project over the hour).
 */
function perOrgCandidate(problem: BaseRateProblem, context: BaseRateContext): CandidateRatesOf {
  const overrides = parseRateOverrides(context.deps.options.sampleRateOverridePerProject);
  const { projectVolumes, transactionVolumes } = context.traffic;
  return (modelRate) => {
    const items = applyRateOverrides(projectsModel({ ...problem, sampleRate: modelRate }), overrides);
    const rates = new Map<number, number | null>(items.map((i) => [i.id, i.newSampleRate]));
    const balanced = balanceTransactions(rates, projectVolumes, transactionVolumes, context.deps.options.transactionsMinSampleRate);
    const out = new Map<number, CandidateRates>();
    for (const item of items) {
      const b = balanced.get(item.id);
      out.set(item.id, { projectRate: item.newSampleRate, transactionRates: b ? { named: b.named.map((n) => [n.id, n.newSampleRate] as const), implicit: b.implicit } : undefined });
    }
    return out;
  };
}

/** The predictive budget as the per-org pass's solver (without a context, or at rate 0 or 1, the projects model). */
export const predictiveSolver: BaseRateSolver = async (problem, context) => {
  if (!context || !(problem.sampleRate > 0 && problem.sampleRate < 1)) return projectsModel(problem);
  const { deps, org, store } = context;
  const serving = { definitions: deps.definitions, state: deps.state, releases: new ReleaseBoosts(deps.state.kv), perOrg: store };
  const budget = await solveOrgBudget(deps, org, problem.sampleRate, { candidate: perOrgCandidate(problem, context), serving });
  context.budget = budget;
  deps.logger.info({ orgId: org.id, target: problem.sampleRate, ...budget }, 'dynamic_sampling.rate_budget');
  return projectsModel({ ...problem, sampleRate: budget.modelRate });
};

/** The default base-rate step: `options.rateBudget` chooses the predictive budget or Sentry's projects model. */
export const rateBudgetSolver: BaseRateSolver = (problem, context) =>
  context?.deps.options.rateBudget === 'predictive' ? predictiveSolver(problem, context) : projectsModel(problem);
