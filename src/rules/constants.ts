// Constants of rule generation: reserved rule ids, bias factors, glob lists and release boost durations.

import type { ActivatableBias, BiasId } from './types';

/** Reserved Relay rule ids per bias (ranges start at the given id). */
export const RESERVED_IDS = {
  uniformRule: 1000,
  boostEnvironments: 1001,
  ignoreHealthChecks: 1002,
  boostKeyTransactions: 1003,
  recalibrationRule: 1004,
  boostReplayId: 1005,
  boostLowVolumeTransactions: 1400,
  boostLatestRelease: 1500,
  minimumSampleRate: 1600,
  customRule: 3000,
} as const satisfies Record<BiasId, number>;

/** At most this many boosted releases per project (ids 1500..1509). */
export const BOOSTED_RELEASES_LIMIT = 10;

/** Custom rule ids are 1..MAX_CUSTOM_RULE_ID within an organisation. */
export const MAX_CUSTOM_RULE_ID = 2000;
/** At most this many custom rules apply to one project. */
export const MAX_CUSTOM_RULES_PER_PROJECT = 50;

export const LATEST_RELEASES_BOOST_FACTOR = 1.5;
export const LATEST_RELEASES_BOOST_DECAYED_FACTOR = 1.0;
export const IGNORE_HEALTH_CHECKS_FACTOR = 5;

/** Target sample rate when none is configured. */
export const TARGET_SAMPLE_RATE_DEFAULT = 1.0;
/** Projects and organisations younger than this are sampled at 100%. */
export const NEW_MODEL_THRESHOLD_IN_MINUTES = 10;

/** Biases active by default, in Sentry's order: the toggles of `sentry:dynamic_sampling_biases` (seven). */
export const DEFAULT_BIASES: readonly Readonly<ActivatableBias>[] = [
  { id: 'boostEnvironments', active: true },
  { id: 'boostLatestRelease', active: true },
  { id: 'ignoreHealthChecks', active: true },
  { id: 'boostKeyTransactions', active: true },
  { id: 'boostLowVolumeTransactions', active: true },
  { id: 'boostReplayId', active: true },
  { id: 'recalibrationRule', active: true },
];

/**
 * Biases that are not among the toggles but have their own switch (the minimum sample rate: its
 * feature and project option). They count as enabled unless the biases option turns them off.
 */
export const OPTION_GATED_BIASES: readonly BiasId[] = ['minimumSampleRate'];

/** Environments boosted to 100% (`ENVIRONMENT_GLOBS`). */
export const ENVIRONMENT_GLOBS: readonly string[] = ['*debug*', '*dev*', '*local*', '*qa*', '*test*'];

/** Health-check transaction globs, newest list (optional trailing slash, literal brackets). */
export const HEALTH_CHECK_GLOBS: readonly string[] = [
  '*healthcheck*',
  '*heartbeat*',
  '*/health{/,}',
  '*/healthy{/,}',
  '*/healthz{/,}',
  '*/health_check{/,}',
  '*/_health{/,}',
  String.raw`*/\[_health\]{/,}`,
  '*/live{/,}',
  '*/livez{/,}',
  '*/ready{/,}',
  '*/readyz{/,}',
  '*/ping{/,}',
  '*/up{/,}',
];

/** Health-check globs of 2024 (before the optional trailing slash variant). */
export const HEALTH_CHECK_GLOBS_2024: readonly string[] = [
  '*healthcheck*',
  '*heartbeat*',
  '*/health',
  '*/healthy',
  '*/healthz',
  '*/live',
  '*/livez',
  '*/ready',
  '*/readyz',
  '*/ping',
];

/** Default release boost duration in seconds (unknown or missing platform). */
export const DEFAULT_TIME_TO_ADOPTION = 3600;

/** Release boost duration (time to adoption, seconds) per project platform. */
export const LATEST_RELEASE_TTAS: Readonly<Record<string, number>> = Object.freeze({
  android: 43747,
  apple: 1423869,
  'apple-ios': 106006,
  'apple-macos': 15176,
  capacitor: 14507,
  cocoa: 1141204,
  'cocoa-objc': 1106061,
  'cocoa-swift': 1217941,
  cordova: 18692,
  csharp: 16964,
  'csharp-aspnetcore': 1730,
  dart: 14803,
  dotnet: 4350,
  'dotnet-aspnet': 3734,
  'dotnet-aspnetcore': 15197,
  'dotnet-awslambda': 77201,
  'dotnet-gcpfunctions': 2964,
  'dotnet-maui': 5189,
  'dotnet-uwp': 17688,
  'dotnet-winforms': 3411,
  'dotnet-wpf': 3610,
  'dotnet-xamarin': 36899,
  electron: 25198,
  elixir: 12596,
  flutter: 204973,
  go: 16487,
  'go-http': 5658,
  ionic: 7464,
  java: 12291,
  'java-android': 608689,
  'java-log4j2': 4733,
  'java-logback': 51312,
  'java-logging': 11843950,
  javascript: 11035,
  'javascript-angular': 5156,
  'javascript-angularjs': 11592,
  'javascript-backbone': 3463,
  'javascript-browser': 3552,
  'javascript-ember': 10246,
  'javascript-gatsby': 5892,
  'javascript-nextjs': 5840,
  'javascript-performance-onboarding-2-configure': 5048,
  'javascript-react': 5045,
  'javascript-remix': 11751,
  'javascript-replay-onboarding-1-install': 2609,
  'javascript-svelte': 4604,
  'javascript-vue': 10115,
  'java-spring-boot': 11731,
  kotlin: 4520,
  minidump: 57271,
  native: 1687255,
  'native-qt': 60835,
  node: 4072,
  'node-awslambda': 14136,
  'node-azurefunctions': 12385,
  'node-connect': 4389,
  'node-express': 4340,
  'node-gcpfunctions': 3728,
  'node-koa': 4214,
  'node-nodeawslambda': 3639,
  'node-serverlesscloud': 11155,
  objc: 4000209,
  other: 12019,
  php: 12112,
  'php-laravel': 12382,
  'php-symfony': 13781,
  'php-symfony2': 3817,
  python: 4358,
  'python-aiohttp': 4048,
  'python-asgi': 3999,
  'python-awslambda': 11905,
  'python-bottle': 7322,
  'python-celery': 11376,
  'python-chalice': 3933,
  'python-django': 4482,
  'python-falcon': 4206,
  'python-fastapi': 4309,
  'python-flask': 4507,
  'python-gcpfunctions': 4597,
  'python-pylons': 2982,
  'python-pyramid': 12130,
  'python-pythonawslambda': 3078,
  'python-pythonserverless': 368842,
  'python-quart': 4295,
  'python-rq': 11121,
  'python-sanic': 13805,
  'python-serverless': 10475,
  'python-starlette': 3689,
  'python-tornado': 3483,
  'python-tryton': 3605,
  'python-wsgi': 4657,
  'react-native': 54047,
  ruby: 3990,
  'ruby-rack': 4599,
  'ruby-rails': 4421,
  rust: 21803,
  swift: 1705490,
  unity: 4211,
  unreal: 15981,
});

/** Release boost duration in seconds for a project platform. */
export function timeToAdoption(platform: string | null | undefined): number {
  if (!platform) return DEFAULT_TIME_TO_ADOPTION;
  return Object.prototype.hasOwnProperty.call(LATEST_RELEASE_TTAS, platform)
    ? LATEST_RELEASE_TTAS[platform]
    : DEFAULT_TIME_TO_ADOPTION;
}
