// Normalization before matching (spec §4.4), differentially against Relay's own code: thousands of
// generated transaction events go through sentry-relay's StoreNormalizer and through the engine's
// `normalizedFields`; every field a condition can read must come out the same.
//
// The oracle does not apply `txNameRules` (sentry-relay 0.10.1 ignores them), so for events with
// rules the expectation is the oracle's scrubbed name with the rules applied by `applyTxNameRules`
// below: a second, independent implementation of Relay's rule semantics
// (relay-event-normalization/src/transactions/rules.rs, relay-common/src/glob2.rs).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { normalizedFields, type NormalizedFields } from '../src/engine/evaluate';
import type { TxNameRuleJson } from '../src/engine/types';
import { startRelayOracle, type RelayOracle } from './helpers/relay-oracle';
import { SeededRandom } from '../src/demo/random';
import { USER_AGENTS } from './fixtures/user-agents';

const NOW = '2026-06-01T00:00:00Z';
const COUNT = 2400;


class Gen extends SeededRandom {
  hex(n: number, upper = false): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return upper ? s.toUpperCase() : s;
  }
  digits(n: number): string {
    let s = String(1 + this.int(9));
    for (let i = 1; i < n; i++) s += String(this.int(10));
    return s;
  }
}

const WORDS = ['users', 'orders', 'api', 'v2', 'items', 'orgs', 'acme', 'projects', 'checkout', 'cart', 'search', 'settings', 'files', 'x', 'health', 'v1'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** One path segment: a word, or an identifier of some kind (some of them not scrubbed). */
function segment(g: Gen): string {
  switch (g.int(18)) {
    case 0:
    case 1:
      return g.digits(2 + g.int(8));
    case 2:
      return g.digits(1);
    case 3: {
      const u = `${g.hex(8)}-${g.hex(4)}-${g.hex(4)}-${g.hex(4)}-${g.hex(12)}`;
      return g.chance(0.3) ? u.toUpperCase() : u;
    }
    case 4:
      return g.hex(40, g.chance(0.2));
    case 5:
      return g.hex(32);
    case 6: {
      const d = `${2000 + g.int(30)}-${pad2(1 + g.int(12))}-${pad2(1 + g.int(28))}T${pad2(g.int(24))}:${pad2(g.int(60))}`;
      return g.pick([`${d}:${pad2(g.int(60))}Z`, `${d}:${pad2(g.int(60))}.${g.digits(3)}+01:00`, `${d}Z`, `${d.slice(0, 10)}`]);
    }
    case 7:
      return `${g.pick(DAYS)} ${g.pick(MONTHS)} ${1 + g.int(28)} ${pad2(g.int(24))}:${pad2(g.int(60))}:${pad2(g.int(60))} ${2000 + g.int(30)}`;
    case 8:
      return `${g.pick(DAYS)}, ${1 + g.int(28)} ${g.pick(MONTHS)} ${2000 + g.int(30)} ${pad2(g.int(24))}:${pad2(g.int(60))} ${g.pick(['GMT', '+0100', 'PST', 'Z'])}`;
    case 9:
      return `0x${g.hex(1 + g.int(10))}`;
    case 10:
      return `${g.pick(WORDS)}-${g.digits(1 + g.int(4))}`;
    case 11:
      return `${g.pick(WORDS)}${g.digits(1 + g.int(3))}${g.pick(['', 'abc', '.json'])}`;
    case 12:
      return `${g.pick(WORDS)}%20${g.pick(WORDS)}${g.chance(0.5) ? g.digits(2) : ''}`;
    case 13:
      return `${g.pick(WORDS)}.${g.hex(8)}`;
    case 14: {
      // An ISO date with more after it in the segment: Relay's date alternative ends at the date.
      const d = `${2000 + g.int(30)}-${pad2(1 + g.int(12))}-${pad2(1 + g.int(28))}T${pad2(g.int(24))}:${pad2(g.int(60))}Z`;
      return `${g.pick(['', 'at-', 'x'])}${d}${g.pick(['.json', '?page=2', ' tail', '-v2'])}`;
    }
    case 15:
      // A date after a `%` that is no escape: the number alternative cannot reach it.
      return `${g.pick(WORDS)}%zz ${g.pick(DAYS)} ${g.pick(MONTHS)} ${1 + g.int(28)} ${pad2(g.int(24))}:${pad2(g.int(60))}:${pad2(g.int(60))} ${2000 + g.int(30)} ${g.pick(WORDS)}`;
    default:
      return g.pick(WORDS);
  }
}

function urlName(g: Gen): string {
  const parts = Array.from({ length: 1 + g.int(5) }, () => segment(g));
  let name = (g.chance(0.9) ? '/' : '') + parts.join(g.chance(0.05) ? '\\' : '/');
  if (g.chance(0.15)) name += '/';
  if (g.chance(0.05)) name += `?page=${g.digits(2)}`;
  return name;
}

const SOURCES = ['url', 'url', 'url', 'sanitized', 'route', 'custom', 'component', 'view', 'task', 'unknown', 'bogus', null, null];
const SDKS = [
  { name: 'sentry.javascript.browser', version: '8.0.0' },
  { name: 'sentry.javascript.react', version: '8.0.0' },
  { name: 'sentry.javascript.node', version: '8.0.0', integrations: ['Express', 'Http'] },
  { name: 'sentry.python', version: '2.0.0', integrations: ['django'] },
  { name: 'sentry.php.laravel', version: '4.0.0' },
  { name: 'sentry.ruby', version: '5.0.0' },
  null,
];
const STATUSES: unknown[] = ['ok', 'OK', 'success', 'cancelled', 'unknown_error', 'failure', 'internal_error', 'not_found', 'bogus', '', 0, 1, 5, 16, 17, true, null, undefined];
const OS_DESCRIPTIONS = [
  'Microsoft Windows 6.1.7601 S', 'Microsoft Windows NT 10.0.19045.0', 'Windows 10 (10.0.22621)', 'Microsoft Windows 10.0.26100',
  'Mac OS X 10.14.6', 'Mac OS X 10.15.7 (19H2)', 'Mac OS X 13.4.1 (22f82)', 'iOS 17.1.2', 'iPadOS 16.5', 'Android OS 13 / API-33',
  'Linux 5.15.0 Ubuntu 22.04', 'Linux 6.1.0-13-amd64 #1 SMP Debian', 'Darwin 21.6.0 Darwin Kernel Version', 'FreeBSD 13.2-RELEASE',
  'Nintendo Switch', 'Fedora 39', 'Windows', 'Unix 5.4.0.1',
];
const PLATFORMS = ['javascript', 'javascript', 'node', 'python', 'other', undefined];

const RULES: TxNameRuleJson[][] = [
  [],
  [{ pattern: '/orgs/*/**', expiry: '2099-01-01T00:00:00Z', redaction: { method: 'replace', substitution: '*' } }],
  [
    { pattern: '/users/*/settings/**', expiry: '2099-01-01T00:00:00Z', redaction: { method: 'replace', substitution: ':id' } },
    { pattern: '/api/*/**', expiry: '2020-01-01T00:00:00Z', redaction: { method: 'replace' } },
    { pattern: '/checkout/*/*/**', expiry: '2099-01-01T00:00:00Z', redaction: { method: 'replace' } },
  ],
  [
    { pattern: '/cart/**', expiry: '2099-01-01T00:00:00Z', redaction: { method: 'update' } },
    { pattern: '/*/**', expiry: '2099-01-01T00:00:00Z', redaction: { method: 'replace', substitution: '<seg>' } },
  ],
];

interface Case {
  event: Record<string, unknown>;
  rules: TxNameRuleJson[];
  /** A DSC transaction name (no surrounding spaces: DSC names are not trimmed). */
  dscName: string;
}

function generate(g: Gen, i: number): Case {
  const traceId = g.hex(32);
  const trace: Record<string, unknown> = { trace_id: traceId, span_id: g.hex(16) };
  const status = g.pick(STATUSES);
  if (status !== undefined) trace.status = status;
  if (g.chance(0.5)) trace.op = g.pick(['http.server', 'pageload', 'navigation', '']);
  const contexts: Record<string, unknown> = { trace };
  if (g.chance(0.15)) contexts.browser = { name: 'MyBrowser', version: '1.0' };
  if (g.chance(0.15)) contexts.device = { family: 'MyDevice', model: 'M1', brand: 'B' };
  if (g.chance(0.15)) contexts.os = { name: 'MyOS', version: '9' };
  else if (g.chance(0.2)) {
    // What .NET, Unity and Unreal SDKs send: only a raw description, parsed by normalization.
    const os: Record<string, unknown> = { raw_description: g.pick(OS_DESCRIPTIONS) };
    if (g.chance(0.3)) os.build = 'b42';
    if (g.chance(0.2)) os.kernel_version = '1.0';
    contexts.os = os;
  }
  let name: string | undefined = urlName(g);
  const shape = g.int(20);
  if (shape === 0) name = '';
  else if (shape === 1) name = undefined;
  else if (shape === 2) name = `  ${name} `;
  else if (shape === 3) name = g.pick(['GET /users', 'checkout', 'UserController#show', 'users.show']);
  const event: Record<string, unknown> = {
    event_id: g.hex(32),
    type: 'transaction',
    start_timestamp: 1_700_000_000 + i,
    timestamp: 1_700_000_000.5 + i,
    contexts,
  };
  if (name !== undefined) event.transaction = name;
  const source = g.pick(SOURCES);
  if (source !== null) event.transaction_info = { source };
  const sdk = g.pick(SDKS);
  if (sdk) event.sdk = sdk;
  const platform = g.pick(PLATFORMS);
  if (platform) event.platform = platform;
  if (g.chance(0.3)) event.tags = [['http.status_code', g.pick(['200', '404'])]];
  if (g.chance(0.85)) {
    const ua = g.pick(USER_AGENTS);
    const uaName = g.pick(['User-Agent', 'user-agent', 'USER-AGENT']);
    const headers: Array<[string, string]> = [['Accept', 'application/json'], [uaName, ua]];
    if (g.chance(0.1)) headers.push(['Sec-CH-UA', g.pick(['"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"', '"Chromium";v="119", "Opera";v="105", "Not)A;Brand";v="99"', '"Not_A Brand";v="99", " ";v="1"'])]);
    if (g.chance(0.1)) headers.push(['Sec-CH-UA-Platform', g.pick(['"macOS"', '"Windows"', '""'])]);
    if (g.chance(0.05)) headers.push(['Sec-CH-UA-Platform-Version', '"15.0.0"']);
    if (g.chance(0.05)) headers.push(['Sec-CH-UA-Model', g.pick(['"Pixel 7"', '""'])]);
    const request: Record<string, unknown> = { url: `https://example.com${urlName(g)}`, method: g.pick(['GET', 'POST', 'OPTIONS']) };
    request.headers = g.chance(0.5) ? headers : Object.fromEntries(headers);
    event.request = request;
  }
  const rules = g.chance(0.5) ? RULES[0] : g.pick(RULES);
  let dscName = urlName(g);
  if (g.chance(0.1)) dscName = g.pick(['checkout', 'GET users', 'task-1234']);
  return { event, rules, dscName };
}

/** Relay's transaction-name rules, implemented again for the expectation (see the file header). */
function applyTxNameRules(name: string, rules: readonly TxNameRuleJson[], now: Date): string {
  const appended = !name.endsWith('/');
  const subject = appended ? `${name}/` : name;
  for (const rule of rules) {
    if (!(Date.parse(rule.expiry) > now.getTime())) continue;
    let source = '^';
    const tokens = /\\\?|\\\*\\\*|\\\*|\?|\*\*|\*/g;
    let last = 0;
    for (const m of rule.pattern.matchAll(tokens)) {
      source += rule.pattern.slice(last, m.index).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      source += m[0] === '?' ? '(?:.)' : m[0] === '**' ? '(?:.*?)' : m[0] === '*' ? '([^/]*?)' : m[0];
      last = m.index! + m[0].length;
    }
    source += rule.pattern.slice(last).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') + '$';
    const match = new RegExp(source, 'du').exec(subject);
    if (!match) continue;
    let result = subject;
    if (rule.redaction.method === 'replace') {
      const substitution = rule.redaction.substitution ?? '*';
      result = '';
      let at = 0;
      const indices = match.indices!;
      for (let k = 1; k < indices.length; k++) {
        const span = indices[k];
        if (!span) continue;
        result += subject.slice(at, span[0]) + substitution;
        at = span[1];
      }
      result += subject.slice(at);
    }
    return appended ? result.slice(0, -1) : result;
  }
  return name;
}

type Fields = Record<string, string | null>;

function oracleFields(normalized: Record<string, unknown>): Fields {
  const ctx = (normalized.contexts ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? null : String(v));
  return {
    'event.transaction': str(normalized.transaction),
    'event.transaction.source': str((normalized.transaction_info as Record<string, unknown> | undefined)?.source),
    'event.contexts.browser.name': str(ctx.browser?.name),
    'event.contexts.browser.version': str(ctx.browser?.version),
    'event.contexts.device.family': str(ctx.device?.family),
    'event.contexts.device.model': str(ctx.device?.model),
    'event.contexts.device.brand': str(ctx.device?.brand),
    'event.contexts.os.name': str(ctx.os?.name),
    'event.contexts.os.version': str(ctx.os?.version),
    'event.contexts.os.build': str(ctx.os?.build),
    'event.contexts.os.kernel_version': str(ctx.os?.kernel_version),
    'event.contexts.trace.status': str(ctx.trace?.status),
    'event.contexts.trace.op': str(ctx.trace?.op),
  };
}

describe('normalization before matching, against sentry-relay StoreNormalizer', () => {
  let oracle: RelayOracle;
  beforeAll(async () => {
    oracle = await startRelayOracle();
  }, 300_000);
  afterAll(async () => oracle?.close());

  it(`agrees on every normalizable field for ${COUNT} generated transactions and their DSC names`, async () => {
    const g = new Gen(20261203);
    const cases = Array.from({ length: COUNT }, (_, i) => generate(g, i));
    const options = { project_id: 1, normalize_user_agent: true };
    const answers = await oracle.call(cases.map((c) => ({ op: 'normalize_event' as const, event: c.event, options })));
    // The DSC names, scrubbed by the oracle as URL names of otherwise empty transactions.
    const scrubbed = await oracle.call(
      cases.map((c) => ({
        op: 'normalize_event' as const,
        event: { type: 'transaction', transaction: c.dscName, transaction_info: { source: 'url' }, start_timestamp: 1, timestamp: 2, contexts: { trace: { trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) } } },
        options: { project_id: 1 },
      })),
    );
    const now = new Date(NOW);
    let compared = 0;
    let agreed = 0;
    let withRules = 0;
    const differences: unknown[] = [];
    const fieldCounts = new Map<string, number>();
    cases.forEach((c, i) => {
      const answer = answers[i];
      if (!answer.ok) throw new Error(`oracle rejected case ${i}: ${answer.error}`);
      const expected = oracleFields(answer.result as Record<string, unknown>);
      if (c.rules.length > 0 && expected['event.transaction.source'] === 'sanitized') {
        expected['event.transaction'] = applyTxNameRules(expected['event.transaction']!, c.rules, now);
      }
      const dscAnswer = scrubbed[i];
      if (!dscAnswer.ok) throw new Error(`oracle rejected DSC case ${i}: ${dscAnswer.error}`);
      const oracleScrubbed = (dscAnswer.result as { transaction: string }).transaction;
      expected['trace.transaction'] = c.dscName.includes('/') ? applyTxNameRules(oracleScrubbed, c.rules, now) : c.dscName;
      if (c.rules.length > 0) withRules++;

      const actual: NormalizedFields = normalizedFields({
        event: c.event,
        dsc: { trace_id: 'a'.repeat(32), public_key: 'b'.repeat(32), transaction: c.dscName },
        txNameRules: c.rules,
        rootTxNameRules: c.rules,
        now: NOW,
      });
      let same = true;
      for (const [path, value] of Object.entries(expected)) {
        compared++;
        const got = (actual as Record<string, string | null | undefined>)[path] ?? null;
        if (value !== null) fieldCounts.set(path, (fieldCounts.get(path) ?? 0) + 1);
        if (got === value) agreed++;
        else {
          same = false;
          if (differences.length < 20) {
            const e = c.event as { transaction?: string; transaction_info?: unknown; platform?: string; sdk?: { name?: string }; request?: { headers?: unknown } };
            const where = path === 'trace.transaction' ? { dscName: c.dscName, rules: c.rules.length } : { transaction: e.transaction, info: e.transaction_info, platform: e.platform, sdk: e.sdk?.name, headers: e.request?.headers, contexts: c.event.contexts };
            differences.push({ case: i, path, expected: value, actual: got, ...where });
          }
        }
      }
      void same;
    });
    console.log(
      `normalization differential: ${cases.length} transactions (${withRules} with txNameRules), ${compared} field values compared, ` +
        `${agreed} agree (${((100 * agreed) / compared).toFixed(2)}%); non-null expected values per field: ` +
        JSON.stringify(Object.fromEntries(fieldCounts)),
    );
    expect(differences).toEqual([]);
    // The generator must actually exercise every field (a test that cannot fail is no test).
    for (const path of ['event.transaction', 'event.contexts.browser.name', 'event.contexts.device.family', 'event.contexts.os.name', 'event.contexts.os.version', 'event.contexts.os.build', 'event.contexts.os.kernel_version', 'event.contexts.trace.op', 'trace.transaction']) {
      expect(fieldCounts.get(path) ?? 0).toBeGreaterThan(100);
    }
  }, 600_000);
});
