//! A Sentry event read in place from its JSON: the top-level fields rules can reach are located
//! in one pass, nested ones on demand, with the normalisation Relay applies before matching.

use std::borrow::Cow;

pub use crate::field::EventField;
use crate::field::{FieldKey, FieldPath};
use crate::json::{self, JsonError, Number, RawValue};
use crate::value::{parse_uuid, Getter, Val};

/// Top-level keys worth locating; everything else is skipped.
const SLOTS: [&str; 20] = [
    "event_id",
    "type",
    "level",
    "release",
    "dist",
    "environment",
    "transaction",
    "logger",
    "platform",
    "user",
    "request",
    "transaction_info",
    "sdk",
    "contexts",
    "tags",
    "measurements",
    "breakdowns",
    "extra",
    "timestamp",
    "start_timestamp",
];
const EVENT_ID: usize = 0;
const TYPE: usize = 1;
const LEVEL: usize = 2;
const RELEASE: usize = 3;
const DIST: usize = 4;
const ENVIRONMENT: usize = 5;
const TRANSACTION: usize = 6;
const LOGGER: usize = 7;
const PLATFORM: usize = 8;
const USER: usize = 9;
const REQUEST: usize = 10;
const TRANSACTION_INFO: usize = 11;
const SDK: usize = 12;
const CONTEXTS: usize = 13;
const TAGS: usize = 14;
const MEASUREMENTS: usize = 15;
const BREAKDOWNS: usize = 16;
const EXTRA: usize = 17;
const TIMESTAMP: usize = 18;
const START_TIMESTAMP: usize = 19;

/// Not a slot: the normalized transaction name is read. Its own inputs are always located; the
/// SDK's (`NAME_SDK_INPUTS`) only when the name is one they can change (see
/// `normalize::transaction_name::name_reads_sdk`), so that an event without them is not scanned
/// to its end for nothing.
const NORMALIZED_NAME: u32 = 1 << 31;
/// What normalizing the transaction name reads (see `crate::normalize`).
const NAME_INPUTS: u32 = 1 << TYPE | 1 << TRANSACTION | 1 << TRANSACTION_INFO | NORMALIZED_NAME;
/// What decides the source of a URL-like name sent without one (`is_high_cardinality_sdk`).
const NAME_SDK_INPUTS: u32 = 1 << SDK | 1 << TAGS | 1 << REQUEST;
/// What deriving contexts (user agent, trace defaults) reads.
const CONTEXT_INPUTS: u32 = 1 << TYPE | 1 << CONTEXTS | 1 << REQUEST | 1 << PLATFORM;

/// A set of top-level event fields (bit i = `SLOTS[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotMask(pub u32);

impl SlotMask {
    pub const ALL: SlotMask = SlotMask((1 << SLOTS.len()) - 1);
    pub const EVENT_ID: SlotMask = SlotMask(1 << EVENT_ID);
    /// What rebuilding a DSC from a transaction reads (its name is the normalized one).
    pub const DSC_SOURCE: SlotMask = SlotMask(1 << TYPE | 1 << CONTEXTS | 1 << RELEASE | 1 << ENVIRONMENT | 1 << USER | NAME_INPUTS);

    pub fn union(self, other: SlotMask) -> SlotMask {
        SlotMask(self.0 | other.0)
    }
}

/// What the control plane counts of a transaction event: its top-level `contexts`,
/// `transaction`, `release` and `environment` as written (null included).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountedFields<'a> {
    pub contexts: Option<RawValue<'a>>,
    pub name: Option<RawValue<'a>>,
    pub release: Option<RawValue<'a>>,
    pub environment: Option<RawValue<'a>>,
}

