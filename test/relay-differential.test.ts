// Differential test of config parsing against Relay's own code (PyPI sentry-relay, the judge of
// spec §3): a seeded corpus of valid configs (the vectors, the rule generator) and random
// mutations of them; the engine's verdict (rejected / unsupported / accepted) must equal Relay's
// validator for every config, except the validator's documented blind spots, named below.

import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateSamplingConfig } from '../src/rules/generate';
import type { ProjectDescription } from '../src/rules/types';
import { parseReport, type ParseReport } from '../src/engine/evaluate';
import { SeededRandom } from '../src/demo/random';
import { configCorpus, generatedConfigs } from './helpers/config-mutations';
import { startRelayOracle, type OracleAnswer, type RelayOracle } from './helpers/relay-oracle';

const VECTORS = path.resolve(__dirname, 'vectors');
const SEED = Number(process.env.DIFFERENTIAL_SEED ?? 20261203);
const COUNT = Number(process.env.DIFFERENTIAL_COUNT ?? 20_000);

type Verdict = 'rejected' | 'unsupported' | 'accepted';

function engineVerdict(report: ParseReport): Verdict {
  if (!report.accepted) return 'rejected';
  return report.unsupported ? 'unsupported' : 'accepted';
}

/** `validate_sampling_configuration` raises on a rejected config, and says so for an unsupported condition. */
function relayVerdict(answer: OracleAnswer): Verdict {
  if (answer.ok) return 'accepted';
  return /unsupported sampling rule/.test(answer.error) ? 'unsupported' : 'rejected';
}

/**
 * The validator's blind spots (spec §3): it deserializes exactly as Relay does, but reports
 * "unsupported" only for an unsupported *condition* among `rules`. Each predicate names a reason
 * the engine calls a config unsupported that the validator does not look at; a config is excluded
 * from the equality only when the engine says "unsupported" and no condition in `rules` is.
 */
const BLIND_SPOTS: Record<string, (report: ParseReport) => boolean> = {
  /** A rule type this engine does not know (Relay: `RuleType::Unsupported`, not checked by the validator). */
  unknownRuleType: (r) => (r.rules ?? []).some((rule) => rule.typeUnsupported),
  /** `version` above 2 (checked by Relay's `SamplingConfig::unsupported`, not by the validator). */
  versionAboveSupported: (r) => r.unsupportedVersion === true,
  /** A legacy `rulesV2` rule appended to `rules` by normalization (version 1) with an unsupported condition: the validator checks `rules` as written. */
  legacyRuleConditionUnsupported: (r) => legacyRules(r).some((rule) => rule.conditionUnsupported),
};

function legacyRules(r: ParseReport) {
  const rules = r.rules ?? [];
  return r.legacyRules?.appended ? rules.slice(rules.length - r.legacyRules.count) : [];
}

/** Whether the validator can see why the engine calls the config unsupported (a condition among `rules` as written). */
function validatorSeesUnsupported(r: ParseReport): boolean {
  const rules = r.rules ?? [];
  const written = r.legacyRules?.appended ? rules.slice(0, rules.length - r.legacyRules.count) : rules;
  return written.some((rule) => rule.conditionUnsupported);
}

