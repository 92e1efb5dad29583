//! The plan of an envelope, written with its decision in the same pass: where every item lies,
//! what a drop removes (Relay's rules), where the error tag goes in each error event, the header
//! fields a server needs, and what the control plane counts. A server assembles what it forwards
//! from this without reading any JSON itself.

use crate::event::CountedFields;
use crate::json::{self, RawValue};

/// An absent text (`TextRange::start`).
pub const ABSENT: u32 = u32::MAX;

/// Item types with a code of their own (`ItemPlan::type_code`); any other type is code 0.
pub const ITEM_TYPE_NAMES: [&str; 27] = [
    "unknown",
    "transaction",
    "span",
    "otel_span",
    "event",
    "attachment",
    "profile",
    "profile_chunk",
    "session",
    "sessions",
    "client_report",
    "check_in",
    "log",
    "otel_log",
    "replay_event",
    "replay_recording",
    "replay_video",
    "user_report",
    "feedback",
    "statsd",
    "metric_buckets",
    "security",
    "raw_security",
    "nel",
    "unreal_report",
    "form_data",
    "trace_metric",
];

/// The code of an item type (0 for types without one).
pub fn item_type_code(name: &str) -> u8 {
    ITEM_TYPE_NAMES.iter().position(|&n| n == name).map_or(0, |p| p as u8)
}

/// Item types that hold (or become) an error event: never dropped by sampling; attachments stay with them.
fn is_error_type(name: &str) -> bool {
    matches!(name, "event" | "security" | "raw_security" | "nel" | "unreal_report" | "user_report" | "feedback")
}

/// A string the engine decoded into the plan's text (`start` is `ABSENT` when there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRange {
    pub start: u32,
    pub len: u32,
}

impl TextRange {
    pub const NONE: TextRange = TextRange { start: ABSENT, len: 0 };

    pub fn is_some(self) -> bool {
        self.start != ABSENT
    }
}

impl Default for TextRange {
    fn default() -> Self {
        Self::NONE
    }
}

/// What becomes of an item. Numeric codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fate {
    #[default]
    Forward = 0,
    /// Removed by the sampling decision (Relay's `filtered_sampling`).
    Sampled = 1,
    /// A span v2 container refused before sampling for want of a DSC (Relay's `invalid`, `missing_dsc`).
    MissingDsc = 2,
    /// ... or because a span belongs to another trace (`invalid_dsc`).
    InvalidDsc = 3,
}

/// How the error tag is written into an event payload. Numeric codes are stable; the text of each
/// shape is fixed (`"contexts":{"trace":{"sampled":V}}` and so on), so the server needs no JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagShape {
    #[default]
    None = 0,
    /// Insert `"contexts":{"trace":{"sampled":V}}` as the event's first member.
    InsertContexts = 1,
    /// Replace a null `contexts` with `{"trace":{"sampled":V}}`.
    ReplaceContexts = 2,
    /// Insert `"trace":{"sampled":V}` as the first member of `contexts`.
    InsertTrace = 3,
    /// Replace a null `contexts.trace` with `{"sampled":V}`.
    ReplaceTrace = 4,
    /// Insert `"sampled":V` as the first member of `contexts.trace`.
    InsertSampled = 5,
    /// Replace a null `contexts.trace.sampled` with `V`.
    ReplaceSampled = 6,
}

/// Where the tag goes: replace `[at, remove_to)` (empty for insertions) with the shape's text,
/// followed by a comma when `comma` (the object it is inserted into is not empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagEdit {
    pub shape: TagShape,
    pub comma: bool,
    pub at: u32,
    pub remove_to: u32,
}

/// One item of the envelope (offsets from the envelope's first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ItemPlan {
    pub type_code: u8,
    pub start: u32,
    pub header_end: u32,
    pub payload_start: u32,
    pub payload_end: u32,
    /// After the payload's newline.
    pub end: u32,
    /// How many things the item counts for in outcomes: the spans of a span container, else 1.
    pub quantity: u32,
    pub fate: Fate,
    /// A span v2 container (`application/vnd.sentry.items.span.v2+json`).
    pub span_v2: bool,
    /// The header's `length` value (`[start, end)`; `start == end` when there is none), rewritten
    /// when the payload is tagged.
    pub length_start: u32,
    pub length_end: u32,
    pub tag: TagEdit,
}

