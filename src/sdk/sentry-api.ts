// The few functions of the application's Sentry SDK the samplers call, loaded only when used
// (the package does not depend on @sentry/node; the application brings it).

import type * as SentryNode from '@sentry/node';

export type SentryApi = Pick<typeof SentryNode, 'getClient' | 'getCurrentScope' | 'getActiveSpan'>;

export function loadSentry(): SentryApi {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@sentry/node') as SentryApi;
  } catch (err) {
    throw new Error(`dynamic-sampling/sdk: @sentry/node is not installed (pass options.sentry, or install it): ${(err as Error).message}`);
  }
}
