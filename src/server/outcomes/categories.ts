// Relay's data categories (relay-base-schema `DataCategory`, numeric ids) of envelope items, with the quantity reported.

import { native } from '../../engine/native';
import type { PlannedItem } from '../envelope/plan';

/** The ids of the categories this server reports (the Python package's `sentry_relay.consts.DataCategory`). */
export const DATA_CATEGORY = {
  default: 0,
  error: 1,
  transaction: 2,
  security: 3,
  attachment: 4,
  session: 5,
  profile: 6,
  replay: 7,
  transactionIndexed: 9,
  monitor: 10,
  profileIndexed: 11,
  span: 12,
  feedback: 14,
  spanIndexed: 16,
  profileChunk: 18,
  attachmentItem: 22,
  logItem: 23,
  logByte: 24,
  traceMetric: 33,
} as const;

export interface CategoryQuantity {
  category: number;
  quantity: number;
}

/**
 * What dropping `item` (of the envelope `body`) loses, per data category, as Relay counts an item
 * dropped before its metrics were extracted, which is always the case here: the total category and
 * the indexed one (`transaction` and `transaction_indexed`, `span` and `span_indexed`, `profile` and
 * `profile_indexed`; Relay reports only the indexed ones once metrics carry the totals on). A
 * transaction also counts itself and the spans of its payload in the span categories. Attachments
 * count in bytes and items, spans by count (the engine's item quantity: `item_count` of a container),
 * the rest by one. Item types with no category (client reports, metric buckets) report nothing.
 */
export function itemCategories(item: PlannedItem, body: Buffer): CategoryQuantity[] {
  const bytes = item.bytes;
  switch (item.type) {
    case 'event':
    case 'unreal_report':
      return [{ category: DATA_CATEGORY.error, quantity: 1 }];
    case 'transaction': {
      const spans = 1 + native.embeddedSpanCount(body, item.payloadStart, item.payloadStart + bytes);
      return [
        { category: DATA_CATEGORY.transaction, quantity: 1 },
        { category: DATA_CATEGORY.transactionIndexed, quantity: 1 },
        { category: DATA_CATEGORY.span, quantity: spans },
        { category: DATA_CATEGORY.spanIndexed, quantity: spans },
      ];
    }
    case 'security':
    case 'raw_security':
    case 'nel':
      return [{ category: DATA_CATEGORY.security, quantity: 1 }];
    case 'attachment':
      return [
        { category: DATA_CATEGORY.attachment, quantity: bytes },
        { category: DATA_CATEGORY.attachmentItem, quantity: 1 },
      ];
    case 'session':
    case 'sessions':
      return [{ category: DATA_CATEGORY.session, quantity: 1 }];
    case 'profile':
      return [
        { category: DATA_CATEGORY.profile, quantity: 1 },
        { category: DATA_CATEGORY.profileIndexed, quantity: 1 },
      ];
    case 'profile_chunk':
      return [{ category: DATA_CATEGORY.profileChunk, quantity: 1 }];
    case 'replay_event':
    case 'replay_recording':
    case 'replay_video':
      return [{ category: DATA_CATEGORY.replay, quantity: 1 }];
    case 'check_in':
      return [{ category: DATA_CATEGORY.monitor, quantity: 1 }];
    case 'span':
    case 'otel_span':
      return [
        { category: DATA_CATEGORY.span, quantity: item.quantity },
        { category: DATA_CATEGORY.spanIndexed, quantity: item.quantity },
      ];
    case 'feedback':
    case 'user_report':
      return [{ category: DATA_CATEGORY.feedback, quantity: 1 }];
    case 'log':
    case 'otel_log':
      return [
        { category: DATA_CATEGORY.logItem, quantity: item.quantity },
        { category: DATA_CATEGORY.logByte, quantity: bytes },
      ];
    case 'trace_metric':
      return [{ category: DATA_CATEGORY.traceMetric, quantity: item.quantity }];
    case 'client_report':
    case 'statsd':
    case 'metric_buckets':
      return [];
    default:
      return [{ category: DATA_CATEGORY.default, quantity: 1 }];
  }
}
