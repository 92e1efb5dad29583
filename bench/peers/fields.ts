// What conditions read: typed field values, field paths resolved once, and the three kinds of
// instance (a DSC, an event parsed with JSON.parse, a flat typed map) with Relay's normalisation.

import { parseIp, type Ip } from './ip';
import { parseUuid } from './random';

/** An id held as bytes (trace, span, replay ids), kept as lowercase hex. */
export class HexId {
  constructor(readonly lower: string) {}
}

/** A field value: string, boolean, number, hex id or IP address. */
export type Value = string | boolean | number | HexId | Ip;

/** A field path from a rule, resolved when the rule is compiled. */
export interface Field {
  name: string;
  /** Index of a DSC field (`DSC_*`), or -1. */
  dsc: number;
  /** Reads the field from a parsed event; null when the path is not an event path. */
  event: ((e: any) => Value | undefined) | null;
}

export interface Instance {
  get(field: Field): Value | undefined;
  /** The elements of the array at `field`, or undefined when there is none. */
  elements(field: Field): Instance[] | undefined;
}

// ------------------------------------------------------------------------------------------------
// DSC

export const DSC_RELEASE = 0;
export const DSC_ENVIRONMENT = 1;
export const DSC_TRANSACTION = 2;
export const DSC_USER_ID = 3;
export const DSC_USER_SEGMENT = 4;
export const DSC_REPLAY_ID = 5;
const DSC_FIELDS: Record<string, number> = {
  release: DSC_RELEASE,
  environment: DSC_ENVIRONMENT,
  transaction: DSC_TRANSACTION,
  'user.id': DSC_USER_ID,
  'user.segment': DSC_USER_SEGMENT,
  replay_id: DSC_REPLAY_ID,
};

const PROJECT_KEY = /^[0-9a-fA-F]{32}$/;

/** Whether `text` is a project public key (32 hex digits). */
export function isProjectKey(text: unknown): text is string {
  return typeof text === 'string' && PROJECT_KEY.test(text);
}

/** A dynamic sampling context, validated as strictly as Relay does. */
export class Dsc implements Instance {
  release: string | undefined = undefined;
  environment: string | undefined = undefined;
  transaction: string | undefined = undefined;
  sampleRate: number | undefined = undefined;
  sampled: boolean | undefined = undefined;
  /** Empty when absent. */
  userId = '';
  userSegment = '';
  replayId: HexId | undefined = undefined;

  constructor(
    /** The trace id as written (a UUID). */
    readonly traceId: string,
    /** Lowercase 32-hex project key. */
    readonly publicKey: string,
  ) {}

  get(field: Field): Value | undefined {
    switch (field.dsc) {
      case DSC_RELEASE:
        return this.release;
      case DSC_ENVIRONMENT:
        return this.environment;
      case DSC_TRANSACTION:
        return this.transaction;
      case DSC_USER_ID:
        return this.userId === '' ? undefined : this.userId;
      case DSC_USER_SEGMENT:
        return this.userSegment === '' ? undefined : this.userSegment;
      case DSC_REPLAY_ID:
        return this.replayId;
      default:
        return undefined;
    }
  }

  elements(): undefined {
    return undefined;
  }

  /** Only the trace id, rate and `sampled` of a foreign trace are trusted (spans). */
  reducedTo(publicKey: string): Dsc {
    const d = new Dsc(this.traceId, publicKey);
    d.sampleRate = this.sampleRate;
    d.sampled = this.sampled;
    return d;
  }
}

function optionalString(v: unknown): string | undefined | null {
  if (v === null) return undefined;
  return typeof v === 'string' ? v : null; // null: invalid
}

