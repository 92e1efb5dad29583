//! The plan of an envelope, written with its decision in the same pass: where every item lies,
//! what a drop removes (Relay's rules), where the error tag goes in each error event, the header
//! fields a server needs, and what the control plane counts. A server assembles what it forwards
//! from this without reading any JSON itself.

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

/// A trace root found in the envelope. Numeric codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RootKind {
    #[default]
    None = 0,
    /// A transaction whose trace context has no parent span.
    Transaction = 1,
    /// A segment span (`is_segment: true`) without a parent span.
    Segment = 2,
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
    /// The envelope's trace root (at most one: one DSC, one trace), its name (the DSC's
    /// `transaction`, else the event's or segment's own) and releases of kept items.
    pub root: RootKind,
    pub root_name: TextRange,
    /// The DSC's `release` and `environment` of the root (what the control plane counts it by).
    pub root_release: TextRange,
    pub root_environment: TextRange,
    pub releases: Vec<ReleaseSeen>,
    /// Decoded strings the ranges point into.
    pub text: Vec<u8>,
}

impl EnvelopePlan {
    pub fn clear(&mut self) {
        self.header_end = 0;
        self.event_id = None;
        self.dsn = TextRange::NONE;
        self.sent_at = TextRange::NONE;
        self.items.clear();
        self.root = RootKind::None;
        self.root_name = TextRange::NONE;
        self.root_release = TextRange::NONE;
        self.root_environment = TextRange::NONE;
        self.releases.clear();
        self.text.clear();
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
    dsc.and_then(|d| if d.is_object() { d.get(key) } else { None })
        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
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
        if !release.and_then(|r| r.as_str()).is_some_and(|r| !r.is_empty()) {
            return;
        }
        let release = self.push_string(release);
        let environment = self.push_string(environment);
        self.releases.push(ReleaseSeen { release, environment });
    }

    fn set_root(&mut self, kind: RootKind, dsc: Option<RawValue<'_>>, own_name: Option<RawValue<'_>>) {
        if self.root != RootKind::None {
            return;
        }
        self.root = kind;
        self.root_name = self.push_string(string_or(dsc_string(dsc, "transaction"), own_name));
        self.root_release = self.push_string(dsc_string(dsc, "release"));
        self.root_environment = self.push_string(dsc_string(dsc, "environment"));
    }

    /// Counting for a transaction payload: a root when its trace context has no parent span
    /// (a transaction without a trace context is invalid: nothing); the release of a kept one.
    pub(crate) fn count_transaction(&mut self, payload: &[u8], dsc: Option<RawValue<'_>>, kept: bool) {
        let (mut contexts, mut name, mut release, mut environment) = (None, None, None, None);
        let read = json::for_each_entry(payload, |key, value| {
            if key.eq_str("contexts") {
                contexts = Some(value);
            } else if key.eq_str("transaction") {
                name = Some(value);
            } else if key.eq_str("release") {
                release = Some(value);
            } else if key.eq_str("environment") {
                environment = Some(value);
            }
        });
        if read.is_err() {
            return;
        }
        let Some(trace) = contexts.filter(|c| c.is_object()).and_then(|c| c.get("trace")).filter(|t| t.is_object()) else {
            return;
        };
        let is_root = trace.get("parent_span_id").is_none_or(|p| p.is_null());
        if is_root {
            self.set_root(RootKind::Transaction, dsc, name);
        }
        if kept {
            self.see_release(dsc, is_root, release, environment);
        }
    }

    /// Counting for a span item: root segments (the first one is the envelope's root) and the
    /// releases of kept segments. Child-only containers cost one search for `"is_segment"`.
    pub(crate) fn count_spans(&mut self, payload: &[u8], dsc: Option<RawValue<'_>>, kept: bool) {
        if !holds_true_member(payload, b"\"is_segment\"") {
            return;
        }
        let Ok(value) = json::validate(payload) else { return };
        match value.get("items").filter(|i| i.is_array()) {
            Some(items) => {
                for span in items.elements() {
                    self.count_span(span, dsc, kept);
                }
            }
            None => self.count_span(value, dsc, kept),
        }
    }

    fn count_span(&mut self, span: RawValue<'_>, dsc: Option<RawValue<'_>>, kept: bool) {
        if !span.is_object() || span.get("is_segment").and_then(|v| v.as_bool()) != Some(true) {
            return;
        }
        let is_root = span.get("parent_span_id").is_none_or(|p| p.is_null());
        if is_root {
            self.set_root(RootKind::Segment, dsc, span.get("name"));
        }
        if kept {
            let attributes = span.get("attributes").filter(|a| a.is_object());
            let attribute = |key: &str| {
                let value = attributes?.get(key)?;
                if value.is_object() {
                    value.get("value")
                } else {
                    Some(value)
                }
            };
            let (release, environment) = (attribute("sentry.release"), attribute("sentry.environment"));
            self.see_release(dsc, is_root, release, environment);
        }
    }
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
        for payload in [r#"{"contexts":{"trace":{"sampled":false}}}"#, r#"{"contexts":5}"#, r#"{"contexts":{"trace":[]}}"#, "[1]", "{", r#"{"a":"\u00"}"#] {
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
}
