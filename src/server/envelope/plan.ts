// What is forwarded of an envelope after its decision: drops remove what Relay removes, errors get their tag, the rest is untouched.

import type { Decision } from '../decision';
import { assembleEnvelope, type EnvelopeItem } from './items';
import { rewriteItem, tagTraceSampled } from './tag-errors';

/** Items that hold (or become) an error event: never dropped by sampling; their attachments stay with them. */
const ERROR_ITEM_TYPES = new Set(['event', 'security', 'raw_security', 'nel', 'unreal_report', 'user_report', 'feedback']);
/** Removed with a dropped transaction (unless the envelope also carries an error, which owns the attachments). */
const TRANSACTION_DEPENDENTS = new Set(['transaction', 'attachment', 'form_data']);
/** Removed with a dropped span envelope. */
const SPAN_ITEM_TYPES = new Set(['span', 'otel_span']);
const SPAN_V2_CONTENT_TYPE = 'application/vnd.sentry.items.span.v2+json';

export interface ForwardPlan {
  /** Bytes to forward (the received buffer itself when unchanged); null when nothing is left. */
  forward: Buffer | null;
  modified: boolean;
  /** Per original item: removed by the sampling decision? */
  removed: boolean[];
  /**
   * Per original item: a span v2 container rejected before sampling (`missing_dsc`/`invalid_dsc`,
   * an `invalid` outcome in Relay, not a sampling drop); such items are not forwarded.
   */
  rejected: Array<'missing_dsc' | 'invalid_dsc' | null>;
  /** Error event items whose `contexts.trace.sampled` was written. */
  tagged: number;
}

/** Whether item `item` goes when the envelope is dropped (spec §7.1/§7.2: profiles always stay). */
export function removedByDrop(decision: Decision, item: EnvelopeItem, hasErrorItem: boolean): boolean {
  if (decision.kind === 'transaction') {
    // Spans next to a transaction have their own decision (spec §7.2).
    if (SPAN_ITEM_TYPES.has(item.type)) return decision.spanDecision === 'drop';
    if (item.type === 'attachment' || item.type === 'form_data') return !hasErrorItem;
    return TRANSACTION_DEPENDENTS.has(item.type);
  }
  if (decision.kind === 'spans') return SPAN_ITEM_TYPES.has(item.type);
  return false;
}

export function hasErrorItem(items: readonly EnvelopeItem[]): boolean {
  return items.some((item) => ERROR_ITEM_TYPES.has(item.type));
}

/**
 * Plans the forwarded envelope. `traceFullySampled` is the tag for `event` items (null: no tag).
 * An envelope without changes is forwarded as the very buffer received.
 */
export function planForward(body: Buffer, headerEnd: number, items: readonly EnvelopeItem[], decision: Decision, traceFullySampled: boolean | null): ForwardPlan {
  const dropped = decision.decision === 'drop';
  const withError = hasErrorItem(items);
  const rejection = decision.spanRejection === 'missingDsc' ? 'missing_dsc' : decision.spanRejection === 'invalidDsc' ? 'invalid_dsc' : null;
  const rejected = items.map((item) => (rejection !== null && item.type === 'span' && item.header.content_type === SPAN_V2_CONTENT_TYPE ? rejection : null));
  const removed = items.map((item, index) => {
    if (rejected[index] !== null) return false;
    if (decision.kind === 'transaction' && SPAN_ITEM_TYPES.has(item.type)) return removedByDrop(decision, item, withError);
    return dropped && removedByDrop(decision, item, withError);
  });
  const replaced = new Map<number, Buffer>();
  if (traceFullySampled !== null) {
    items.forEach((item, index) => {
      if (item.type !== 'event' || removed[index]) return;
      const payload = tagTraceSampled(body.subarray(item.payloadStart, item.payloadEnd), traceFullySampled);
      if (payload !== null) replaced.set(index, rewriteItem(body, item, payload));
    });
  }
  const anyRemoved = removed.some(Boolean) || rejected.some((r) => r !== null);
  if (!anyRemoved && replaced.size === 0) return { forward: body, modified: false, removed, rejected, tagged: 0 };
  const kept = items
    .map((item, index) => ({ item, index }))
    .filter(({ index }) => !removed[index] && rejected[index] === null)
    .map(({ item, index }) => ({ start: item.start, end: item.end, bytes: replaced.get(index) }));
  return {
    forward: kept.length === 0 ? null : assembleEnvelope(body, headerEnd, kept),
    modified: true,
    removed,
    rejected,
    tagged: replaced.size,
  };
}