describe("config parsing against Relay's own code", () => {
  let oracle: RelayOracle;
  beforeAll(async () => {
    oracle = await startRelayOracle();
  }, 300_000);
  afterAll(async () => oracle?.close());

  it(`agrees with Relay's validator on ${COUNT} seeded configs (seed ${SEED})`, async () => {
    const corpus = configCorpus(SEED, COUNT, VECTORS);
    expect(corpus.length).toBeGreaterThanOrEqual(20_000);
    const texts = corpus.map((c) => c.text);
    const answers: OracleAnswer[] = [];
    for (let i = 0; i < texts.length; i += 2000) {
      answers.push(...(await oracle.call(texts.slice(i, i + 2000).map((json) => ({ op: 'validate_sampling_configuration' as const, json })))));
    }
    const verdicts = { rejected: 0, unsupported: 0, accepted: 0 };
    const excluded: Record<string, number> = Object.fromEntries(Object.keys(BLIND_SPOTS).map((k) => [k, 0]));
    const disagreements: string[] = [];
    let compared = 0;
    let agreed = 0;
    let excludedConfigs = 0;
    corpus.forEach((c, i) => {
      const report = parseReport('samplingConfig', texts[i]);
      const engine = engineVerdict(report);
      const relay = relayVerdict(answers[i]);
      verdicts[engine]++;
      if (engine === 'unsupported' && !validatorSeesUnsupported(report)) {
        const names = Object.keys(BLIND_SPOTS).filter((name) => BLIND_SPOTS[name](report));
        // The exclusion must be explained by a named blind spot, and the validator must accept.
        if (names.length > 0 && relay === 'accepted') {
          for (const name of names) excluded[name]++;
          excludedConfigs++;
          return;
        }
      }
      compared++;
      if (engine === relay) agreed++;
      else if (disagreements.length < 25) {
        const why = answers[i].ok ? '' : ` (${(answers[i] as { error: string }).error.slice(0, 120)})`;
        const engineWhy = report.error ? ` (${JSON.stringify(report.error).slice(0, 160)})` : '';
        disagreements.push(`#${i} [${c.mutations.join('; ')}] engine ${engine}${engineWhy}, relay ${relay}${why}\n    ${texts[i].slice(0, 400)}`);
      }
    });
    const summary =
      `differential: ${corpus.length} configs (seed ${SEED}); engine verdicts ${JSON.stringify(verdicts)}; ` +
      `compared ${compared}, agreed ${agreed} (${((100 * agreed) / compared).toFixed(3)}%); ` +
      `excluded ${excludedConfigs} configs by blind spot (a config may match several) ${JSON.stringify(excluded)}`;
    console.log(summary);
    expect(disagreements, `${summary}\n${disagreements.join('\n')}`).toEqual([]);
    // The corpus exercises every verdict.
    expect(verdicts.rejected).toBeGreaterThan(1000);
    expect(verdicts.accepted).toBeGreaterThan(1000);
    expect(verdicts.unsupported).toBeGreaterThan(100);
    expect(compared + excludedConfigs).toBe(corpus.length);
  }, 600_000);

  it("passes every config the rule generator emits through Relay's validator", async () => {
    const configs = generatedConfigs(new SeededRandom(SEED ^ 0x5eed), 500);
    // The rule generator with the reservoir switch on emits custom (reservoir) rules, which current
    // Relay rejects: the switch is off by default for exactly that reason.
    const project = configs.length;
    const answers = await oracle.call(configs.map((c) => ({ op: 'validate_sampling_configuration' as const, json: JSON.stringify(c) })));
    const failures = answers.map((a, i) => (a.ok ? null : `${i}: ${(a as { error: string }).error}`)).filter((x) => x !== null);
    expect(failures).toEqual([]);
    expect(project).toBe(500);
    for (const c of configs) expect(parseReport('samplingConfig', c)).toMatchObject({ accepted: true, unsupported: false });

    const description: ProjectDescription = {
      projectId: 1,
      organizationId: 1,
      dateAdded: '2022-01-01T00:00:00Z',
      organizationDateAdded: '2022-01-01T00:00:00Z',
      blendedSampleRate: 0.5,
      customRules: [{ ruleId: 1, condition: { op: 'and', inner: [] }, numSamples: 10, startDate: '2024-05-01T11:00:00Z', endDate: '2024-05-01T13:00:00Z' }],
      now: '2024-05-01T12:00:00Z',
    };
    const withReservoir = JSON.stringify(generateSamplingConfig(description, { reservoir: true }));
    const [answer] = await oracle.call([{ op: 'validate_sampling_configuration', json: withReservoir }]);
    expect(relayVerdict(answer)).toBe('rejected');
    expect(engineVerdict(parseReport('samplingConfig', withReservoir))).toBe('rejected');
    expect(engineVerdict(parseReport('samplingConfig', withReservoir, { reservoir: true }))).toBe('accepted');
  }, 300_000);
});
