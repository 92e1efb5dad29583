// What is forwarded of an envelope after its decision, assembled from the engine's plan: drops remove what the engine marked (Relay's rules), error events get the tag at the place the engine found, the rest keeps its bytes.

import type { EnvelopePlanView, ItemFate } from '../../engine/plan';
import { tagText } from '../../engine/plan';
import { native } from '../../engine/native';

/** One item as outcomes report it. */
export interface PlannedItem {
  type: string;
  /** How many things it counts for: the spans of a span container, else 1. */
  quantity: number;
  /** Payload bytes (attachments and logs are also counted in bytes). */
  bytes: number;
  /** Where the payload starts in the envelope (read only to count the spans of a dropped transaction). */
  payloadStart: number;
  /** `sampled`: removed by the sampling decision; `missing_dsc` / `invalid_dsc`: refused before sampling (Relay's `invalid`). */
  fate: ItemFate;
}

export interface ForwardPlan {
  /** Bytes to forward (the received buffer itself when unchanged); null when nothing is left. */
  forward: Buffer | null;
  modified: boolean;
  items: PlannedItem[];
  /** Error event items whose `contexts.trace.sampled` was written. */
  tagged: number;
}

const NEWLINE = Buffer.from('\n');
const N = native;

/** An item rewritten around its tagged payload; `length` is rewritten when the header has one. */
function taggedItem(body: Buffer, plan: EnvelopePlanView, i: number, sampled: boolean): Buffer {
  const at = plan.item(i, N.ITEM_TAG_AT);
  const removeTo = plan.item(i, N.ITEM_TAG_REMOVE_TO);
  const text = Buffer.from(tagText(plan.item(i, N.ITEM_TAG_SHAPE), sampled, plan.item(i, N.ITEM_TAG_COMMA) === 1));
  const [start, headerEnd, payloadStart, payloadEnd, end] = [N.ITEM_START, N.ITEM_HEADER_END, N.ITEM_PAYLOAD_START, N.ITEM_PAYLOAD_END, N.ITEM_END].map((slot) => plan.item(i, slot));
  const payloadLength = payloadEnd - payloadStart + text.length - (removeTo - at);
  const lengthStart = plan.item(i, N.ITEM_LENGTH_START);
  const lengthEnd = plan.item(i, N.ITEM_LENGTH_END);
  const header =
    lengthStart === lengthEnd
      ? [body.subarray(start, headerEnd)]
      : [body.subarray(start, lengthStart), Buffer.from(String(payloadLength)), body.subarray(lengthEnd, headerEnd)];
  return Buffer.concat([...header, NEWLINE, body.subarray(payloadStart, at), text, body.subarray(removeTo, end)]);
}

/**
 * Plans the forwarded envelope from the engine's plan of `body` (read it right after the
 * decision). `traceFullySampled` is the tag for error events (null: no tag). An envelope
 * without changes is forwarded as the very buffer received.
 */
export function planForward(body: Buffer, plan: EnvelopePlanView, traceFullySampled: boolean | null): ForwardPlan {
  const count = plan.itemCount;
  const items: PlannedItem[] = new Array(count);
  let changed = false;
  for (let i = 0; i < count; i++) {
    const fate = plan.itemFate(i);
    const payloadStart = plan.item(i, N.ITEM_PAYLOAD_START);
    items[i] = { type: plan.itemType(i), quantity: plan.item(i, N.ITEM_QUANTITY), bytes: plan.item(i, N.ITEM_PAYLOAD_END) - payloadStart, payloadStart, fate };
    if (fate !== 'forward' || (traceFullySampled !== null && plan.item(i, N.ITEM_TAG_SHAPE) !== 0)) changed = true;
  }
  if (!changed) return { forward: body, modified: false, items, tagged: 0 };
  const parts: Buffer[] = [body.subarray(0, plan.headerEnd), NEWLINE];
  let tagged = 0;
  let kept = 0;
  for (let i = 0; i < count; i++) {
    if (items[i].fate !== 'forward') continue;
    let bytes: Buffer;
    if (traceFullySampled !== null && plan.item(i, N.ITEM_TAG_SHAPE) !== 0) {
      bytes = taggedItem(body, plan, i, traceFullySampled);
      tagged++;
    } else {
      bytes = body.subarray(plan.item(i, N.ITEM_START), plan.item(i, N.ITEM_END));
    }
    // Items are newline-separated; the last one's newline (if any) stays as received.
    if (kept > 0 && parts[parts.length - 1].at(-1) !== 0x0a) parts.push(NEWLINE);
    parts.push(bytes);
    kept++;
  }
  return { forward: kept === 0 ? null : Buffer.concat(parts), modified: true, items, tagged };
}
