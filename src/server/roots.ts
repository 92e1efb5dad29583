// Counting for the control plane: every trace root the server decides on (recordRoot), and the releases of kept transactions and segments (observeRelease).
//
// Roots are root transactions (a `transaction` item whose `contexts.trace` has no
// `parent_span_id`) and root segment spans of streamed traces (a span with `is_segment: true` and
// no `parent_span_id`). Payloads are not parsed: `json-scan.ts` walks the transaction's top level
// up to `contexts.trace` (SDKs write `contexts` first) without building objects, and span items
// are walked only when their bytes hold `"is_segment": true` (child-only containers cost one
// `indexOf`). Nothing of this runs without a recorder. The name counted is the DSC's
// `transaction` (what the trace rules match, and what Relay tags `count_per_root_project` with),
// else the event's / segment's name, parametrized as the engine reads the DSC's name before rules
// match (`/api/report/12` → `/api/report/*`; the project's txNameRules are not applied here).
// At most one root is counted per envelope. An envelope carries one DSC, i.e. one trace, and a
// trace has one root; Relay takes one event-like item per envelope (a second `transaction` makes
// the envelope invalid) and counts `count_per_root_project` once per transaction event. So the
// first transaction item is the envelope's only one read (the rest would be refused by Relay:
// 10,000 of them must not count as 10,000 traces), and of a span envelope's root segments the
// first is counted (releases of the other kept segments are still observed).
// Releases come from the event (the segment's `sentry.release` attribute), else, for a root, the
// DSC; only kept items are observed, as Sentry observes releases when it saves an event.

import type { Logger } from 'pino';

import type { TrafficRecorder } from '../control/traffic/recorder';
import { DROP } from '../engine/engine';
import { parametrizeTransactionName } from '../engine/evaluate';
import type { Decision } from './decision';
import type { EnvelopeHeader } from './envelope/header';
import type { EnvelopeItem } from './envelope/items';
import { containsTrueMember, forEachObject, isLiteral, memberStart, objectMembers, stringAt, type JsonRange } from './envelope/json-scan';
import type { ServerMetrics } from './metrics';

export interface RootInput {
  body: Buffer;
  header: EnvelopeHeader;
  items: readonly EnvelopeItem[];
  /** The final decision for the envelope (noMatch counts as keep). */
  decision: Decision;
  projectId: number;
  /** The project's organisation (null when its config could not be loaded: nothing is counted). */
  organizationId: number | null;
}

const CONTEXTS_KEYS = ['contexts'];
const EVENT_KEYS = ['transaction', 'release', 'environment'];
const TRACE_KEYS = ['trace'];
const PARENT_KEYS = ['parent_span_id'];
const SPAN_KEYS = ['is_segment', 'parent_span_id', 'name', 'attributes'];
const ATTRIBUTE_KEYS = ['sentry.release', 'sentry.environment'];
const VALUE_KEYS = ['value'];
const ERROR_LOG_INTERVAL_MS = 10_000;

function dscString(dsc: unknown, key: string): string | null {
  if (dsc === null || typeof dsc !== 'object') return null;
  const value = (dsc as Record<string, unknown>)[key];
  return typeof value === 'string' && value !== '' ? value : null;
}

/** A span attribute: `{"type": ..., "value": "x"}` (span v2) or a bare string. */
function attributeString(body: Buffer, range: JsonRange | undefined): string | null {
  if (range === undefined) return null;
  if (body[range.start] !== 0x7b) return stringAt(body, range);
  return stringAt(body, objectMembers(body, range, VALUE_KEYS)?.[0]);
}

/** Names with a `/` as rules see them (names without one are never changed: no native call). */
function parametrized(name: string | null): string | null {
  return name !== null && name.includes('/') ? parametrizeTransactionName(name) : name;
}

export class RootCounter {
  private lastErrorLog = 0;

  constructor(
    private readonly recorder: TrafficRecorder,
    private readonly logger: Logger,
    private readonly metrics: ServerMetrics | null = null,
  ) {}

  /** Whether the envelope being recorded already had its root counted (one per envelope). */
  private rootCounted = false;