impl EventField {
    /// The top-level fields this field is read from.
    pub fn slots(&self) -> SlotMask {
        let bits = match self {
            EventField::Level => 1 << LEVEL,
            EventField::Release | EventField::ReleaseBuild | EventField::ReleasePackage | EventField::ReleaseVersionShort => 1 << RELEASE,
            EventField::Dist => 1 << DIST,
            EventField::Environment => 1 << ENVIRONMENT,
            EventField::Transaction | EventField::TransactionSource => NAME_INPUTS,
            EventField::Logger => 1 << LOGGER,
            EventField::Platform => 1 << PLATFORM,
            EventField::User(_) | EventField::UserGeo(_) => 1 << USER,
            EventField::RequestMethod | EventField::RequestUrl | EventField::RequestHeader(_) => 1 << REQUEST,
            EventField::Sdk(_) => 1 << SDK,
            EventField::Context(..) => CONTEXT_INPUTS,
            EventField::Duration => 1 << TYPE | 1 << TIMESTAMP | 1 << START_TIMESTAMP,
            EventField::Measurement(_) => 1 << MEASUREMENTS,
            EventField::Breakdown(..) => 1 << BREAKDOWNS,
            EventField::Extra(_) => 1 << EXTRA,
            EventField::Tag(_) => 1 << TAGS,
        };
        SlotMask(bits)
    }
}

/// Which slot a top-level key fills; the length check skips most comparisons.
fn slot_of(key: json::RawKey<'_>) -> Option<usize> {
    if key.has_escape() {
        return SLOTS.iter().position(|s| key.eq_str(s));
    }
    Some(match key.raw() {
        b"event_id" => EVENT_ID,
        b"type" => TYPE,
        b"level" => LEVEL,
        b"release" => RELEASE,
        b"dist" => DIST,
        b"environment" => ENVIRONMENT,
        b"transaction" => TRANSACTION,
        b"logger" => LOGGER,
        b"platform" => PLATFORM,
        b"user" => USER,
        b"request" => REQUEST,
        b"transaction_info" => TRANSACTION_INFO,
        b"sdk" => SDK,
        b"contexts" => CONTEXTS,
        b"tags" => TAGS,
        b"measurements" => MEASUREMENTS,
        b"breakdowns" => BREAKDOWNS,
        b"extra" => EXTRA,
        b"timestamp" => TIMESTAMP,
        b"start_timestamp" => START_TIMESTAMP,
        _ => return None,
    })
}

/// An event's JSON with the positions of its interesting top-level fields.
#[derive(Debug, Clone)]
pub struct EventView<'a> {
    slots: [Option<RawValue<'a>>; SLOTS.len()],
}

