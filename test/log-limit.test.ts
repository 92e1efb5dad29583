// Repeated log lines: the first of a kind is logged, repeats within the interval become one line with their count.

import { describe, expect, it } from 'vitest';

import { RepeatLimiter } from '../src/server/log-limit';
import { captureLogger, waitFor } from './helpers/server';

describe('RepeatLimiter', () => {
  it('logs the first line of a kind, counts the repeats into one line when the interval ends, then starts over', async () => {
    const { logger, records } = captureLogger();
    const limiter = new RepeatLimiter(logger, 100);
    for (let i = 0; i < 500; i++) limiter.log('error', 'full', { queued: i }, 'queue full');
    limiter.log('warn', 'other', {}, 'another kind');
    expect(records().map((r) => r.msg)).toEqual(['queue full', 'another kind']);
    await waitFor(() => records().length === 3, 5000, 'the count line');
    expect(records()[2]).toMatchObject({ level: 50, queued: 499, repeated: 499, intervalMs: 100 });
    expect(records()[2].msg).toBe('queue full (499 more times within 0.1 s)');
    // A kind logged once within its interval leaves no count line; a new interval logs the first line again.
    limiter.log('error', 'full', { queued: 0 }, 'queue full');
    expect(records()).toHaveLength(4);
    limiter.flush();
    expect(records()).toHaveLength(4);
  });
});