/// What the control plane counts of an envelope: what Relay counts as `count_per_root_project`
/// (`c:transactions/…` for every transaction event, `c:spans/…` with `is_segment:true` for every
/// segment span), attributed to the trace's root project. Counters, not a list: an envelope of
/// 10,000 segments costs no more memory than one of a single segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RootCounts {
    /// Transaction events, root or not; 0 when the envelope holds more than one `transaction`
    /// item (Relay rejects it whole as `duplicate_item`: nothing of it is counted).
    pub transactions: u32,
    /// Spans with `is_segment: true` in `span` items (single spans and containers), root or not;
    /// containers refused for their DSC (`missing_dsc`, `invalid_dsc`) count nothing.
    pub segments: u32,
    /// The DSC's project when the engine holds its config in the same organisation (what trace
    /// rules are read from); else `None`: the envelope's own project, as Relay does.
    pub root_project: Option<u64>,
    /// The name of the transactions: the DSC's `transaction`; without a DSC, the event's own
    /// (Relay builds the DSC from the event then).
    pub transaction_name: TextRange,
    /// The name of the segments: the DSC's `transaction` (none without it).
    pub segment_name: TextRange,
    /// The DSC's `release` and `environment` (what release and environment rules match).
    pub release: TextRange,
    pub environment: TextRange,
}

/// A release seen on a kept transaction or segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReleaseSeen {
    pub release: TextRange,
    pub environment: TextRange,
}

/// Everything a server needs of an envelope besides the decision; buffers are reused from one
/// envelope to the next.
#[derive(Debug, Default)]
pub struct EnvelopePlan {
    pub header_end: u32,
    pub event_id: Option<u128>,
    /// The header's `dsn` and `sent_at` strings.
    pub dsn: TextRange,
    pub sent_at: TextRange,
    pub items: Vec<ItemPlan>,
    /// What the control plane counts (only when the engine counts), and the releases of kept items.
    pub counts: RootCounts,
    pub releases: Vec<ReleaseSeen>,
    /// Decoded strings the ranges point into.
    pub text: Vec<u8>,
    /// What counting reads of the transaction, when the decision's pass over its payload read it
    /// (`None`: not read there, counting reads the payload itself).
    pub(crate) counted_transaction: Option<CountedRead>,
}

/// The counted fields of a transaction payload as ranges into it, or `Invalid` when the payload
/// does not read as an object to its end (nothing is counted then).
#[derive(Debug, Clone, Copy)]
pub(crate) enum CountedRead {
    Invalid { payload_len: usize },
    Fields { payload_len: usize, ranges: [Option<(u32, u32)>; 4] },
}

impl CountedRead {
    /// Records what `EventView::parse_slots_counting` read of `payload`.
    pub(crate) fn of(payload: &[u8], fields: Option<CountedFields<'_>>) -> CountedRead {
        let range = |v: Option<RawValue<'_>>| {
            v.map(|v| {
                let start = v.0.as_ptr() as usize - payload.as_ptr() as usize;
                (start as u32, (start + v.0.len()) as u32)
            })
        };
        match fields {
            None => CountedRead::Invalid { payload_len: payload.len() },
            Some(f) => CountedRead::Fields {
                payload_len: payload.len(),
                ranges: [range(f.contexts), range(f.name), range(f.release), range(f.environment)],
            },
        }
    }

    /// The fields again, for the same payload (`None` when `payload` is not the one read).
    fn fields<'a>(&self, payload: &'a [u8]) -> Option<Option<CountedFields<'a>>> {
        let value = |r: Option<(u32, u32)>| r.map(|(start, end)| RawValue(&payload[start as usize..end as usize]));
        match *self {
            CountedRead::Invalid { payload_len } => (payload_len == payload.len()).then_some(None),
            CountedRead::Fields { payload_len, ranges } => (payload_len == payload.len()).then(|| {
                Some(CountedFields {
                    contexts: value(ranges[0]),
                    name: value(ranges[1]),
                    release: value(ranges[2]),
                    environment: value(ranges[3]),
                })
            }),
        }
    }
}

impl EnvelopePlan {
    pub fn clear(&mut self) {
        self.header_end = 0;
        self.event_id = None;
        self.dsn = TextRange::NONE;
        self.sent_at = TextRange::NONE;
        self.items.clear();
        self.counts = RootCounts::default();
        self.releases.clear();
        self.text.clear();
        self.counted_transaction = None;
    }

    /// Appends a decoded string to the text.
    pub fn push_text(&mut self, s: &str) -> TextRange {
        let start = self.text.len() as u32;
        self.text.extend_from_slice(s.as_bytes());
        TextRange { start, len: s.len() as u32 }
    }

    /// A JSON string value decoded into the text (absent when it is not a string).
    pub fn push_string(&mut self, value: Option<RawValue<'_>>) -> TextRange {
        match value.and_then(|v| v.as_str()) {
            Some(s) => self.push_text(&s),
            None => TextRange::NONE,
        }
    }

    /// The text of a range.
    pub fn text_of(&self, range: TextRange) -> Option<&str> {
        if !range.is_some() {
            return None;
        }
        std::str::from_utf8(&self.text[range.start as usize..(range.start + range.len) as usize]).ok()
    }
}

/// What the fates depend on: the envelope's kind and decisions.
pub(crate) struct FateInput {
    pub transaction: bool,
    pub spans: bool,
    pub dropped: bool,
    pub spans_dropped: bool,
    pub rejection: Fate,
}

