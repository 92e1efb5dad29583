// The biases: one pure rule generator per bias, re-exported.

export { customRules, type CustomRulesOptions } from './custom-rules';
export { ignoreHealthChecksRules, type IgnoreHealthChecksOptions } from './ignore-health-checks';
export { boostReplayIdRules } from './boost-replay-id';
export { boostEnvironmentsRules } from './boost-environments';
export { recalibrationFactor, recalibrationRules } from './recalibration';
export { boostLatestReleasesRules, latestReleaseBoostFactor } from './boost-latest-releases';
export { boostLowVolumeTransactionsRules, namedTransactionRates } from './boost-low-volume-transactions';
export { minimumSampleRateRules } from './minimum-sample-rate';
export { boostLowVolumeProjectsRules } from './boost-low-volume-projects';