impl<'a> EventView<'a> {
    /// Validates the event's top-level structure and locates all its top-level fields in one pass.
    pub fn parse(bytes: &'a [u8]) -> Result<EventView<'a>, JsonError> {
        Self::parse_slots(bytes, SlotMask::ALL)
    }

    /// Locates only the top-level fields in `wanted`, stopping as soon as all were seen: the
    /// rest of the event is not read (its brackets are still matched up to that point). For the
    /// normalized name, the SDK's inputs are awaited only when the name needs them.
    pub fn parse_slots(bytes: &'a [u8], wanted: SlotMask) -> Result<EventView<'a>, JsonError> {
        let mut slots = [None; SLOTS.len()];
        let mut missing = wanted.0 & SlotMask::ALL.0;
        let mut sdk_missing = if wanted.0 & NORMALIZED_NAME != 0 { NAME_SDK_INPUTS & !missing } else { 0 };
        // Once the name's own inputs were all seen: whether it needs the SDK's.
        let mut name_reads_sdk = None;
        let end = json::for_each_entry_until(bytes, |key, v| {
            if let Some(slot) = slot_of(key) {
                slots[slot] = (!v.is_null()).then_some(v);
                missing &= !(1 << slot);
                sdk_missing &= !(1 << slot);
            }
            if missing != 0 {
                return true;
            }
            sdk_missing != 0
                && *name_reads_sdk.get_or_insert_with(|| {
                    crate::normalize::transaction_name::name_reads_sdk(slots[TYPE], slots[TRANSACTION], slots[TRANSACTION_INFO])
                })
        })?;
        if let Some(end) = end {
            if json::skip_ws(bytes, end) != bytes.len() {
                return Err(JsonError { offset: end, reason: "trailing characters after the event" });
            }
        }
        Ok(EventView { slots })
    }

    /// `parse_slots(bytes, wanted)` and, in the same pass, what the control plane counts of a
    /// transaction (`CountedFields`, read as `json::for_each_entry` would: the whole object,
    /// the last of a repeated key): the pass goes on past the point where `wanted` is complete,
    /// but the view stays as it was there, and an error past it only loses the counted fields
    /// (`None`). An error before it is the view's, as for `parse_slots`.
    pub fn parse_slots_counting(bytes: &'a [u8], wanted: SlotMask) -> Result<(EventView<'a>, Option<CountedFields<'a>>), JsonError> {
        let mut slots = [None; SLOTS.len()];
        let mut missing = wanted.0 & SlotMask::ALL.0;
        let mut sdk_missing = if wanted.0 & NORMALIZED_NAME != 0 { NAME_SDK_INPUTS & !missing } else { 0 };
        let mut name_reads_sdk = None;
        let mut view_done = missing == 0 && sdk_missing == 0;
        let mut counted = CountedFields::default();
        let read = json::for_each_entry_until(bytes, |key, v| {
            if let Some(slot) = slot_of(key) {
                match slot {
                    CONTEXTS => counted.contexts = Some(v),
                    TRANSACTION => counted.name = Some(v),
                    RELEASE => counted.release = Some(v),
                    ENVIRONMENT => counted.environment = Some(v),
                    _ => {}
                }
                if !view_done {
                    slots[slot] = (!v.is_null()).then_some(v);
                    missing &= !(1 << slot);
                    sdk_missing &= !(1 << slot);
                }
            }
            if !view_done {
                view_done = missing == 0
                    && (sdk_missing == 0
                        || !*name_reads_sdk.get_or_insert_with(|| {
                            crate::normalize::transaction_name::name_reads_sdk(slots[TYPE], slots[TRANSACTION], slots[TRANSACTION_INFO])
                        }));
            }
            true
        });
        match read {
            Ok(end) => {
                let end = end.expect("never stopped early");
                // Trailing bytes are the view's concern only when it needed the whole object.
                if !view_done && json::skip_ws(bytes, end) != bytes.len() {
                    return Err(JsonError { offset: end, reason: "trailing characters after the event" });
                }
                Ok((EventView { slots }, Some(counted)))
            }
            Err(_) if view_done => Ok((EventView { slots }, None)),
            Err(e) => Err(e),
        }
    }

    /// A view of no field: for a payload nothing needs to read.
    pub fn unread() -> EventView<'a> {
        EventView { slots: [None; SLOTS.len()] }
    }

    pub fn from_raw(value: RawValue<'a>) -> EventView<'a> {
        let mut slots = [None; SLOTS.len()];
        for (key, v) in value.entries() {
            if let Some(slot) = slot_of(key) {
                // `null` is the same as absent for every field rules read.
                slots[slot] = (!v.is_null()).then_some(v);
            }
        }
        EventView { slots }
    }

    fn slot(&self, i: usize) -> Option<RawValue<'a>> {
        self.slots[i]
    }

    /// A located top-level field by name (for normalization); `None` when absent or not located.
    pub(crate) fn raw_field(&self, name: &str) -> Option<RawValue<'a>> {
        self.slot(SLOTS.iter().position(|s| *s == name)?)
    }

    /// The value of the first tag named `key`, as conditions read it.
    pub(crate) fn tag_str(&self, key: &str) -> Option<Cow<'a, str>> {
        match self.tag(key)? {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    fn slot_str(&self, i: usize) -> Option<Cow<'a, str>> {
        self.slot(i)?.as_str()
    }

    pub fn event_id(&self) -> Option<u128> {
        parse_uuid(&self.slot_str(EVENT_ID)?)
    }