/// The fate of an item of type `name` (span v2 containers flagged by `v2`).
pub(crate) fn fate_of(name: &str, v2: bool, with_error: bool, f: &FateInput) -> Fate {
    if f.rejection != Fate::Forward && name == "span" && v2 {
        return f.rejection;
    }
    let span = matches!(name, "span" | "otel_span");
    let removed = if f.transaction {
        // Spans next to a transaction have their own decision.
        if span {
            f.spans_dropped
        } else {
            f.dropped && (name == "transaction" || (matches!(name, "attachment" | "form_data") && !with_error))
        }
    } else {
        f.spans && f.dropped && span
    };
    if removed {
        Fate::Sampled
    } else {
        Fate::Forward
    }
}

pub(crate) fn error_type(name: &str) -> bool {
    is_error_type(name)
}

fn offset(base: &[u8], value: RawValue<'_>) -> u32 {
    (value.0.as_ptr() as usize - base.as_ptr() as usize) as u32
}

fn last_entry<'a>(object: RawValue<'a>, key: &str) -> Option<RawValue<'a>> {
    object.get(key)
}

/// How many spans a transaction payload carries in its top-level `spans` list: Relay counts a
/// dropped transaction in the span categories as itself plus these. 0 when there is no such list
/// or the payload is not an object that reads that far. Read only for outcomes, never per decision.
pub fn embedded_span_count(payload: &[u8]) -> u32 {
    let mut count = 0;
    let _ = json::for_each_entry_until(payload, |key, value| {
        if !key.eq_str("spans") {
            return true;
        }
        if value.is_array() {
            count = value.elements().count() as u32;
        }
        false
    });
    count
}

/// Where `contexts.trace.sampled` goes in an event payload at `payload_start` of `envelope`:
/// nothing when the flag is already set (anything but null), the payload is not a UTF-8 JSON
/// object, or `contexts` / `contexts.trace` is present but not an object. Missing objects are
/// created, as Relay does; the last of repeated keys counts, as in `JSON.parse`.
pub fn tag_edit(envelope: &[u8], payload_start: usize, payload_end: usize) -> TagEdit {
    let payload = &envelope[payload_start..payload_end];
    if std::str::from_utf8(payload).is_err() {
        return TagEdit::default();
    }
    let Ok(root) = json::validate(payload) else { return TagEdit::default() };
    if !root.is_object() {
        return TagEdit::default();
    }
    let insert_into = |object: RawValue<'_>, shape: TagShape| TagEdit {
        shape,
        comma: object.entries().next().is_some(),
        at: offset(envelope, object) + 1,
        remove_to: offset(envelope, object) + 1,
    };
    let replace = |value: RawValue<'_>, shape: TagShape| {
        let at = offset(envelope, value);
        TagEdit { shape, comma: false, at, remove_to: at + value.0.len() as u32 }
    };
    let Some(contexts) = last_entry(root, "contexts") else { return insert_into(root, TagShape::InsertContexts) };
    if contexts.is_null() {
        return replace(contexts, TagShape::ReplaceContexts);
    }
    if !contexts.is_object() {
        return TagEdit::default();
    }
    let Some(trace) = last_entry(contexts, "trace") else { return insert_into(contexts, TagShape::InsertTrace) };
    if trace.is_null() {
        return replace(trace, TagShape::ReplaceTrace);
    }
    if !trace.is_object() {
        return TagEdit::default();
    }
    match last_entry(trace, "sampled") {
        None => insert_into(trace, TagShape::InsertSampled),
        Some(flag) if flag.is_null() => replace(flag, TagShape::ReplaceSampled),
        Some(_) => TagEdit::default(),
    }
}

/// The DSC's string `key` when present and not empty.
fn dsc_string<'a>(dsc: Option<RawValue<'a>>, key: &str) -> Option<RawValue<'a>> {
    non_empty(dsc.and_then(|d| if d.is_object() { d.get(key) } else { None }))
}

/// A value that is a non-empty string (what counts as a DSC's name, release or environment).
fn non_empty<'a>(value: Option<RawValue<'a>>) -> Option<RawValue<'a>> {
    value.filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
}

/// `primary` when it is a string, else `fallback`.
fn string_or<'a>(primary: Option<RawValue<'a>>, fallback: Option<RawValue<'a>>) -> Option<RawValue<'a>> {
    match primary {
        Some(v) if v.as_str().is_some() => Some(v),
        _ => fallback,
    }
}

fn is_string(value: Option<RawValue<'_>>) -> bool {
    value.is_some_and(|v| v.as_str().is_some())
}

