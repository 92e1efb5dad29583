// The file sink's JSON line: built as text around the base64 envelope, byte for byte what `JSON.stringify` of the record gives.

import { describe, expect, it } from 'vitest';

import { parseJsonLines, toJsonLine, toRecord } from '../src/server/sinks/record';
import type { KeptEnvelope } from '../src/server/sinks/types';

function kept(envelope: Buffer, overrides: Partial<KeptEnvelope['decision']> = {}): KeptEnvelope {
  return {
    receivedAt: Date.UTC(2026, 11, 4, 3, 0, 0, 123),
    projectId: 42,
    publicKey: 'abd0f232775f45feab79864e580d160b',
    eventId: 'e5f9d495c8161304e8f1ded3e58f4cdf',
    decision: {
      decision: 'keep',
      kind: 'transaction',
      sampleRate: 0.25,
      randomValue: 0.125,
      matchedRuleIds: [1000, 1002],
      keepReason: 'none',
      traceFullySampled: null,
      ...overrides,
    } as KeptEnvelope['decision'],
    modified: true,
    envelope,
  };
}

describe('toJsonLine', () => {
  it('writes exactly the JSON of the record, envelope last', () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const cases = [
      kept(Buffer.alloc(0)),
      kept(Buffer.from('{"event_id":"x"}\n{"type":"event"}\n{"message":"caf\u00e9 \\"q\\""}\n')),
      kept(every, { sampleRate: null, randomValue: null, matchedRuleIds: [], traceFullySampled: true }),
      kept(Buffer.concat([every, every, Buffer.from([0xff, 0xfe])]), { decision: 'noMatch' as never }),
      kept(Buffer.from('x'), { sampleRate: 1e-7, randomValue: 0.9999999999999999, matchedRuleIds: [3007], traceFullySampled: false, keepReason: 'unknownProject' }),
      { ...kept(Buffer.from('y'), { sampleRate: 1, randomValue: 0 }), modified: false, receivedAt: Date.UTC(1999, 0, 1), eventId: 'quote " and \\ and \u2028' },
      // Metadata beyond ASCII (Latin-1 and beyond): written as UTF-8, not copied as Latin-1.
      { ...kept(Buffer.from('z')), publicKey: 'caf\u00e9', eventId: '\u{1F600}' },
    ];
    for (const k of cases) {
      const line = toJsonLine(k);
      expect(line.equals(Buffer.from(`${JSON.stringify(toRecord(k))}\n`, 'utf8'))).toBe(true);
      const [back] = parseJsonLines(line.toString('utf8'));
      expect(back.bytes.equals(k.envelope)).toBe(true);
      expect(back.decision.matchedRuleIds).toEqual(k.decision.matchedRuleIds);
    }
  });
});
