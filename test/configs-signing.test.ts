// Relay request signing (relay-auth format) and parsing of project-config responses and project states.

import { describe, expect, it } from 'vitest';
import {
  ProjectStateError,
  RelaySigner,
  SigningKeyError,
  UpstreamProtocolError,
  generateRelayKeyPair,
  parseProjectConfigsResponse,
  parseProjectState,
  parseSecretKey,
  signRelayPayload,
} from '../src/configs';
import { verifyRelaySignatureForTest } from './helpers/upstream';

describe('Relay request signing', () => {
  it('signs `header \\0 body` with Ed25519 and formats base64url(signature).base64url(header) without padding', () => {
    const { secretKey, publicKey } = generateRelayKeyPair();
    expect(secretKey).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, no padding
    expect(publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const body = Buffer.from('{"publicKeys":["abc"],"revisions":[null],"fullConfig":true,"noCache":false}');
    const at = new Date('2024-05-01T10:00:00.123Z');
    const signature = signRelayPayload(parseSecretKey(secretKey), body, at);
    const [sig, header] = signature.split('.');
    expect(sig).toMatch(/^[A-Za-z0-9_-]{86}$/); // 64 bytes
    expect(Buffer.from(header!, 'base64url').toString()).toBe('{"t":"2024-05-01T10:00:00.123Z"}');
    expect(verifyRelaySignatureForTest(publicKey, body, signature)).toEqual({ t: '2024-05-01T10:00:00.123Z' });
    expect(verifyRelaySignatureForTest(publicKey, Buffer.concat([body, Buffer.from(' ')]), signature)).toBeNull();
    // Ed25519 is deterministic: same key, header and body give the same signature
    expect(signRelayPayload(parseSecretKey(secretKey), body, at)).toBe(signature);
  });

  it('works with the RFC 8032 test-1 key, as a 32-byte seed and as a 64-byte pair', () => {
    // RFC 8032 §7.1 test 1: secret 9d61b19d..., public d75a9801...
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const pub = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
    const key = parseSecretKey(seed.toString('base64url'));
    const signature = signRelayPayload(key, Buffer.from(''), new Date('2020-01-01T00:00:00.000Z'));
    expect(signature.split('.')[1]).toBe(Buffer.from('{"t":"2020-01-01T00:00:00.000Z"}').toString('base64url'));
    expect(verifyRelaySignatureForTest(pub.toString('base64url'), Buffer.from(''), signature)).not.toBeNull();
    // the 64-byte "keypair" form of the secret key is accepted too
    const pair = Buffer.concat([seed, pub]).toString('base64url');
    expect(signRelayPayload(parseSecretKey(pair), Buffer.from(''), new Date('2020-01-01T00:00:00.000Z'))).toBe(signature);
  });

  it('produces the Relay headers', () => {
    const { secretKey, publicKey } = generateRelayKeyPair();
    const signer = new RelaySigner('relay-id-1', secretKey, publicKey);
    const body = Buffer.from('{}');
    const headers = signer.headers(body);
    expect(headers['X-Sentry-Relay-Id']).toBe('relay-id-1');
    expect(verifyRelaySignatureForTest(publicKey, body, headers['X-Sentry-Relay-Signature']!)).not.toBeNull();
  });

  it('rejects malformed keys with SigningKeyError', () => {
    expect(() => parseSecretKey('abc')).toThrow(SigningKeyError);
    expect(() => parseSecretKey('a+b/c===')).toThrow(SigningKeyError);
    const seed = Buffer.alloc(32, 1);
    const wrongPair = Buffer.concat([seed, Buffer.alloc(32, 2)]).toString('base64url');
    expect(() => parseSecretKey(wrongPair)).toThrow(/does not belong/);
    expect(() => new RelaySigner('', generateRelayKeyPair().secretKey)).toThrow(SigningKeyError);
  });
});

describe('project-config responses', () => {
  it('parses configs, pending and unchanged; one bad entry stays isolated', () => {
    const answer = parseProjectConfigsResponse(
      JSON.stringify({
        configs: {
          good: { projectId: 1, organizationId: 2, rev: 'r', config: { sampling: { version: 2, rules: [] } } },
          off: null,
          flagged: { disabled: true },
          bad: { projectId: -1, config: {} },
        },
        pending: ['p'],
        unchanged: ['u'],
      }),
    );
    expect(answer.configs.get('good')).toMatchObject({ disabled: false, projectId: 1, organizationId: 2, rev: 'r', samplingJson: '{"version":2,"rules":[]}' });
    expect(answer.configs.get('off')).toMatchObject({ disabled: true });
    expect(answer.configs.get('flagged')).toMatchObject({ disabled: true });
    expect(answer.configs.get('bad')).toBeInstanceOf(ProjectStateError);
    expect([...answer.pending]).toEqual(['p']);
    expect([...answer.unchanged]).toEqual(['u']);
  });

  it('rejects bodies that are not project-config responses', () => {
    for (const body of ['<html>', '', '[]', '"configs"', '{"configs": []}', '{"pending": "x"}', '{"unchanged": [1]}']) {
      expect(() => parseProjectConfigsResponse(body)).toThrow(UpstreamProtocolError);
    }
    expect(parseProjectConfigsResponse('{}').configs.size).toBe(0);
  });

  it('reads config.sampling, falling back to config.dynamicSampling, and defaults the organization', () => {
    expect(parseProjectState('k', { projectId: 3, config: { dynamicSampling: { rules: [] } } })).toMatchObject({
      disabled: false, projectId: 3, organizationId: 0, rev: null, samplingJson: '{"rules":[]}',
    });
    expect(parseProjectState('k', { projectId: 3, config: { sampling: { a: 1 }, dynamicSampling: { b: 2 } } })).toMatchObject({ samplingJson: '{"a":1}' });
    expect(parseProjectState('k', { projectId: 3, config: {} })).toMatchObject({ samplingJson: null });
    expect(() => parseProjectState('k', { projectId: 3 })).toThrow(/config/);
    expect(() => parseProjectState('k', { projectId: 3, config: {}, rev: 5 })).toThrow(/rev/);
    expect(() => parseProjectState('k', [])).toThrow(ProjectStateError);
  });
});