    pub fn event_type(&self) -> Option<Cow<'a, str>> {
        self.slot_str(TYPE)
    }

    pub fn is_transaction(&self) -> bool {
        self.event_type().is_some_and(|t| t == "transaction")
    }

    pub fn transaction(&self) -> Option<Cow<'a, str>> {
        self.slot_str(TRANSACTION)
    }

    pub fn environment(&self) -> Option<Cow<'a, str>> {
        self.slot_str(ENVIRONMENT)
    }

    /// The release as a string (numbers are accepted, as Relay's lenient string type does).
    pub fn release(&self) -> Option<Cow<'a, str>> {
        lenient_string(self.slot(RELEASE)?)
    }

    /// `contexts.trace.trace_id`, needed to rebuild a DSC from a transaction.
    pub fn trace_id(&self) -> Option<u128> {
        let id = self.slot(CONTEXTS)?.get("trace")?.get("trace_id")?.as_str()?;
        parse_uuid(&id)
    }

    /// `user.id` (numbers read as strings); empty counts as missing.
    pub fn user_id(&self) -> Option<Cow<'a, str>> {
        lenient_string(self.slot(USER)?.get("id")?).filter(|s| !s.is_empty())
    }

    pub fn user_segment(&self) -> Option<Cow<'a, str>> {
        self.slot(USER)?.get("segment")?.as_str().filter(|s| !s.is_empty())
    }

    fn user_field(&self, name: &str) -> Option<Val<'a>> {
        match name {
            "id" => self.user_id().map(Val::Str),
            "email" | "segment" => self.slot(USER)?.get(name)?.as_str().filter(|s| !s.is_empty()).map(Val::Str),
            _ => self.slot(USER)?.get(name)?.as_str().map(Val::Str),
        }
    }

    fn header(&self, wanted: &str) -> Option<Val<'a>> {
        let headers = self.slot(REQUEST)?.get("headers")?;
        let matches = |name: &RawValue<'a>| name.as_str().is_some_and(|n| title_case_eq(&n, wanted));
        if headers.is_object() {
            for (key, value) in headers.entries() {
                if key.decode().is_some_and(|k| title_case_eq(&k, wanted)) {
                    return value.as_str().map(Val::Str);
                }
            }
        } else {
            for pair in headers.elements() {
                let mut it = pair.elements();
                if let (Some(name), Some(value)) = (it.next(), it.next()) {
                    if matches(&name) {
                        return value.as_str().map(Val::Str);
                    }
                }
            }
        }
        None
    }

    fn tag(&self, wanted: &str) -> Option<Val<'a>> {
        let tags = self.slot(TAGS)?;
        let found = if tags.is_object() {
            tags.entries().find(|(k, _)| k.decode().is_some_and(|k| tag_key_eq(&k, wanted))).map(|(_, v)| v)
        } else {
            tags.elements().find_map(|pair| {
                let mut it = pair.elements();
                let (key, value) = (it.next()?, it.next()?);
                tag_key_eq(&key.as_str()?, wanted).then_some(value)
            })
        }?;
        tag_value(found).map(Val::Str)
    }

    fn duration_ms(&self) -> Option<f64> {
        if !self.is_transaction() {
            return None;
        }
        let end = timestamp_seconds(self.slot(TIMESTAMP)?)?;
        let start = timestamp_seconds(self.slot(START_TIMESTAMP)?)?;
        // Relay has no duration for a span that ends before it starts.
        (start <= end).then_some((end - start) * 1000.0)
    }

    fn parsed_release(&self) -> Option<ParsedRelease<'a>> {
        match self.release()? {
            Cow::Borrowed(s) => ParsedRelease::parse(s),
            // An escaped release string is rare enough to skip the parsed-release fields.
            Cow::Owned(_) => None,
        }
    }

    fn extra(&self, path: &str) -> Option<Val<'a>> {
        let mut value = self.slot(EXTRA)?;
        for part in path.split('.') {
            value = value.get(part)?;
        }
        scalar(value)
    }
}