  /** Counts the root of an accepted envelope (at most one). Never throws. */
  record(input: RootInput): void {
    try {
      if (input.organizationId === null) return;
      const kind = input.decision.kind;
      if (kind !== 'transaction' && kind !== 'spans') return;
      this.rootCounted = false;
      for (const item of input.items) {
        if (kind === 'transaction' && item.type === 'transaction') {
          this.transaction(input, item);
          break;
        }
        if (kind === 'spans' && item.type === 'span') this.spans(input, item);
      }
    } catch (err) {
      const now = Date.now();
      if (now - this.lastErrorLog >= ERROR_LOG_INTERVAL_MS) {
        this.lastErrorLog = now;
        this.logger.warn({ err, projectId: input.projectId }, 'counting trace roots failed');
      }
    }
  }

  private root(input: RootInput, kind: 'transaction' | 'segment', name: string | null): void {
    if (this.rootCounted) return;
    this.rootCounted = true;
    const decision = input.decision.code === DROP ? 'drop' : 'keep';
    const dsc = input.header.value.trace;
    this.recorder.recordRoot({
      orgId: input.organizationId!,
      projectId: input.projectId,
      transaction: parametrized(dscString(dsc, 'transaction') ?? name),
      decision,
      kind,
      release: dscString(dsc, 'release'),
      environment: dscString(dsc, 'environment'),
    });
    this.metrics?.roots.inc({ kind, decision });
  }

  private release(input: RootInput, isRoot: boolean, release: string | null, environment: string | null): void {
    const dsc = input.header.value.trace;
    const version = release ?? (isRoot ? dscString(dsc, 'release') : null);
    if (version === null || version === '') return;
    this.recorder.observeRelease({
      projectId: input.projectId,
      release: version,
      environment: release !== null ? environment : (environment ?? dscString(dsc, 'environment')),
    });
  }

  private transaction(input: RootInput, item: EnvelopeItem): void {
    const body = input.body;
    const payload = { start: item.payloadStart, end: item.payloadEnd };
    // SDKs write `contexts` first: the scan usually stops long before `spans`.
    const contexts = objectMembers(body, payload, CONTEXTS_KEYS, true)?.[0];
    const trace = contexts === undefined ? undefined : objectMembers(body, contexts, TRACE_KEYS, true)?.[0];
    // A transaction without a trace context is invalid (Relay rejects it): not a root.
    if (trace === undefined) return;
    const parent = objectMembers(body, trace, PARENT_KEYS);
    if (parent === null) return;
    const isRoot = parent[0] === undefined || isLiteral(body, parent[0], 'null');
    const kept = input.decision.code !== DROP;
    const dsc = input.header.value.trace;
    // The rest of the event is read only when the DSC cannot stand for it: a root's name, or the
    // release of a kept transaction (a root's DSC carries the release of its own project).
    const needName = isRoot && dscString(dsc, 'transaction') === null;
    const needRelease = kept && !(isRoot && dscString(dsc, 'release') !== null);
    const event = needName || needRelease ? objectMembers(body, payload, EVENT_KEYS) : null;
    if (isRoot) this.root(input, 'transaction', stringAt(body, event?.[0]));
    if (kept) this.release(input, isRoot, stringAt(body, event?.[1]), stringAt(body, event?.[2]));
  }

  private spans(input: RootInput, item: EnvelopeItem): void {
    const body = input.body;
    // Only segments can be roots or carry the release: child-only containers stop here.
    if (!containsTrueMember(body, item.payloadStart, item.payloadEnd, 'is_segment')) return;
    const payload = { start: item.payloadStart, end: item.payloadEnd };
    const visit = (members: (JsonRange | undefined)[]): void => {
      if (!isLiteral(body, members[0], 'true')) return;
      const isRoot = members[1] === undefined || isLiteral(body, members[1], 'null');
      if (isRoot) this.root(input, 'segment', stringAt(body, members[2]));
      if (input.decision.code === DROP) return;
      const attributes = members[3] === undefined ? null : objectMembers(body, members[3], ATTRIBUTE_KEYS);
      this.release(input, isRoot, attributeString(body, attributes?.[0]), attributeString(body, attributes?.[1]));
    };
    // A span v2 container `{"items": [...]}`, or a single span.
    const items = memberStart(body, payload, 'items');
    if (items >= 0) forEachObject(body, items, payload.end, SPAN_KEYS, visit);
    else {
      const members = objectMembers(body, payload, SPAN_KEYS);
      if (members !== null) visit(members);
    }
  }
}