impl EnvelopePlan {
    /// Records a release observation: the item's own release (with its environment), else for a
    /// root the DSC's (with the item's environment, else the DSC's). Empty releases are not seen.
    fn see_release(&mut self, dsc: Option<RawValue<'_>>, is_root: bool, release: Option<RawValue<'_>>, environment: Option<RawValue<'_>>) {
        let (release, environment) = if is_string(release) {
            (release, environment)
        } else if is_root {
            (dsc_string(dsc, "release"), string_or(environment, dsc_string(dsc, "environment")))
        } else {
            return;
        };
        if release.and_then(|r| r.as_str()).is_none_or(|r| r.is_empty()) {
            return;
        }
        let release = self.push_string(release);
        let environment = self.push_string(environment);
        self.releases.push(ReleaseSeen { release, environment });
    }

    /// Names, release and environment of what was counted, from the DSC, once the items are read.
    pub(crate) fn finish_counts(&mut self, dsc: Option<RawValue<'_>>) {
        if self.counts.transactions == 0 && self.counts.segments == 0 {
            return;
        }
        // One pass over the DSC for the three (each lookup would read all of it: the last of a
        // repeated key wins).
        let [name, release, environment] = dsc.map_or([None; 3], |d| d.members(["transaction", "release", "environment"]));
        if dsc.is_some() {
            let name = self.push_string(non_empty(name));
            self.counts.transaction_name = name;
            self.counts.segment_name = name;
        }
        self.counts.release = self.push_string(non_empty(release));
        self.counts.environment = self.push_string(non_empty(environment));
    }

    /// Counting for a transaction payload: every transaction event counts, root or not (Relay
    /// counts each towards the trace's root project); one without a trace context is invalid and
    /// does not. The release of a kept one is observed.
    pub(crate) fn count_transaction(&mut self, payload: &[u8], dsc: Option<RawValue<'_>>, kept: bool) {
        let mut fields = CountedFields::default();
        let read = json::for_each_entry(payload, |key, value| {
            if key.eq_str("contexts") {
                fields.contexts = Some(value);
            } else if key.eq_str("transaction") {
                fields.name = Some(value);
            } else if key.eq_str("release") {
                fields.release = Some(value);
            } else if key.eq_str("environment") {
                fields.environment = Some(value);
            }
        });
        if read.is_ok() {
            self.count_transaction_fields(fields, dsc, kept);
        }
    }

    /// Counting for the transaction payload, from what the decision's pass read of it when it did.
    pub(crate) fn count_transaction_item(&mut self, payload: &[u8], dsc: Option<RawValue<'_>>, kept: bool) {
        match self.counted_transaction.and_then(|read| read.fields(payload)) {
            Some(Some(fields)) => self.count_transaction_fields(fields, dsc, kept),
            Some(None) => {}
            None => self.count_transaction(payload, dsc, kept),
        }
    }

    /// `count_transaction` with the fields already read (by the decision's pass over the event).
    pub(crate) fn count_transaction_fields(&mut self, fields: CountedFields<'_>, dsc: Option<RawValue<'_>>, kept: bool) {
        let Some(trace) = fields.contexts.filter(|c| c.is_object()).and_then(|c| c.get("trace")).filter(|t| t.is_object()) else {
            return;
        };
        self.counts.transactions += 1;
        if dsc.is_none() {
            self.counts.transaction_name = self.push_string(fields.name);
        }
        if kept {
            let is_root = trace.get("parent_span_id").is_none_or(|p| p.is_null());
            self.see_release(dsc, is_root, fields.release, fields.environment);
        }
    }

    /// Counting for a span item (a single span or a container's `items`): its segment spans, and
    /// the releases of kept ones. Child-only items cost one search for `"is_segment"`.
    pub(crate) fn count_spans(&mut self, payload: &[u8], dsc: Option<RawValue<'_>>, kept: bool) {
        if !holds_true_member(payload, b"\"is_segment\"") {
            return;
        }
        // One pass finds the container's `items` (the last one, as a lookup would); the spans are
        // then read once each. Brackets and strings are matched, values not validated token by
        // token: a strict pass cost three times the rest of counting a container, and only JSON
        // no SDK writes (a bad number or literal inside a span) would count where Relay rejects it.
        let mut items = None;
        let Ok(end) = json::for_each_entry(payload, |key, value| {
            if key.eq_str("items") {
                items = Some(value);
            }
        }) else {
            // Malformed, or not an object (a single span is one): nothing to count.
            return;
        };
        if json::skip_ws(payload, end) != payload.len() {
            return;
        }
        match items.filter(|i| i.is_array()) {
            Some(items) => {
                for span in items.elements() {
                    self.count_span(span, dsc, kept);
                }
            }
            None => self.count_span(RawValue(&payload[json::skip_ws(payload, 0)..end]), dsc, kept),
        }
    }

