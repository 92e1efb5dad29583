//! Normalization before matching: what Relay changes in an event and in the DSC before any
//! sampling rule runs, reproduced for the fields conditions can read.
//!
//! - `event.transaction` / `event.transaction.source`: URL-like names are scrubbed of
//!   identifiers and rewritten by the project's `txNameRules` (`transaction_name`, `scrub`,
//!   `tx_name_rules`).
//! - `trace.transaction`: the DSC's name is parametrized the same way with the *root* project's
//!   rules when it holds a `/` (or, for a DSC rebuilt from the event, is the normalized name).
//! - `event.contexts.{browser,device,os}.*`: derived from the request's user agent when the
//!   event lacks the context (`user_agent`; `os` only for `platform: javascript`, other
//!   platforms get `client_os`, which rules cannot read).
//! - `event.contexts.os.{name,version,build,kernel_version}`: parsed from an OS context's
//!   `raw_description` when it has neither name nor version (`os_context`).
//! - `event.contexts.trace.{status,op}`: defaults (`trace_context`).
//!
//! The work is lazy at two levels: a config records which normalizable fields its rules read
//! (`Needs`, computed when it is compiled), and only those are computed per item, into reused
//! buffers. A config that reads none of them costs nothing per item.

pub mod os_context;
pub mod report;
pub mod scrub;
pub mod trace_context;
pub mod transaction_name;
pub mod tx_name_rules;
pub mod user_agent;

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::condition::Condition;
use crate::config::{RuleType, SamplingRule};
use crate::dsc::{Dsc, DscField};
use crate::event::{EventField, EventView};
use crate::value::{FieldKey, FieldPath, Getter, Val};
use transaction_name::{NameBuffers, NameOutcome};
pub use tx_name_rules::TxNameRules;
use user_agent::UaHeaders;

/// The normalizable fields a config's rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs(u8);

impl Needs {
    pub const NONE: Needs = Needs(0);
    /// `event.transaction`, `event.transaction.source`.
    pub const EVENT_NAME: Needs = Needs(1);
    pub const BROWSER: Needs = Needs(2);
    pub const DEVICE: Needs = Needs(4);
    pub const OS: Needs = Needs(8);
    /// `event.contexts.trace.status` / `.op`.
    pub const TRACE: Needs = Needs(16);
    /// `trace.transaction`.
    pub const DSC_NAME: Needs = Needs(32);

    pub fn union(self, other: Needs) -> Needs {
        Needs(self.0 | other.0)
    }