/// A JSON scalar as a condition value.
fn scalar(v: RawValue<'_>) -> Option<Val<'_>> {
    if let Some(s) = v.as_str() {
        return Some(Val::Str(s));
    }
    if let Some(b) = v.as_bool() {
        return Some(Val::Bool(b));
    }
    Some(match v.as_number()? {
        Number::I64(n) => Val::I64(n),
        Number::U64(n) => Val::U64(n),
        Number::F64(n) => Val::F64(n),
    })
}

/// Strings, or numbers read as their JSON text.
fn lenient_string(v: RawValue<'_>) -> Option<Cow<'_, str>> {
    if let Some(s) = v.as_str() {
        return Some(s);
    }
    v.as_number()?;
    std::str::from_utf8(v.bytes()).ok().map(Cow::Borrowed)
}

/// Tag values are trimmed; booleans become `True`/`False`, numbers their text.
fn tag_value(v: RawValue<'_>) -> Option<Cow<'_, str>> {
    if let Some(s) = v.as_str() {
        return Some(match s {
            Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
            Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
        });
    }
    match v.as_bool() {
        Some(true) => Some(Cow::Borrowed("True")),
        Some(false) => Some(Cow::Borrowed("False")),
        None => lenient_string(v),
    }
}

/// Tag keys are trimmed and their spaces become `-` before lookup.
fn tag_key_eq(key: &str, wanted: &str) -> bool {
    let key = key.trim();
    key.len() == wanted.len() && key.chars().map(|c| if c == ' ' { '-' } else { c }).eq(wanted.chars())
}

/// Header names are stored title-cased (`user-agent` → `User-Agent`) and looked up exactly.
fn title_case_eq(name: &str, wanted: &str) -> bool {
    let mut at_word_start = true;
    let mut normalized = name.chars().flat_map(|c| {
        let upper = at_word_start;
        at_word_start = c == '-';
        let mut buf = ['\0'; 3];
        let mut n = 0;
        if upper {
            for u in c.to_uppercase() {
                if n < 3 {
                    buf[n] = u;
                    n += 1;
                }
            }
        } else {
            buf[0] = c;
            n = 1;
        }
        buf.into_iter().take(n)
    });
    let mut wanted_chars = wanted.chars();
    loop {
        match (normalized.next(), wanted_chars.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// Seconds since the epoch from a number or an RFC 3339 string.
fn timestamp_seconds(v: RawValue<'_>) -> Option<f64> {
    if let Some(n) = v.as_number() {
        return Some(n.as_f64());
    }
    let text = v.as_str()?;
    let t = chrono::DateTime::parse_from_rfc3339(&text).ok()?;
    Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
}

/// `package@version+build`, the parts rules can match on.
struct ParsedRelease<'a> {
    package: Option<&'a str>,
    version_short: Option<&'a str>,
    build: Option<&'a str>,
}

impl<'a> ParsedRelease<'a> {
    fn parse(release: &'a str) -> Option<Self> {
        let (package, version) = match release.split_once('@') {
            Some((p, v)) if !p.is_empty() => (Some(p), v),
            Some(_) => return None,
            None => (None, release),
        };
        if !version.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(ParsedRelease { package, version_short: None, build: None });
        }
        let (short, build) = match version.split_once('+') {
            Some((s, b)) => (s, Some(b).filter(|b| !b.is_empty())),
            None => (version, None),
        };
        Some(ParsedRelease { package, version_short: Some(short), build })
    }
}

impl Getter for EventView<'_> {
    fn get_value(&self, field: &FieldPath) -> Option<Val<'_>> {
        let FieldKey::Event(field) = &field.key else { return None };
        let string = |slot: usize| self.slot_str(slot).map(Val::Str);
        match field {
            EventField::Level => string(LEVEL),
            EventField::Release => self.release().map(Val::Str),
            EventField::Dist => string(DIST),
            EventField::Environment => string(ENVIRONMENT),
            EventField::Transaction => string(TRANSACTION),
            EventField::Logger => string(LOGGER),
            EventField::Platform => Some(self.slot_str(PLATFORM).map_or(Val::Str(Cow::Borrowed("other")), Val::Str)),
            EventField::User(name) => self.user_field(name),
            EventField::UserGeo(name) => self.slot(USER)?.get("geo")?.get(name)?.as_str().map(Val::Str),
            EventField::RequestMethod => self.slot(REQUEST)?.get("method")?.as_str().map(Val::Str),
            EventField::RequestUrl => self.slot(REQUEST)?.get("url")?.as_str().map(Val::Str),
            EventField::RequestHeader(name) => self.header(name),
            EventField::TransactionSource => self.slot(TRANSACTION_INFO)?.get("source")?.as_str().map(Val::Str),
            EventField::Sdk(name) => self.slot(SDK)?.get(name)?.as_str().map(Val::Str),
            EventField::Context(ctx, name) => scalar(self.slot(CONTEXTS)?.get(ctx)?.get(name)?),
            EventField::Duration => self.duration_ms().map(Val::F64),
            EventField::ReleaseBuild => self.parsed_release()?.build.map(|s| Val::Str(Cow::Borrowed(s))),
            EventField::ReleasePackage => self.parsed_release()?.package.map(|s| Val::Str(Cow::Borrowed(s))),
            EventField::ReleaseVersionShort => self.parsed_release()?.version_short.map(|s| Val::Str(Cow::Borrowed(s))),
            EventField::Measurement(name) => self.slot(MEASUREMENTS)?.get(name)?.get("value")?.as_number().map(|n| Val::F64(n.as_f64())),
            EventField::Breakdown(breakdown, name) => {
                self.slot(BREAKDOWNS)?.get(breakdown)?.get(name)?.get("value")?.as_number().map(|n| Val::F64(n.as_f64()))
            }
            EventField::Extra(path) => self.extra(path),
            EventField::Tag(key) => self.tag(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(event: &str, path: &str) -> Option<Val<'static>> {
        let text: &'static str = Box::leak(event.to_owned().into_boxed_str());
        let view = Box::leak(Box::new(EventView::parse(text.as_bytes()).unwrap()));
        view.get_value(&FieldPath::new(path))
    }

    fn s(v: &str) -> Option<Val<'static>> {
        Some(Val::Str(Cow::Owned(v.to_owned())))
    }

    #[test]
    fn headers_are_title_cased_and_looked_up_exactly() {
        let event = r#"{"request":{"headers":[["user-agent","Slurp"]]}}"#;
        assert_eq!(get(event, "event.request.headers.User-Agent"), s("Slurp"));
        assert_eq!(get(event, "event.request.headers.user-agent"), None);
    }

    #[test]
    fn tags_are_normalised() {
        let event = r#"{"tags":[[" my key ","  v  "],["flag",true]]}"#;
        assert_eq!(get(event, "event.tags.my-key"), s("v"));
        assert_eq!(get(event, "event.tags.flag"), s("True"));
        assert_eq!(get(r#"{"tags":{"a":"b"}}"#, "event.tags.a"), s("b"));
    }

    #[test]
    fn the_sdk_is_read_only_for_names_it_can_change() {
        let name = EventField::Transaction.slots();
        // A source was sent: the scan stops after `transaction_info`, the broken tail unread.
        let with_source = br#"{"type":"transaction","transaction":"/a/1","transaction_info":{"source":"route"},"sdk":{"#;
        assert!(EventView::parse_slots(with_source, name).is_ok());
        // No source and a `/` in the name: the SDK decides the source, so the scan goes on.
        let without = br#"{"type":"transaction","transaction":"/a/1","transaction_info":{},"sdk":{"name":"x"}}"#;
        assert!(EventView::parse_slots(without, name).unwrap().raw_field("sdk").is_some());
        let broken = br#"{"type":"transaction","transaction":"/a/1","transaction_info":{},"sdk":{"#;
        assert!(EventView::parse_slots(broken, name).is_err());
        // No `/`: the source defaults to `unknown` whatever the SDK.
        let plain = br#"{"type":"transaction","transaction":"checkout","transaction_info":{},"sdk":{"#;
        assert!(EventView::parse_slots(plain, name).is_ok());
    }

    #[test]
    fn platform_defaults_to_other() {
        assert_eq!(get("{}", "event.platform"), s("other"));
    }

    #[test]
    fn numbers_read_as_strings_for_release_and_user_id() {
        assert_eq!(get(r#"{"release":12,"user":{"id":42}}"#, "event.release"), s("12"));
        assert_eq!(get(r#"{"user":{"id":42}}"#, "event.user.id"), s("42"));
        assert_eq!(get(r#"{"user":{"id":""}}"#, "event.user.id"), None);
    }

    #[test]
    fn duration_only_for_transactions() {
        let tx = r#"{"type":"transaction","start_timestamp":10.0,"timestamp":10.5}"#;
        assert_eq!(get(tx, "event.duration"), Some(Val::F64(500.0)));
        assert_eq!(get(r#"{"start_timestamp":10.0,"timestamp":10.5}"#, "event.duration"), None);
    }

    #[test]
    fn release_parts() {
        let event = r#"{"release":"web@1.2.3+abc"}"#;
        assert_eq!(get(event, "event.release.package"), s("web"));
        assert_eq!(get(event, "event.release.version.short"), s("1.2.3"));
        assert_eq!(get(event, "event.release.build"), s("abc"));
    }

    #[test]
    fn measurements_extra_and_contexts() {
        let event = r#"{"measurements":{"lcp":{"value":12.5}},"extra":{"a":{"b":"c"}},"contexts":{"device":{"screen_dpi":560}}}"#;
        assert_eq!(get(event, "event.measurements.lcp.value"), Some(Val::F64(12.5)));
        assert_eq!(get(event, "event.extra.a.b"), s("c"));
        assert_eq!(get(event, "event.contexts.device.screen_dpi"), Some(Val::I64(560)));
        assert_eq!(get(event, "event.contexts.device.unknown"), None);
    }
}