const JSON_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/** Parses the envelope header's `trace`; undefined when it is not a valid DSC. */
export function parseDsc(value: unknown): Dsc | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const obj = value as Record<string, unknown>;
  let traceId: string | undefined;
  let publicKey: string | undefined;
  let release: string | undefined;
  let environment: string | undefined;
  let transaction: string | undefined;
  let sampleRate: number | undefined;
  let sampled: boolean | undefined;
  let replayId: HexId | undefined;
  let flatUserId: string | undefined;
  let flatUserSegment: string | undefined;
  let nestedUser: Record<string, unknown> | undefined;
  for (const key in obj) {
    const v = obj[key];
    switch (key) {
      case 'trace_id':
        if (typeof v !== 'string' || parseUuid(v) === undefined) return undefined;
        traceId = v;
        break;
      case 'public_key':
        if (!isProjectKey(v)) return undefined;
        publicKey = v.toLowerCase();
        break;
      case 'release': {
        const s = optionalString(v);
        if (s === null) return undefined;
        release = s;
        break;
      }
      case 'environment': {
        const s = optionalString(v);
        if (s === null) return undefined;
        environment = s;
        break;
      }
      case 'transaction':
      case 'segment_name': {
        const s = optionalString(v);
        if (s === null) return undefined;
        if (s !== undefined) transaction = s;
        break;
      }
      case 'sample_rate':
        if (v === null) {
          sampleRate = undefined;
          break;
        }
        if (typeof v !== 'string' || !JSON_NUMBER.test(v.trim())) return undefined;
        sampleRate = Number(v);
        if (sampleRate < 0) return undefined;
        break;
      case 'sampled':
        if (typeof v === 'boolean') sampled = v;
        else if (v === 'true') sampled = true;
        else if (v === 'false') sampled = false;
        else if (v === null || typeof v === 'string') sampled = undefined;
        else return undefined;
        break;
      case 'user_id':
        if (typeof v !== 'string') return undefined;
        flatUserId = v;
        break;
      case 'user_segment':
        if (typeof v !== 'string') return undefined;
        flatUserSegment = v;
        break;
      case 'user':
        if (v !== null) {
          if (typeof v !== 'object' || Array.isArray(v)) return undefined;
          nestedUser = v as Record<string, unknown>;
        }
        break;
      case 'replay_id':
        if (v !== null) {
          if (typeof v !== 'string') return undefined;
          const words = parseUuid(v);
          if (words === undefined) return undefined;
          replayId = new HexId(words.map((w) => w.toString(16).padStart(8, '0')).join(''));
        }
        break;
    }
  }
  if (traceId === undefined || publicKey === undefined) return undefined;
  const dsc = new Dsc(traceId, publicKey);
  dsc.release = release;
  dsc.environment = environment;
  dsc.transaction = transaction;
  dsc.sampleRate = sampleRate;
  dsc.sampled = sampled;
  dsc.replayId = replayId;
  // A non-empty flat field means the flat pair wins entirely; otherwise the nested object.
  if ((flatUserId !== undefined && flatUserId !== '') || (flatUserSegment !== undefined && flatUserSegment !== '')) {
    dsc.userId = flatUserId ?? '';
    dsc.userSegment = flatUserSegment ?? '';
  } else if (nestedUser !== undefined) {
    for (const k of ['id', 'segment'] as const) {
      const v = nestedUser[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') return undefined;
      if (k === 'id') dsc.userId = v;
      else dsc.userSegment = v;
    }
  }
  return dsc;
}

// ------------------------------------------------------------------------------------------------
// Events

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function obj(v: unknown): any {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/** A string, or a number read as its text (Relay's lenient string). */
function lenient(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return undefined;
}

function scalar(v: unknown): Value | undefined {
  return typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number' ? v : undefined;
}

function titleCase(name: string): string {
  let out = '';
  let start = true;
  for (const c of name) {
    out += start ? c.toUpperCase() : c;
    start = c === '-';
  }
  return out;
}

function header(e: any, wanted: string): Value | undefined {
  const headers = obj(e.request)?.headers;
  if (Array.isArray(headers)) {
    for (const pair of headers) {
      if (Array.isArray(pair) && pair.length >= 2 && typeof pair[0] === 'string' && titleCase(pair[0]) === wanted) return str(pair[1]);
    }
    return undefined;
  }
  if (obj(headers) === undefined) return undefined;
  for (const key in headers) if (titleCase(key) === wanted) return str(headers[key]);
  return undefined;
}

function tagKeyEq(key: string, wanted: string): boolean {
  return key.trim().replaceAll(' ', '-') === wanted;
}

function tagValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim();
  if (v === true) return 'True';
  if (v === false) return 'False';
  return lenient(v);
}

function tag(e: any, wanted: string): Value | undefined {
  const tags = e.tags;
  if (Array.isArray(tags)) {
    for (const pair of tags) {
      if (Array.isArray(pair) && pair.length >= 2 && typeof pair[0] === 'string' && tagKeyEq(pair[0], wanted)) return tagValue(pair[1]);
    }
    return undefined;
  }
  if (obj(tags) === undefined) return undefined;
  for (const key in tags) if (tagKeyEq(key, wanted)) return tagValue(tags[key]);
  return undefined;
}