    pub fn contains(self, other: Needs) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    pub fn any_event(self) -> bool {
        self.0 & 0b1_1111 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// What reading `field` needs.
    pub fn of_field(field: &FieldPath) -> Needs {
        match &field.key {
            FieldKey::Event(EventField::Transaction | EventField::TransactionSource) => Needs::EVENT_NAME,
            FieldKey::Event(EventField::Context(ctx, name)) => match (*ctx, *name) {
                ("browser", _) => Needs::BROWSER,
                ("device", "family" | "model" | "brand") => Needs::DEVICE,
                ("os", "name" | "version" | "build" | "kernel_version") => Needs::OS,
                ("trace", "status" | "op") => Needs::TRACE,
                _ => Needs::NONE,
            },
            FieldKey::Dsc(DscField::Transaction) => Needs::DSC_NAME,
            _ => Needs::NONE,
        }
    }

    /// What a condition reads (every variant is listed so that a new one must be handled here).
    pub fn of_condition(condition: &Condition) -> Needs {
        match condition {
            Condition::Eq(eq) => Needs::of_field(&eq.field),
            Condition::Glob { field, .. } | Condition::Cmp { field, .. } | Condition::Cidr { field, .. } => Needs::of_field(field),
            Condition::And(list) | Condition::Or(list) => list.iter().fold(Needs::NONE, |n, c| n.union(Needs::of_condition(c))),
            Condition::Not(inner) => Needs::of_condition(inner),
            Condition::Any { field, inner } | Condition::All { field, inner } => Needs::of_field(field).union(Needs::of_condition(inner)),
            Condition::Unsupported => Needs::NONE,
        }
    }

    /// What a config's rules read: event fields in its transaction rules, the DSC's name in its
    /// project and trace rules (other combinations never see those instances).
    pub fn of_rules(rules: &[SamplingRule]) -> Needs {
        rules.iter().fold(Needs::NONE, |n, rule| {
            let read = Needs::of_condition(&rule.condition);
            let relevant = match rule.rule_type {
                RuleType::Transaction => Needs(read.0 & 0b1_1111),
                _ => Needs(read.0 & Needs::DSC_NAME.0),
            };
            n.union(relevant)
        })
    }
}

/// A derived context, or the event's own (when it has one, nothing is derived).
#[derive(Debug, Clone, Default, PartialEq)]
enum Derived<T> {
    /// Not computed, or the event has the context: read the event.
    #[default]
    FromEvent,
    Derived(Option<T>),
}

/// The normalized values of one event, computed for what the rules read.
#[derive(Debug, Default)]
struct EventValues {
    name: Option<NameOutcome>,
    source: Option<&'static str>,
    browser: Derived<std::sync::Arc<user_agent::Browser>>,
    device: Derived<std::sync::Arc<user_agent::Device>>,
    os: Derived<std::sync::Arc<user_agent::Os>>,
    /// Parsed from the event's own OS context's `raw_description`.
    os_parsed: Option<os_context::ParsedOs>,
    trace_status: Option<&'static str>,
    trace_op_default: bool,
}

/// Buffers reused across decisions (kept in `decision::Scratch`).
#[derive(Debug, Default)]
pub struct NormalizeScratch {
    event: EventValues,
    event_name: String,
    dsc_name: String,
    /// Whether `dsc_name` replaces the DSC's transaction.
    dsc_replaced: bool,
    buffers: NameBuffers,
}

fn ua_headers<'a>(view: &EventView<'a>) -> UaHeaders<'a> {
    let mut headers = UaHeaders::default();
    let Some(list) = view.raw_field("request").and_then(|r| r.get("headers")) else { return headers };
    if list.is_object() {
        for (key, value) in list.entries() {
            if let Some(key) = key.decode() {
                headers.set(&key, value.as_str());
            }
        }
    } else {
        for pair in list.elements() {
            let mut it = pair.elements();
            if let (Some(name), Some(value)) = (it.next(), it.next()) {
                if let Some(name) = name.as_str() {
                    headers.set(&name, value.as_str());
                }
            }
        }
    }
    headers
}

