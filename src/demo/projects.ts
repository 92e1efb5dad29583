// The demo organisation served by `npm start`: a few projects with sampling configs generated from biases.

import { conditionHash } from '../control/definitions/custom-rules';
import type { DefinitionsDocument, ProjectDefinition } from '../control/definitions/types';
import { generateSamplingConfig } from '../rules/generate';
import type { ProjectDescription } from '../rules/types';
import type { RuleCondition } from '../engine/types';
import { DEMO_ORGANIZATION_ID, DEMO_PROJECT_ID, DEMO_PUBLIC_KEY } from './config';

export interface DemoProject {
  slug: string;
  projectId: number;
  publicKey: string;
  platform: string;
}

export const DEMO_PROJECTS: readonly DemoProject[] = [
  { slug: 'shop-backend', projectId: DEMO_PROJECT_ID, publicKey: DEMO_PUBLIC_KEY, platform: 'node' },
  { slug: 'shop-frontend', projectId: 43, publicKey: 'e12d836b15bb49d7bbf99e64295d995b', platform: 'javascript-react' },
  { slug: 'payments', projectId: 44, publicKey: '0c5b3c9f0b8e4a1e9a0d2f6d1c7e8b9a', platform: 'node' },
];

/** A revoked key of the organisation (answered 401). */
export const DEMO_DISABLED_KEY = 'd1f1e3c2b4a5968778695a4b3c2d1e0f';

/** The investigation ("custom") rule on the backend: keep the first 50 checkout transactions, whatever the rate. */
export const DEMO_CUSTOM_RULE = { ruleId: 7, transaction: '/api/checkout', numSamples: 50, endDate: '2031-01-01T00:00:00Z' };

function description(project: DemoProject, now: Date): ProjectDescription {
  const base: ProjectDescription = {
    projectId: project.projectId,
    organizationId: DEMO_ORGANIZATION_ID,
    platform: project.platform,
    dateAdded: '2023-01-01T00:00:00Z',
    organizationDateAdded: '2022-01-01T00:00:00Z',
    blendedSampleRate: 0.25,
    now,
  };
  switch (project.slug) {
    case 'shop-backend':
      return {
        ...base,
        state: {
          rebalancedProjectRate: 0.2,
          transactionRates: { named: [['/api/users/{id}', 0.05], ['/api/orders/{id}', 0.1], ['/api/search', 0.5]], implicit: 0.3 },
        },
        customRules: [
          {
            ruleId: DEMO_CUSTOM_RULE.ruleId,
            condition: { op: 'eq', name: 'event.transaction', value: [DEMO_CUSTOM_RULE.transaction] },
            numSamples: DEMO_CUSTOM_RULE.numSamples,
            startDate: new Date(now.getTime() - 3_600_000),
            endDate: DEMO_CUSTOM_RULE.endDate,
          },
        ],
      };
    case 'shop-frontend':
      return { ...base, state: { rebalancedProjectRate: 0.5 } };
    default:
      // A low-volume project: the rebalancing keeps all of it.
      return { ...base, state: { rebalancedProjectRate: 1.0 } };
  }
}

/** The configs file (`{configs: {publicKey: projectState}}`) of the demo organisation at `now`. */
export function demoProjectsFile(now: Date): { configs: Record<string, unknown> } {
  const configs: Record<string, unknown> = {};
  for (const project of DEMO_PROJECTS) {
    configs[project.publicKey] = {
      disabled: false,
      slug: project.slug,
      projectId: project.projectId,
      organizationId: DEMO_ORGANIZATION_ID,
      publicKeys: [{ publicKey: project.publicKey, numericId: project.projectId }],
      lastChange: now.toISOString(),
      rev: `demo-${now.toISOString().slice(0, 10)}`,
      config: { sampling: generateSamplingConfig(description(project, now)) },
    };
  }
  configs[DEMO_DISABLED_KEY] = { disabled: true };
  return { configs };
}

/** The organisation's target sample rate in the control plane's definitions (`npm start`). */
export const DEMO_TARGET_SAMPLE_RATE = 0.25;

/**
 * The demo organisation as control-plane definitions (`examples/control.json`, what `npm start`
 * serves): the same projects, keys (the revoked one included) and investigation rule as
 * `examples/projects.json`, with a 25% target rate; the rates then come from the rebalancing.
 */
export function demoControlDefinitions(): DefinitionsDocument {
  const condition: RuleCondition = { op: 'eq', name: 'event.transaction', value: [DEMO_CUSTOM_RULE.transaction] };
  const backend = DEMO_PROJECTS[0];
  const projects: ProjectDefinition[] = DEMO_PROJECTS.map((p) => ({
    id: p.projectId,
    slug: p.slug,
    platform: p.platform,
    createdAt: '2023-01-01T00:00:00Z',
    publicKeys: [{ publicKey: p.publicKey, numericId: p.projectId }, ...(p === backend ? [{ publicKey: DEMO_DISABLED_KEY, isEnabled: false }] : [])],
  }));
  return {
    organizations: [
      {
        id: DEMO_ORGANIZATION_ID,
        slug: 'demo',
        createdAt: '2022-01-01T00:00:00Z',
        targetSampleRate: DEMO_TARGET_SAMPLE_RATE,
        projects,
        customRules: [
          {
            ruleId: DEMO_CUSTOM_RULE.ruleId,
            condition,
            projects: [backend.projectId],
            startDate: '2024-01-01T00:00:00Z',
            endDate: DEMO_CUSTOM_RULE.endDate,
            numSamples: DEMO_CUSTOM_RULE.numSamples,
            sampleRate: 1,
            isActive: true,
            conditionHash: conditionHash(condition, [backend.projectId]),
            query: `transaction:${DEMO_CUSTOM_RULE.transaction}`,
          },
        ],
      },
    ],
  };
}
