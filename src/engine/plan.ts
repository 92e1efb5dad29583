// Reads the plan the engine writes next to each single-envelope decision: items with their byte ranges and fates, header fields, error tag edits, what the control plane counts, and releases (layout from the binding's constants).

import { native } from './native';

const N = native;

/** Item type names by code (code 0: a type without one of its own). */
export const ITEM_TYPE_NAMES: readonly string[] = N.itemTypeNames();

/** What becomes of an item (`ITEM_FATE`): forwarded, removed by sampling, or refused before sampling. */
export const ITEM_FATES = ['forward', 'sampled', 'missing_dsc', 'invalid_dsc'] as const;
export type ItemFate = (typeof ITEM_FATES)[number];

/** How the error tag is written (`ITEM_TAG_SHAPE`; 0: no tag): fixed text around the value. */
const TAG_TEXT: readonly (readonly [string, string])[] = [
  ['', ''],
  ['"contexts":{"trace":{"sampled":', '}}'],
  ['{"trace":{"sampled":', '}}'],
  ['"trace":{"sampled":', '}'],
  ['{"sampled":', '}'],
  ['"sampled":', ''],
  ['', ''],
];

/** The text of a tag edit of `shape` with the value `sampled`. */
export function tagText(shape: number, sampled: boolean, comma: boolean): string {
  const [before, after] = TAG_TEXT[shape];
  return `${before}${sampled ? 'true' : 'false'}${after}${comma ? ',' : ''}`;
}

/**
 * A view of the engine's plan memory. Valid until the engine's next `sampleEnvelope`: read what
 * you need, then call again.
 */
/** Two lowercase hex digits per byte value (the event id is read for every request). */
const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A 32-bit word as 8 lowercase hex digits. */
function hexWord(word: number): string {
  return HEX_BYTES[word >>> 24] + HEX_BYTES[(word >>> 16) & 0xff] + HEX_BYTES[(word >>> 8) & 0xff] + HEX_BYTES[word & 0xff];
}

export class EnvelopePlanView {
  private words: Uint32Array;
  private bytes: Buffer;

  constructor(private readonly fetch: () => Uint32Array) {
    this.words = fetch();
    this.bytes = Buffer.from(this.words.buffer, this.words.byteOffset, this.words.byteLength);
  }

  /** @internal Called after each decision with the words it wrote: moves to new memory when the plan outgrew the view. */
  refresh(wordsWritten: number): void {
    if (wordsWritten > this.words.length) {
      this.words = this.fetch();
      this.bytes = Buffer.from(this.words.buffer, this.words.byteOffset, this.words.byteLength);
    }
  }

  /** Offset of the newline ending the header line (or the envelope's length). */
  get headerEnd(): number {
    return this.words[N.PLAN_HEADER_END];
  }

  get itemCount(): number {
    return this.words[N.PLAN_ITEM_COUNT];
  }

  /** The header's `event_id` as 32 lowercase hex digits, or null when it has no valid one. */
  eventId(): string | null {
    if (this.words[N.PLAN_HAS_EVENT_ID] !== 1) return null;
    const w = this.words;
    const at = N.PLAN_EVENT_ID;
    return hexWord(w[at]) + hexWord(w[at + 1]) + hexWord(w[at + 2]) + hexWord(w[at + 3]);
  }

  private text(at: number): string | null {
    const start = this.words[at];
    if (start === N.PLAN_ABSENT) return null;
    const base = this.words[N.PLAN_TEXT_WORD] * 4 + start;
    return this.bytes.toString('utf8', base, base + this.words[at + 1]);
  }

  /** The header's `dsn`, as decoded by the engine. */
  dsn(): string | null {
    return this.text(N.PLAN_DSN);
  }

  /** The header's `sent_at`, as decoded by the engine. */
  sentAt(): string | null {
    return this.text(N.PLAN_SENT_AT);
  }

  /** One word of item `i` (`ITEM_*` slots of the binding). */
  item(i: number, slot: number): number {
    return this.words[N.PLAN_HEAD_WORDS + i * N.PLAN_ITEM_WORDS + slot];
  }

  itemType(i: number): string {
    return ITEM_TYPE_NAMES[this.item(i, N.ITEM_TYPE)];
  }

  itemFate(i: number): ItemFate {
    return ITEM_FATES[this.item(i, N.ITEM_FATE)];
  }

  /**
   * Transaction events the control plane counts for the envelope, root or not, as Relay counts
   * `count_per_root_project` (0 for an envelope of several: Relay rejects it). Counted only when
   * the engine counts (`setCounting`).
   */
  get transactionCount(): number {
    return this.words[N.PLAN_TRANSACTION_COUNT];
  }

  /** Segment spans (`is_segment: true`) the control plane counts, root or not. */
  get segmentCount(): number {
    return this.words[N.PLAN_SEGMENT_COUNT];
  }

  /** The root project (the DSC's, when the engine holds its config in the same organisation), or null: the envelope's own. */
  rootProjectId(): number | null {
    if (this.words[N.PLAN_HAS_ROOT_PROJECT] !== 1) return null;
    return this.words[N.PLAN_ROOT_PROJECT] * 2 ** 32 + this.words[N.PLAN_ROOT_PROJECT + 1];
  }

  /** The name transactions are counted under: the DSC's `transaction`, else (no DSC) the event's own. */
  transactionName(): string | null {
    return this.text(N.PLAN_TRANSACTION_NAME);
  }

  /** The name segments are counted under: the DSC's `transaction`. */
  segmentName(): string | null {
    return this.text(N.PLAN_SEGMENT_NAME);
  }

  /** The DSC's `release` and `environment` (what the control plane counts by). */
  rootRelease(): string | null {
    return this.text(N.PLAN_ROOT_RELEASE);
  }

  rootEnvironment(): string | null {
    return this.text(N.PLAN_ROOT_ENVIRONMENT);
  }

  /** Releases (with environments) of the envelope's kept transaction or segments. */
  releases(): { release: string; environment: string | null }[] {
    const count = this.words[N.PLAN_RELEASE_COUNT];
    const base = N.PLAN_HEAD_WORDS + this.itemCount * N.PLAN_ITEM_WORDS;
    const out: { release: string; environment: string | null }[] = [];
    for (let i = 0; i < count; i++) {
      const at = base + i * N.PLAN_RELEASE_WORDS;
      const release = this.text(at);
      if (release !== null) out.push({ release, environment: this.text(at + 2) });
    }
    return out;
  }
}