impl NormalizeScratch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Computes the event values `needs` asks for.
    pub fn prepare_event(&mut self, view: &EventView<'_>, needs: Needs, rules: &TxNameRules, now: DateTime<Utc>) {
        self.event = EventValues::default();
        if !needs.any_event() {
            return;
        }
        if needs.contains(Needs::EVENT_NAME) {
            self.prepare_event_name(view, rules, now);
        }
        let contexts = view.raw_field("contexts").filter(|c| c.is_object());
        let has = |name: &str| contexts.and_then(|c| c.get(name)).is_some_and(|c| !c.is_null());
        let wants_ua = [Needs::BROWSER, Needs::DEVICE, Needs::OS].iter().any(|&n| needs.contains(n));
        if wants_ua {
            let headers = ua_headers(view);
            let javascript = view.raw_field("platform").and_then(|p| p.as_str()).is_some_and(|p| p == "javascript");
            if needs.contains(Needs::BROWSER) && !has("browser") {
                self.event.browser = Derived::Derived(user_agent::browser(&headers));
            }
            if needs.contains(Needs::DEVICE) && !has("device") {
                self.event.device = Derived::Derived(user_agent::device(&headers));
            }
            if needs.contains(Needs::OS) && javascript && !has("os") {
                self.event.os = Derived::Derived(user_agent::os(&headers));
            }
        }
        if needs.contains(Needs::OS) {
            // An OS context with neither name nor version: parsed from its raw description.
            let os = contexts.and_then(|c| c.get("os")).filter(|o| o.is_object());
            let present = |field: &str| os.and_then(|o| o.get(field)).is_some_and(|v| !v.is_null());
            if let Some(description) =
                os.filter(|_| !present("name") && !present("version")).and_then(|o| o.get("raw_description")?.as_str())
            {
                self.event.os_parsed = Some(os_context::parse(&description, present("build")));
            }
        }
        if needs.contains(Needs::TRACE) {
            let trace = contexts.and_then(|c| c.get("trace"));
            self.event.trace_status = Some(trace_context::status(trace.and_then(|t| t.get("status")).filter(|s| !s.is_null())));
            let op_is_string = trace.and_then(|t| t.get("op")).is_some_and(|op| op.as_str().is_some());
            self.event.trace_op_default = view.is_transaction() && !op_is_string;
        }
    }

    fn prepare_event_name(&mut self, view: &EventView<'_>, rules: &TxNameRules, now: DateTime<Utc>) {
        if self.event.name.is_some() {
            return;
        }
        let (outcome, source) = transaction_name::normalize_event_name(view, rules, now, &mut self.event_name, &mut self.buffers);
        self.event.name = Some(outcome);
        self.event.source = source;
    }

    /// Sets up the DSC's normalized name: parametrized with the root project's `rules`, or, for
    /// a DSC rebuilt from the event (`from_event`), the event's normalized name.
    pub fn prepare_dsc(
        &mut self,
        dsc: Option<&Dsc<'_>>,
        needed: bool,
        from_event: Option<&EventView<'_>>,
        rules: &TxNameRules,
        now: DateTime<Utc>,
    ) {
        self.dsc_replaced = false;
        let Some(dsc) = dsc.filter(|_| needed) else { return };
        match from_event {
            Some(view) => {
                self.prepare_event_name(view, rules, now);
                if self.event.name == Some(NameOutcome::Replaced) {
                    self.dsc_name.clear();
                    self.dsc_name.push_str(&self.event_name);
                    self.dsc_replaced = true;
                }
            }
            None => {
                if let Some(name) = dsc.transaction.as_deref() {
                    self.dsc_name.clear();
                    self.dsc_replaced = transaction_name::parametrize_dsc_name(name, rules, now, &mut self.dsc_name, &mut self.buffers);
                }
            }
        }
    }

    /// The event as rules see it after `prepare_event`.
    pub fn event<'s>(&'s self, view: &'s EventView<'s>) -> NormalizedEvent<'s> {
        NormalizedEvent { view, values: &self.event, name: &self.event_name }
    }

    /// The DSC as rules see it after `prepare_dsc`.
    pub fn dsc<'s>(&'s self, dsc: &'s Dsc<'s>) -> NormalizedDsc<'s> {
        NormalizedDsc { dsc, transaction: self.dsc_replaced.then_some(self.dsc_name.as_str()) }
    }
}

/// An event with its normalized values in front.
pub struct NormalizedEvent<'s> {
    view: &'s EventView<'s>,
    values: &'s EventValues,
    name: &'s str,
}

fn text(s: &str) -> Option<Val<'_>> {
    Some(Val::Str(Cow::Borrowed(s)))
}

impl Getter for NormalizedEvent<'_> {
    fn get_value(&self, field: &FieldPath) -> Option<Val<'_>> {
        let v = self.values;
        if let FieldKey::Event(event_field) = &field.key {
            match event_field {
                EventField::Transaction if v.name == Some(NameOutcome::Replaced) => return text(self.name),
                EventField::TransactionSource if v.source.is_some() => return text(v.source?),
                EventField::Context(ctx, name) => match (*ctx, *name, &v.browser, &v.device, &v.os) {
                    ("browser", "name", Derived::Derived(b), _, _) => return text(&b.as_ref()?.name),
                    ("browser", "version", Derived::Derived(b), _, _) => return text(b.as_ref()?.version.as_deref()?),
                    ("browser", _, Derived::Derived(_), _, _) => return None,
                    ("device", "family", _, Derived::Derived(d), _) => return text(d.as_ref()?.family.as_deref()?),
                    ("device", "model", _, Derived::Derived(d), _) => return text(d.as_ref()?.model.as_deref()?),
                    ("device", "brand", _, Derived::Derived(d), _) => return text(d.as_ref()?.brand.as_deref()?),
                    ("os", "name", _, _, Derived::Derived(o)) => return text(&o.as_ref()?.name),
                    ("os", "version", _, _, Derived::Derived(o)) => return text(o.as_ref()?.version.as_deref()?),
                    ("os", field, ..) if v.os_parsed.is_some() => {
                        let parsed = v.os_parsed.as_ref()?;
                        let set = match field {
                            "name" => &parsed.name,
                            "version" => &parsed.version,
                            "build" => &parsed.build,
                            "kernel_version" => &parsed.kernel_version,
                            _ => &None,
                        };
                        if let Some(value) = set {
                            return text(value.as_deref()?);
                        }
                    }
                    ("trace", "status", ..) if v.trace_status.is_some() => return text(v.trace_status?),
                    ("trace", "op", ..) if v.trace_op_default => return text(trace_context::DEFAULT_OP),
                    _ => {}
                },
                _ => {}
            }
        }
        self.view.get_value(field)
    }
}