    /// One span: a segment (`is_segment: true`) is counted, and a kept one's release observed.
    /// Its members are read in one pass (the last of a repeated key wins, as for a lookup).
    fn count_span(&mut self, span: RawValue<'_>, dsc: Option<RawValue<'_>>, kept: bool) {
        // Child spans (most of them) are passed over after one search, as whole items are.
        if !span.is_object() || !holds_true_member(span.0, b"\"is_segment\"") {
            return;
        }
        let [segment, parent, attributes] = span.members(["is_segment", "parent_span_id", "attributes"]);
        if segment.and_then(|v| v.as_bool()) != Some(true) {
            return;
        }
        self.counts.segments = self.counts.segments.saturating_add(1);
        if kept {
            let is_root = parent.is_none_or(|p| p.is_null());
            let [release, environment] = attributes.map_or([None; 2], |a| a.members(["sentry.release", "sentry.environment"]));
            self.see_release(dsc, is_root, attribute_value(release), attribute_value(environment));
        }
    }
}

/// A span attribute's value: `{"value": ...}`, or (older SDKs) the value itself.
fn attribute_value(attribute: Option<RawValue<'_>>) -> Option<RawValue<'_>> {
    attribute.and_then(|v| if v.is_object() { v.get("value") } else { Some(v) })
}

/// Whether `"key": true` is written anywhere in the bytes (a cheap pre-filter).
fn holds_true_member(b: &[u8], quoted_key: &[u8]) -> bool {
    memchr::memmem::find_iter(b, quoted_key).any(|at| {
        let mut i = json::skip_ws(b, at + quoted_key.len());
        if b.get(i) != Some(&b':') {
            return false;
        }
        i = json::skip_ws(b, i + 1);
        b.get(i..i + 4) == Some(b"true")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(payload: &str, edit: TagEdit) -> String {
        let text = match edit.shape {
            TagShape::None => return payload.to_owned(),
            TagShape::InsertContexts => r#""contexts":{"trace":{"sampled":true}}"#,
            TagShape::ReplaceContexts => r#"{"trace":{"sampled":true}}"#,
            TagShape::InsertTrace => r#""trace":{"sampled":true}"#,
            TagShape::ReplaceTrace => r#"{"sampled":true}"#,
            TagShape::InsertSampled => r#""sampled":true"#,
            TagShape::ReplaceSampled => "true",
        };
        let comma = if edit.comma { "," } else { "" };
        format!("{}{text}{comma}{}", &payload[..edit.at as usize], &payload[edit.remove_to as usize..])
    }

    fn tag(payload: &str) -> String {
        apply(payload, tag_edit(payload.as_bytes(), 0, payload.len()))
    }

    #[test]
    fn the_tag_is_inserted_where_it_is_missing() {
        assert_eq!(tag("{}"), r#"{"contexts":{"trace":{"sampled":true}}}"#);
        assert_eq!(tag(r#"{"a":1}"#), r#"{"contexts":{"trace":{"sampled":true}},"a":1}"#);
        assert_eq!(tag(r#"{"contexts":null}"#), r#"{"contexts":{"trace":{"sampled":true}}}"#);
        assert_eq!(tag(r#"{"contexts":{"os":{}}}"#), r#"{"contexts":{"trace":{"sampled":true},"os":{}}}"#);
        assert_eq!(tag(r#"{"contexts":{"trace":null}}"#), r#"{"contexts":{"trace":{"sampled":true}}}"#);
        assert_eq!(tag(r#"{"contexts":{"trace":{"span_id":"a"}}}"#), r#"{"contexts":{"trace":{"sampled":true,"span_id":"a"}}}"#);
        assert_eq!(tag(r#"{"contexts":{"trace":{"sampled":null}}}"#), r#"{"contexts":{"trace":{"sampled":true}}}"#);
    }

    #[test]
    fn a_set_flag_or_an_unreadable_payload_is_left_alone() {
        for payload in [
            r#"{"contexts":{"trace":{"sampled":false}}}"#,
            r#"{"contexts":5}"#,
            r#"{"contexts":{"trace":[]}}"#,
            "[1]",
            "{",
            r#"{"a":"\u00"}"#,
        ] {
            assert_eq!(tag(payload), payload);
        }
        // The last of repeated keys counts.
        assert_eq!(tag(r#"{"contexts":5,"contexts":{}}"#), r#"{"contexts":5,"contexts":{"trace":{"sampled":true}}}"#);
    }

    #[test]
    fn fates_follow_relays_rules() {
        let drop_tx = FateInput { transaction: true, spans: false, dropped: true, spans_dropped: false, rejection: Fate::Forward };
        assert_eq!(fate_of("transaction", false, false, &drop_tx), Fate::Sampled);
        assert_eq!(fate_of("attachment", false, false, &drop_tx), Fate::Sampled);
        assert_eq!(fate_of("attachment", false, true, &drop_tx), Fate::Forward);
        assert_eq!(fate_of("profile", false, false, &drop_tx), Fate::Forward);
        assert_eq!(fate_of("span", true, false, &drop_tx), Fate::Forward);
        let drop_spans = FateInput { transaction: false, spans: true, dropped: true, spans_dropped: false, rejection: Fate::Forward };
        assert_eq!(fate_of("otel_span", false, false, &drop_spans), Fate::Sampled);
        assert_eq!(fate_of("event", false, true, &drop_spans), Fate::Forward);
        let rejected = FateInput { rejection: Fate::MissingDsc, ..drop_spans };
        assert_eq!(fate_of("span", true, false, &rejected), Fate::MissingDsc);
        assert_eq!(item_type_code("transaction"), 1);
        assert_eq!(item_type_code("something_new"), 0);
    }

    mod counting {
        use crate::decision::Scratch;
        use crate::plan::EnvelopePlan;
        use crate::store::Store;

        const TRACE: &str = "67e5504410b1426f9247bb680e5fe0c8";
        const ROOT: u128 = 0xa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1;
        const CHILD: u128 = 0xb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2;
        const FOREIGN: u128 = 0xc3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3;
        const KEEP_ALL: &str = r#"{"version":2,"rules":[{"id":1,"type":"trace","condition":{"op":"and","inner":[]},"samplingValue":{"type":"sampleRate","value":1.0}}]}"#;

        fn store() -> Store {
            let store = Store::new();
            store.put(ROOT, 10, 1, Some(KEEP_ALL)).unwrap();
            store.put(CHILD, 20, 1, Some(r#"{"version":2,"rules":[]}"#)).unwrap();
            store.put(FOREIGN, 30, 2, Some(KEEP_ALL)).unwrap();
            store.set_counting(true);
            store
        }

        fn dsc(key: u128) -> String {
            format!(r#"{{"trace_id":"{TRACE}","public_key":"{key:032x}","transaction":"/dsc","release":"r@1","environment":"prod"}}"#)
        }

        fn transaction(parent: Option<&str>) -> String {
            let parent = parent.map_or(String::new(), |p| format!(r#","parent_span_id":"{p}""#));
            format!(
                r#"{{"type":"transaction","transaction":"/own","release":"r@2","contexts":{{"trace":{{"trace_id":"{TRACE}","span_id":"aaaaaaaaaaaaaaaa"{parent}}}}}}}"#
            )
        }

        fn span(id: usize, segment: bool, parent: bool) -> String {
            let parent = if parent { r#","parent_span_id":"ffffffffffffffff""# } else { "" };
            format!(r#"{{"trace_id":"{TRACE}","span_id":"{id:016x}","is_segment":{segment}{parent},"name":"/span"}}"#)
        }

        fn container(spans: &[String]) -> String {
            format!("{{\"type\":\"span\",\"item_count\":{},\"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{{\"items\":[{}]}}\n", spans.len(), spans.join(","))
        }

        /// The plan of `items` (lines after the header) sent to `own` with the DSC of `root` (none: no DSC).
        fn plan(own: u128, root: Option<u128>, items: &str) -> EnvelopePlan {
            let header = root.map_or("{}".to_owned(), |k| format!(r#"{{"trace":{}}}"#, dsc(k)));
            let body = format!("{header}\n{items}");
            let store = store();
            let mut scratch = Scratch::new();
            store.sample_envelope(own, body.as_bytes(), store.now(), &mut scratch).unwrap();
            std::mem::take(&mut scratch.plan)
        }

        fn tx_item(payload: &str) -> String {
            format!("{{\"type\":\"transaction\"}}\n{payload}\n")
        }

        #[test]
        fn several_transactions_count_nothing_as_relay_rejects_the_envelope() {
            let one = plan(ROOT, Some(ROOT), &tx_item(&transaction(None)));
            assert_eq!((one.counts.transactions, one.counts.segments), (1, 0));
            let three = plan(ROOT, Some(ROOT), &tx_item(&transaction(None)).repeat(3));
            assert_eq!((three.counts.transactions, three.counts.segments), (0, 0));
            assert!(three.releases.is_empty());
            // Segments next to them are processed apart by Relay and still count.
            let mixed = plan(ROOT, Some(ROOT), &format!("{}{}", tx_item(&transaction(None)).repeat(2), container(&[span(1, true, false)])));
            assert_eq!((mixed.counts.transactions, mixed.counts.segments), (0, 1));
        }

        #[test]
        fn a_container_counts_its_segments_root_or_not() {
            let spans: Vec<String> = (0..7).map(|i| span(i, i % 3 == 0, i > 0)).collect();
            let p = plan(CHILD, Some(ROOT), &container(&spans));
            // Spans 0, 3 and 6 are segments (0 a root, 3 and 6 with a parent in another service).
            assert_eq!((p.counts.transactions, p.counts.segments), (0, 3));
            assert_eq!(p.counts.root_project, Some(10));
            assert_eq!(p.text_of(p.counts.segment_name), Some("/dsc"));
            assert_eq!((p.text_of(p.counts.release), p.text_of(p.counts.environment)), (Some("r@1"), Some("prod")));
            // Child-only containers and single span items.
            let children: Vec<String> = (0..4).map(|i| span(i, false, true)).collect();
            assert_eq!(plan(CHILD, Some(ROOT), &container(&children)).counts.segments, 0);
            let single = format!("{{\"type\":\"span\"}}\n{}\n", span(9, true, false));
            assert_eq!(plan(CHILD, Some(ROOT), &single.repeat(2)).counts.segments, 2);
            // A span v2 container without a DSC is refused before sampling: Relay counts nothing.
            assert_eq!(plan(CHILD, None, &container(&spans)).counts.segments, 0);
        }

        /// Counting a transaction from the decision's pass over its payload counts what a pass of
        /// its own counts, and counting never changes the decision.
        #[test]
        fn a_transaction_counted_in_the_decisions_pass_counts_as_a_pass_of_its_own() {
            // Transaction rules that read the event, so that the decision's pass stops early.
            let rules = r#"{"version":2,"rules":[
                {"id":5,"type":"transaction","condition":{"op":"glob","name":"event.transaction","value":["/own*"]},"samplingValue":{"type":"sampleRate","value":0.5}},
                {"id":6,"type":"transaction","condition":{"op":"eq","name":"event.environment","value":["prod"]},"samplingValue":{"type":"sampleRate","value":0.25}},
                {"id":1,"type":"trace","condition":{"op":"and","inner":[]},"samplingValue":{"type":"sampleRate","value":0.75}}]}"#;
            let stores: Vec<Store> = [false, true]
                .iter()
                .map(|&counting| {
                    let store = Store::new();
                    store.put(ROOT, 10, 1, Some(rules)).unwrap();
                    store.put(CHILD, 20, 1, Some(rules)).unwrap();
                    store.set_counting(counting);
                    store
                })
                .collect();
            let ctx = |parent: &str| format!(r#""contexts":{{"trace":{{"trace_id":"{TRACE}","span_id":"aaaaaaaaaaaaaaaa"{parent}}}}}"#);
            let root = ctx("");
            let child = ctx(r#","parent_span_id":"bbbbbbbbbbbbbbbb""#);
            let payloads = [
                format!(r#"{{"type":"transaction","transaction":"/own/1",{root},"release":"r@2","environment":"prod"}}"#),
                format!(
                    r#"{{{child},"spans":[{{"a":[1,{{"b":"}}"}}]}}],"transaction":"/own/2","type":"transaction","environment":"dev","release":"r@3"}}"#
                ),
                // Repeated keys: the last counts; the decision reads as it did.
                format!(
                    r#"{{"type":"transaction","transaction":"/own/3","transaction_info":{{"source":"route"}},"environment":"x","release":"a",{root},"release":"b","transaction":"/other","environment":"prod"}}"#
                ),
                // Broken after the fields the decision reads: not counted, decided as before.
                format!(
                    r#"{{"type":"transaction","transaction":"/own/4","transaction_info":{{"source":"route"}},"environment":"prod",{root},"release":[1,}}"#
                ),
                format!(
                    r#"{{"type":"transaction","transaction":"/own/8","transaction_info":{{"source":"route"}},"environment":"prod",{root},"release":"r"}} trailing"#
                ),
                format!(r#"{{"type":"transaction","transaction":"/own/5",{root},"release":"r"}} trailing"#),
                // No usable trace context, an escaped key, names that are not strings.
                r#"{"type":"transaction","transaction":"/own/6","contexts":null,"release":"r"}"#.to_owned(),
                format!(r#"{{"type":"transaction","transaction":null,{root},"rel\u0065ase":"escaped","environment":7}}"#),
                format!(r#"{{"type":"transaction","transaction":42,{child}}}"#),
                r#"[1,2]"#.to_owned(),
                r#"{"type":"transaction","transaction":"/own/7""#.to_owned(),
            ];
            for payload in &payloads {
                // With an event id (without one, the seed is random and so is the decision).
                let id = r#""event_id":"0123456789abcdef0123456789abcdef""#;
                for (own, header) in [
                    (ROOT, format!(r#"{{{id},"trace":{}}}"#, dsc(ROOT))),
                    (CHILD, format!("{{{id}}}")),
                    (CHILD, format!(r#"{{{id},"trace":{}}}"#, dsc(ROOT))),
                ] {
                    let body = format!("{header}\n{}", tx_item(payload));
                    let mut scratch = [Scratch::new(), Scratch::new()];
                    let [off, on] = [0, 1].map(|i| stores[i].sample_envelope(own, body.as_bytes(), stores[i].now(), &mut scratch[i]));
                    let (off, on) = (off.unwrap(), on.unwrap());
                    let facts = |d: &crate::store::EnvelopeDecision| (d.outcome.decision, d.outcome.sample_rate, d.keep_reason, d.kind);
                    assert_eq!(facts(&off), facts(&on), "decision changed by counting for {payload} / {header}");
                    assert_eq!(scratch[0].matched_ids, scratch[1].matched_ids, "{payload}");
                    // The reference: the payload read again by a pass of its own.
                    let plan = &scratch[1].plan;
                    let envelope = crate::envelope::Envelope::parse(body.as_bytes()).unwrap();
                    let dsc = if on.invalid_dsc { None } else { envelope.trace() };
                    let mut reference = EnvelopePlan::default();
                    reference.count_transaction(payload.as_bytes(), dsc, on.outcome.decision != crate::evaluation::Decision::Drop);
                    let seen = |p: &EnvelopePlan| -> Vec<(Option<String>, Option<String>)> {
                        p.releases
                            .iter()
                            .map(|r| (p.text_of(r.release).map(str::to_owned), p.text_of(r.environment).map(str::to_owned)))
                            .collect()
                    };
                    assert_eq!(plan.counts.transactions, reference.counts.transactions, "{payload} / {header}");
                    assert_eq!(seen(plan), seen(&reference), "{payload} / {header}");
                    if dsc.is_none() {
                        assert_eq!(
                            plan.text_of(plan.counts.transaction_name),
                            reference.text_of(reference.counts.transaction_name),
                            "{payload}"
                        );
                    }
                }
            }
        }

        #[test]
        fn a_span_is_a_segment_by_its_own_last_is_segment_member() {
            let s = |body: &str| format!(r#"{{"trace_id":"{TRACE}","span_id":"00000000000000aa",{body}}}"#);
            let spans = [
                // `true` only inside its attributes: a child.
                s(r#""is_segment":false,"attributes":{"is_segment":true}"#),
                // Repeated: the last one counts, as for a lookup.
                s(r#""is_segment":false,"is_segment":true"#),
                s(r#""is_segment":true,"is_segment":false"#),
                s(r#""is_segment" : true"#),
            ];
            assert_eq!(plan(CHILD, Some(ROOT), &container(&spans)).counts.segments, 2);
            // Brackets that do not match: nothing is counted.
            let broken = container(&spans).replace("]}", "}]");
            assert_eq!(plan(CHILD, Some(ROOT), &broken).counts.segments, 0);
        }

        #[test]
        fn a_child_transaction_counts_toward_the_root_project() {
            let p = plan(CHILD, Some(ROOT), &tx_item(&transaction(Some("bbbbbbbbbbbbbbbb"))));
            assert_eq!(p.counts.transactions, 1);
            assert_eq!(p.counts.root_project, Some(10));
            assert_eq!(p.text_of(p.counts.transaction_name), Some("/dsc"));
            // Its own release is observed when kept (the root's trace rule keeps it).
            assert_eq!(p.releases.len(), 1);
            assert_eq!(p.text_of(p.releases[0].release), Some("r@2"));
            // A root in another organisation, or no DSC: the envelope's own project (None).
            assert_eq!(plan(CHILD, Some(FOREIGN), &tx_item(&transaction(None))).counts.root_project, None);
            let bare = plan(CHILD, None, &tx_item(&transaction(Some("bbbbbbbbbbbbbbbb"))));
            assert_eq!((bare.counts.transactions, bare.counts.root_project), (1, None));
            // Without a DSC, Relay builds one from the event: its own name.
            assert_eq!(bare.text_of(bare.counts.transaction_name), Some("/own"));
            // A transaction without a trace context is invalid: not counted.
            let invalid = plan(CHILD, Some(ROOT), &tx_item(r#"{"type":"transaction","transaction":"/own"}"#));
            assert_eq!(invalid.counts.transactions, 0);
        }

        #[test]
        fn a_transaction_and_its_segments_count_both() {
            let items =
                format!("{}{}", tx_item(&transaction(None)), container(&[span(1, true, true), span(2, false, true), span(3, true, true)]));
            let p = plan(ROOT, Some(ROOT), &items);
            assert_eq!((p.counts.transactions, p.counts.segments, p.counts.root_project), (1, 2, Some(10)));
            assert_eq!(p.text_of(p.counts.transaction_name), Some("/dsc"));
            assert_eq!(p.text_of(p.counts.segment_name), Some("/dsc"));
        }
    }

    #[test]
    fn counts_the_spans_of_a_transaction_payload() {
        assert_eq!(embedded_span_count(br#"{"contexts":{"trace":{}},"spans":[{"a":"]"},{"b":[1,2]},{}],"x":1}"#), 3);
        assert_eq!(embedded_span_count(b" {\n \"spans\" : [ ] }"), 0);
        assert_eq!(embedded_span_count(br#"{"nested":{"spans":[1,2]},"spans":[{}]}"#), 1);
        for broken in [&b""[..], b"null", b"[1]", br#"{"spans": [1, 2"#, br#"{"spans": "x"}"#, br#"{"a": "unterminated"#] {
            assert_eq!(embedded_span_count(broken), 0, "{}", String::from_utf8_lossy(broken));
        }
    }
}