function timestampSeconds(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const ms = parseRfc3339(v);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

function parsedRelease(e: any): { package?: string; short?: string; build?: string } | undefined {
  const release = lenient(e.release);
  if (release === undefined) return undefined;
  const at = release.indexOf('@');
  let pkg: string | undefined;
  let version = release;
  if (at >= 0) {
    if (at === 0) return undefined;
    pkg = release.slice(0, at);
    version = release.slice(at + 1);
  }
  if (!/^[0-9]/.test(version)) return { package: pkg };
  const plus = version.indexOf('+');
  if (plus < 0) return { package: pkg, short: version };
  const build = version.slice(plus + 1);
  return { package: pkg, short: version.slice(0, plus), build: build === '' ? undefined : build };
}

const CONTEXT_FIELDS: Record<string, string[]> = {
  app: ['in_foreground'],
  device: [
    'arch', 'battery_level', 'brand', 'charging', 'family', 'model', 'locale', 'online', 'orientation', 'name',
    'screen_density', 'screen_dpi', 'screen_width_pixels', 'screen_height_pixels', 'simulator', 'uuid',
  ],
  os: ['build', 'kernel_version', 'name', 'version'],
  browser: ['name', 'version'],
  profile: ['profile_id'],
  trace: ['status', 'op'],
  response: ['status_code'],
  unreal: ['crash_type'],
};

const nonEmpty = (s: string | undefined) => (s === '' ? undefined : s);

/** The reader of an `event.*` path (without the prefix), or null for an unknown path. */
function eventReader(path: string): ((e: any) => Value | undefined) | null {
  switch (path) {
    case 'level':
    case 'dist':
    case 'environment':
    case 'transaction':
    case 'logger':
      return (e) => str(e[path]);
    case 'release':
      return (e) => lenient(e.release);
    case 'platform':
      return (e) => str(e.platform) ?? 'other';
    case 'request.method':
      return (e) => str(obj(e.request)?.method);
    case 'request.url':
      return (e) => str(obj(e.request)?.url);
    case 'transaction.source':
      return (e) => str(obj(e.transaction_info)?.source);
    case 'duration':
      return (e) => {
        if (e.type !== 'transaction') return undefined;
        const end = timestampSeconds(e.timestamp);
        const start = timestampSeconds(e.start_timestamp);
        return end === undefined || start === undefined ? undefined : (end - start) * 1000;
      };
    case 'release.build':
      return (e) => parsedRelease(e)?.build;
    case 'release.package':
      return (e) => parsedRelease(e)?.package;
    case 'release.version.short':
      return (e) => parsedRelease(e)?.short;
  }
  const [head, ...restParts] = path.split('.');
  const rest = restParts.join('.');
  if (path.startsWith('user.geo.')) {
    const name = path.slice(9);
    if (!['city', 'country_code', 'region', 'subdivision'].includes(name)) return null;
    return (e) => str(obj(obj(e.user)?.geo)?.[name]);
  }
  switch (head) {
    case 'user':
      switch (rest) {
        case 'id':
          return (e) => nonEmpty(lenient(obj(e.user)?.id));
        case 'email':
        case 'segment':
          return (e) => nonEmpty(str(obj(e.user)?.[rest]));
        case 'ip_address':
        case 'name':
          return (e) => str(obj(e.user)?.[rest]);
        default:
          return null;
      }
    case 'sdk':
      return rest === 'name' || rest === 'version' ? (e) => str(obj(e.sdk)?.[rest]) : null;
    case 'request':
      if (!rest.startsWith('headers.')) return null;
      return (e) => header(e, rest.slice(8));
    case 'contexts': {
      const [ctx, field] = [restParts[0], restParts.slice(1).join('.')];
      if (!CONTEXT_FIELDS[ctx]?.includes(field)) return null;
      return (e) => scalar(obj(obj(e.contexts)?.[ctx])?.[field]);
    }
    case 'measurements': {
      if (!rest.endsWith('.value')) return null;
      const name = rest.slice(0, -6);
      return (e) => {
        const v = obj(obj(e.measurements)?.[name])?.value;
        return typeof v === 'number' ? v : undefined;
      };
    }
    case 'breakdowns': {
      const b = restParts[0];
      const m = restParts.slice(1).join('.');
      if (restParts.length < 2) return null;
      return (e) => {
        const v = obj(obj(obj(e.breakdowns)?.[b])?.[m])?.value;
        return typeof v === 'number' ? v : undefined;
      };
    }
    case 'extra':
      return (e) => {
        let v: any = e.extra;
        for (const part of restParts) {
          v = obj(v)?.[part];
          if (v === undefined) return undefined;
        }
        return scalar(v);
      };
    case 'tags':
      return (e) => tag(e, rest);
    default:
      return null;
  }
}

const fieldCache = new Map<string, Field>();

/** Resolves a rule's field path (`trace.*` or `event.*`; anything else only flat instances have). */
export function fieldOf(name: string): Field {
  let field = fieldCache.get(name);
  if (field === undefined) {
    const dsc = name.startsWith('trace.') ? (DSC_FIELDS[name.slice(6)] ?? -1) : -1;
    const event = name.startsWith('event.') ? eventReader(name.slice(6)) : null;
    field = { name, dsc, event };
    fieldCache.set(name, field);
  }
  return field;
}

/** An event parsed with JSON.parse, read through the field readers. */
export class EventInstance implements Instance {
  constructor(readonly raw: any) {}

  get(field: Field): Value | undefined {
    const read = field.event;
    if (read === null) return undefined;
    const v = read(this.raw);
    return v === null ? undefined : v;
  }

  elements(): undefined {
    return undefined;
  }

  get isTransaction(): boolean {
    return this.raw.type === 'transaction';
  }

  get eventId(): string | undefined {
    const id = this.raw.event_id;
    return typeof id === 'string' && parseUuid(id) !== undefined ? id : undefined;
  }

  /** A DSC built from the transaction itself (when the envelope's cannot be used). */
  toDsc(publicKey: string, sampleRate: number | undefined): Dsc | undefined {
    const e = this.raw;
    if (e.type !== 'transaction') return undefined;
    const traceId = obj(obj(e.contexts)?.trace)?.trace_id;
    if (typeof traceId !== 'string' || parseUuid(traceId) === undefined) return undefined;
    const dsc = new Dsc(traceId, publicKey);
    dsc.release = lenient(e.release);
    dsc.environment = str(e.environment);
    dsc.transaction = str(e.transaction);
    dsc.sampleRate = sampleRate;
    dsc.userId = nonEmpty(lenient(obj(e.user)?.id)) ?? '';
    dsc.userSegment = nonEmpty(str(obj(e.user)?.segment)) ?? '';
    return dsc;
  }
}

// ------------------------------------------------------------------------------------------------
// Flat instances (conformance vectors)

type FlatValue = Value | FlatInstance[];

/** Field path → typed value; `{hex}`, `{ip}` and `{array: [...]}` as in the conformance format. */
export class FlatInstance implements Instance {
  private readonly fields = new Map<string, FlatValue>();

  constructor(json: Record<string, unknown>) {
    for (const [key, v] of Object.entries(json)) {
      if (v === null) continue;
      if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') {
        this.fields.set(key, v);
      } else if (typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        if (typeof o.hex === 'string') this.fields.set(key, new HexId(o.hex.toLowerCase()));
        else if (typeof o.ip === 'string') {
          const ip = parseIp(o.ip);
          if (ip === undefined) throw new TypeError(`${key}: invalid IP address`);
          this.fields.set(key, ip);
        } else if (Array.isArray(o.array)) {
          this.fields.set(key, o.array.map((item) => new FlatInstance(item as Record<string, unknown>)));
        } else throw new TypeError(`${key}: expected {hex}, {ip} or {array}`);
      } else {
        throw new TypeError(`${key}: unsupported value`);
      }
    }
  }

  get(field: Field): Value | undefined {
    const v = this.fields.get(field.name);
    return Array.isArray(v) ? undefined : v;
  }

  elements(field: Field): Instance[] | undefined {
    const v = this.fields.get(field.name);
    return Array.isArray(v) ? v : undefined;
  }
}

// ------------------------------------------------------------------------------------------------
// Time

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Epoch milliseconds of an RFC 3339 timestamp (fractions beyond ms truncated); NaN if invalid. */
export function parseRfc3339(text: string): number {
  const m = RFC3339.exec(text);
  if (m === null) return Number.NaN;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  let ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  if (+mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 23 || +mi > 59 || +s > 60) return Number.NaN;
  if (frac !== undefined) ms += Math.floor(Number(`0${frac}`) * 1000);
  if (tz !== 'Z' && tz !== 'z') {
    const sign = tz[0] === '-' ? -1 : 1;
    ms -= sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60_000;
  }
  return ms;
}