/// A DSC with its parametrized transaction name in front.
pub struct NormalizedDsc<'s> {
    dsc: &'s Dsc<'s>,
    transaction: Option<&'s str>,
}

impl Getter for NormalizedDsc<'_> {
    fn get_value(&self, field: &FieldPath) -> Option<Val<'_>> {
        match (&field.key, self.transaction) {
            (FieldKey::Dsc(DscField::Transaction), Some(name)) => text(name),
            _ => self.dsc.get_value(field),
        }
    }
}

/// The DSC-style parametrized form of a transaction name (identifiers scrubbed and `rules`
/// applied when it holds a `/`), or `None` when it stays as it is.
pub fn parametrize_name(name: &str, rules: &TxNameRules, now: DateTime<Utc>) -> Option<String> {
    let mut out = String::new();
    transaction_name::parametrize_dsc_name(name, rules, now, &mut out, &mut NameBuffers::default()).then_some(out)
}

/// Every field normalization can change, by rule path.
pub const NORMALIZED_EVENT_FIELDS: &[&str] = &[
    "event.transaction",
    "event.transaction.source",
    "event.contexts.browser.name",
    "event.contexts.browser.version",
    "event.contexts.device.family",
    "event.contexts.device.model",
    "event.contexts.device.brand",
    "event.contexts.os.name",
    "event.contexts.os.version",
    "event.contexts.os.build",
    "event.contexts.os.kernel_version",
    "event.contexts.trace.status",
    "event.contexts.trace.op",
];

/// The values rules read for every normalizable field of `event` (and `trace.transaction` of
/// `dsc` when given), after normalization with `rules` / `root_rules`: for tests and debugging.
pub fn normalized_fields(
    event: Option<&EventView<'_>>,
    dsc: Option<&Dsc<'_>>,
    rules: &TxNameRules,
    root_rules: &TxNameRules,
    now: DateTime<Utc>,
) -> Vec<(&'static str, Option<String>)> {
    let mut scratch = NormalizeScratch::new();
    let all = Needs(0b11_1111);
    let mut out = Vec::new();
    if let Some(view) = event {
        scratch.prepare_event(view, all, rules, now);
        let getter = scratch.event(view);
        for &path in NORMALIZED_EVENT_FIELDS {
            out.push((path, getter.get_value(&FieldPath::new(path)).map(val_text)));
        }
    }
    if let Some(dsc) = dsc {
        scratch.prepare_dsc(Some(dsc), true, None, root_rules, now);
        out.push(("trace.transaction", scratch.dsc(dsc).get_value(&FieldPath::new("trace.transaction")).map(val_text)));
    }
    out
}

fn val_text(v: Val<'_>) -> String {
    match v {
        Val::Str(s) => s.into_owned(),
        Val::Bool(b) => b.to_string(),
        Val::I64(n) => n.to_string(),
        Val::U64(n) => n.to_string(),
        Val::F64(n) => n.to_string(),
        Val::Hex(bytes) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Val::Ip(ip) => ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(event: &str, rules: &str) -> Vec<(&'static str, Option<String>)> {
        let view = EventView::parse(event.as_bytes()).unwrap();
        let rules = TxNameRules::parse_str(rules).unwrap();
        normalized_fields(Some(&view), None, &rules, &rules, "2024-01-01T00:00:00Z".parse().unwrap())
    }

    fn get<'a>(fields: &'a [(&'static str, Option<String>)], path: &str) -> Option<&'a str> {
        fields.iter().find(|(p, _)| *p == path).and_then(|(_, v)| v.as_deref())
    }

    #[test]
    fn url_names_are_scrubbed_and_sanitized() {
        let f = fields(
            r#"{"type":"transaction","transaction":"/users/1234/orders/98765","transaction_info":{"source":"url"},"contexts":{"trace":{}}}"#,
            "[]",
        );
        assert_eq!(get(&f, "event.transaction"), Some("/users/*/orders/*"));
        assert_eq!(get(&f, "event.transaction.source"), Some("sanitized"));
        assert_eq!(get(&f, "event.contexts.trace.status"), Some("unknown"));
        assert_eq!(get(&f, "event.contexts.trace.op"), Some("default"));
    }

    #[test]
    fn routes_and_missing_sources_stay() {
        let f = fields(r#"{"type":"transaction","transaction":"/users/1234","transaction_info":{"source":"route"}}"#, "[]");
        assert_eq!(get(&f, "event.transaction"), Some("/users/1234"));
        assert_eq!(get(&f, "event.transaction.source"), Some("route"));
        let f = fields(r#"{"type":"transaction","transaction":" /users/1234 "}"#, "[]");
        assert_eq!(get(&f, "event.transaction"), Some("/users/1234"));
        assert_eq!(get(&f, "event.transaction.source"), Some("unknown"));
        let f = fields(r#"{"type":"transaction","transaction":"/users/1234","sdk":{"name":"sentry.javascript.react"}}"#, "[]");
        assert_eq!(get(&f, "event.transaction"), Some("/users/*"));
        assert_eq!(get(&f, "event.transaction.source"), Some("sanitized"));
    }

    #[test]
    fn rules_apply_after_scrubbing() {
        let rules = r#"[{"pattern":"/orgs/*/**","expiry":"2099-01-01T00:00:00Z","redaction":{"method":"replace","substitution":"*"}}]"#;
        let f = fields(r#"{"type":"transaction","transaction":"/orgs/acme/items/12","transaction_info":{"source":"url"}}"#, rules);
        assert_eq!(get(&f, "event.transaction"), Some("/orgs/*/items/*"));
    }

    #[test]
    fn user_agent_contexts_fill_only_what_is_missing() {
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        let event = format!(
            r#"{{"type":"transaction","platform":"javascript","request":{{"headers":[["user-agent","{ua}"]]}},"contexts":{{"device":{{"family":"Mine"}}}}}}"#
        );
        let f = fields(&event, "[]");
        assert_eq!(get(&f, "event.contexts.browser.name"), Some("Firefox"));
        assert_eq!(get(&f, "event.contexts.browser.version"), Some("121.0"));
        assert_eq!(get(&f, "event.contexts.device.family"), Some("Mine"));
        assert_eq!(get(&f, "event.contexts.os.name"), Some("Windows"));
        assert_eq!(get(&f, "event.contexts.os.version"), Some(">=10"));
        let node = format!(r#"{{"type":"transaction","platform":"node","request":{{"headers":{{"User-Agent":"{ua}"}}}}}}"#);
        assert_eq!(get(&fields(&node, "[]"), "event.contexts.os.name"), None, "client_os, not os");
    }

    #[test]
    fn dsc_names_with_a_slash_are_parametrized() {
        let dsc = Dsc::parse(br#"{"trace_id":"67e5504410b1426f9247bb680e5fe0c8","public_key":"abd0f232775f45feab79864e580d160b","transaction":"/users/1234"}"#).unwrap();
        let f = normalized_fields(None, Some(&dsc), TxNameRules::empty(), TxNameRules::empty(), Utc::now());
        assert_eq!(f, vec![("trace.transaction", Some("/users/*".to_owned()))]);
    }

    #[test]
    fn needs_follow_the_stage() {
        let config = crate::config::SamplingConfig::parse_str(
            r#"{"version":2,"rules":[
                {"id":1,"type":"trace","condition":{"op":"glob","name":"trace.transaction","value":["/a/*"]},"samplingValue":{"type":"factor","value":2}},
                {"id":2,"type":"transaction","condition":{"op":"eq","name":"event.contexts.browser.name","value":["Chrome"]},"samplingValue":{"type":"factor","value":2}},
                {"id":3,"type":"trace","condition":{"op":"eq","name":"event.transaction","value":["x"]},"samplingValue":{"type":"factor","value":2}}]}"#,
        )
        .unwrap();
        let needs = Needs::of_rules(&config.rules);
        assert!(needs.contains(Needs::DSC_NAME) && needs.contains(Needs::BROWSER));
        assert!(!needs.contains(Needs::EVENT_NAME));
    }
}
