//! The engine's project store: compiled configs by public key (with project and organisation
//! ids, so a trace root in another organisation counts as unknown), replaced atomically, and
//! the envelope fast path that decides from raw bytes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;

use crate::compiled::CompiledConfig;
use crate::config::{ConfigError, ParseOptions};
use crate::decision::{decide, is_trace_fully_sampled, DecisionInput, ItemType, Outcome, RootConfig, Scratch};
use crate::dsc::{parse_project_key, Dsc};
use crate::envelope::{Envelope, EnvelopeError, Item};
use crate::event::{EventView, SlotMask};
use crate::plan::{fate_of, item_type_code, tag_edit, CountedRead, EnvelopePlan, Fate, FateInput, ItemPlan, ITEM_TYPE_NAMES};
use crate::reservoir::ReservoirCounters;

/// A project's sampling config as the store holds it.
#[derive(Debug, Clone)]
pub enum ConfigSlot {
    /// The project has no sampling config: its items are kept.
    None,
    /// The only config ever received was rejected: sampling is off for the project.
    Rejected(ConfigError),
    Compiled(Arc<CompiledConfig>),
}

#[derive(Debug)]
pub struct ProjectEntry {
    pub public_key: u128,
    pub project_id: u64,
    pub organization_id: u64,
    pub config: ConfigSlot,
    pub reservoir: Arc<ReservoirCounters>,
}

impl ProjectEntry {
    fn compiled(&self) -> Option<&CompiledConfig> {
        match &self.config {
            ConfigSlot::Compiled(c) => Some(c),
            _ => None,
        }
    }

    fn as_root(&self) -> RootConfig<'_> {
        match &self.config {
            ConfigSlot::None => RootConfig::Absent,
            ConfigSlot::Rejected(_) => RootConfig::Rejected,
            ConfigSlot::Compiled(c) => RootConfig::Present(c),
        }
    }
}

/// What an envelope holds, as far as sampling is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// No item that sampling applies to.
    Other = 0,
    Transaction = 1,
    Spans = 2,
    /// Error events only: never dropped, only tagged.
    Error = 3,
}

/// Why an item was kept without a full evaluation. Numeric codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepReason {
    None = 0,
    UnknownProject = 1,
    NoConfig = 2,
    InvalidEvent = 3,
}

/// Why a span v2 container was rejected before sampling (an outcome of its own, not a sampling
/// drop). Numeric codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanRejection {
    None = 0,
    /// The envelope has no (parsable) DSC.
    MissingDsc = 1,
    /// A span of the container belongs to another trace than the DSC's.
    InvalidDsc = 2,
}

/// The content type of span v2 containers.
pub const SPAN_V2_CONTENT_TYPE: &str = "application/vnd.sentry.items.span.v2+json";

/// The fast path's answer for one envelope.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvelopeDecision {
    pub kind: EnvelopeKind,
    pub outcome: Outcome,
    /// For error envelopes: whether the trace was fully sampled (`None`: no tag).
    pub trace_fully_sampled: Option<bool>,
    pub keep_reason: KeepReason,
    /// The envelope had a `trace` header that did not parse (it then counts as absent).
    pub invalid_dsc: bool,
    pub span_count: u32,
    /// The DSC's project key when the store does not hold that project (so the caller can
    /// fetch its config for the next envelopes of the trace).
    pub unknown_root_key: Option<u128>,
    /// When the envelope holds both a transaction and spans: the spans' own decision (`outcome`
    /// is then the transaction's).
    pub span_outcome: Option<Outcome>,
    /// Span v2 containers rejected before sampling.
    pub span_rejection: SpanRejection,
}

impl EnvelopeDecision {
    fn kept(kind: EnvelopeKind, keep_reason: KeepReason) -> Self {
        EnvelopeDecision {
            kind,
            outcome: Outcome::NO_MATCH,
            trace_fully_sampled: None,
            keep_reason,
            invalid_dsc: false,
            span_count: 0,
            unknown_root_key: None,
            span_outcome: None,
            span_rejection: SpanRejection::None,
        }
    }
}

#[derive(Debug, Default)]
struct Projects {
    by_key: FxHashMap<u128, Arc<ProjectEntry>>,
    /// Reservoir counts set from outside (a fleet's shared counts) by organisation and rule: they
    /// also seed the counters of projects installed later.
    reservoir_counts: FxHashMap<(u64, u32), i64>,
}

/// The set of project configs the engine samples with.
#[derive(Debug, Default)]
pub struct Store {
    projects: RwLock<Projects>,
    fixed_now: RwLock<Option<DateTime<Utc>>>,
    options: ParseOptions,
    /// Whether plans carry what the control plane counts (roots, releases): it reads payloads.
    counting: AtomicBool,
}

/// Invalid public key (not 32 hex digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidKey(pub String);

impl std::fmt::Display for InvalidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid project public key `{}`: expected 32 hex digits", self.0)
    }
}

impl std::error::Error for InvalidKey {}

pub fn parse_key(key: &str) -> Result<u128, InvalidKey> {
    parse_project_key(key).ok_or_else(|| InvalidKey(key.to_owned()))
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose configs are parsed with these options (reservoir rules are rejected unless
    /// `options.reservoir`).
    pub fn with_options(options: ParseOptions) -> Self {
        Store { options, ..Self::default() }
    }

    pub fn options(&self) -> ParseOptions {
        self.options
    }

    /// Pins the clock (tests, replays); `None` returns to the system clock.
    pub fn set_now(&self, now: Option<DateTime<Utc>>) {
        *self.fixed_now.write().unwrap_or_else(|e| e.into_inner()) = now;
    }

    /// Makes plans carry trace roots and releases (off by default: it reads the payloads).
    pub fn set_counting(&self, on: bool) {
        self.counting.store(on, Ordering::Relaxed);
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.fixed_now.read().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(Utc::now)
    }

    /// Installs or replaces a project's config. A config that fails to parse leaves the
    /// previous one in force and returns the error; with no previous one, the project is
    /// known but not sampled.
    pub fn put(&self, public_key: u128, project_id: u64, organization_id: u64, sampling_json: Option<&str>) -> Result<(), ConfigError> {
        self.put_with_tx_name_rules(public_key, project_id, organization_id, sampling_json, None)
    }

    /// `put` with the project's transaction-name rules (project config `txNameRules`, a JSON
    /// array; entries that cannot be read are left out, text that is not JSON means none).
    pub fn put_with_tx_name_rules(
        &self,
        public_key: u128,
        project_id: u64,
        organization_id: u64,
        sampling_json: Option<&str>,
        tx_name_rules_json: Option<&str>,
    ) -> Result<(), ConfigError> {
        // Compile outside the lock: it is the slow part.
        let rules = tx_name_rules_json.and_then(|t| crate::normalize::TxNameRules::parse_str(t).ok());
        let compiled = sampling_json
            .map(|text| {
                CompiledConfig::parse_str_with(text, self.options)
                    .map(|c| c.with_tx_name_rules(Arc::new(rules.clone().unwrap_or_default())))
            })
            .transpose();
        let mut projects = self.projects.write().unwrap_or_else(|e| e.into_inner());
        let previous = projects.by_key.get(&public_key).cloned();
        let reservoir = previous.as_ref().map_or_else(
            || {
                let seeded = projects.reservoir_counts.iter().filter(|((org, _), _)| *org == organization_id);
                Arc::new(ReservoirCounters::from_counts(seeded.map(|((_, rule), count)| (*rule, *count))))
            },
            |p| p.reservoir.clone(),
        );
        let (config, result) = match compiled {
            Ok(Some(c)) => {
                reservoir.retain(&c.reservoir_rule_ids());
                (ConfigSlot::Compiled(Arc::new(c)), Ok(()))
            }
            Ok(None) => (ConfigSlot::None, Ok(())),
            Err(e) => match previous {
                Some(_) => return Err(e),
                None => (ConfigSlot::Rejected(e.clone()), Err(e)),
            },
        };
        let entry = ProjectEntry { public_key, project_id, organization_id, config, reservoir };
        projects.by_key.insert(public_key, Arc::new(entry));
        result
    }

    /// Sets the count of reservoir rule `rule_id` in every project of the organisation (and in
    /// projects installed later): how a fleet shares a rule's budget, e.g. through Redis. A count
    /// at the rule's limit marks it used up; the engine then decides as if it were not there.
    pub fn set_reservoir_count(&self, organization_id: u64, rule_id: u32, count: i64) {
        let mut projects = self.projects.write().unwrap_or_else(|e| e.into_inner());
        projects.reservoir_counts.insert((organization_id, rule_id), count);
        for entry in projects.by_key.values().filter(|p| p.organization_id == organization_id) {
            entry.reservoir.set(rule_id, count);
        }
    }

    pub fn remove(&self, public_key: u128) -> bool {
        self.projects.write().unwrap_or_else(|e| e.into_inner()).by_key.remove(&public_key).is_some()
    }

    pub fn get(&self, public_key: u128) -> Option<Arc<ProjectEntry>> {
        self.projects.read().unwrap_or_else(|e| e.into_inner()).by_key.get(&public_key).cloned()
    }

    pub fn len(&self) -> usize {
        self.projects.read().unwrap_or_else(|e| e.into_inner()).by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decides for an envelope sent to the project `own_key`, from its raw bytes, and writes its
    /// plan into `scratch.plan`. `own_key` 0 stands for no project (the envelope is planned and
    /// kept as from an unknown project).
    pub fn sample_envelope(
        &self,
        own_key: u128,
        bytes: &[u8],
        now: DateTime<Utc>,
        scratch: &mut Scratch,
    ) -> Result<EnvelopeDecision, EnvelopeError> {
        // Results never carry the ids of an earlier decision.
        scratch.matched_ids.clear();
        scratch.plan.clear();
        let envelope = Envelope::parse(bytes)?;
        let plan = &mut scratch.plan;
        plan.header_end = envelope.header_end() as u32;
        plan.event_id = envelope.event_id();
        plan.dsn = plan.push_string(envelope.dsn_value());
        plan.sent_at = plan.push_string(envelope.sent_at());
        let decision = self.decide_envelope(own_key, &envelope, now, scratch)?;
        finish_plan(&mut scratch.plan, bytes, &decision, envelope.trace(), self.counting.load(Ordering::Relaxed));
        Ok(decision)
    }

    fn decide_envelope(
        &self,
        own_key: u128,
        envelope: &Envelope<'_>,
        now: DateTime<Utc>,
        scratch: &mut Scratch,
    ) -> Result<EnvelopeDecision, EnvelopeError> {
        let trace = envelope.trace();
        // The DSC is read once, when first needed (a span v2 container, or a sampled item).
        let mut dsc_cell: Option<Option<Dsc<'_>>> = None;
        let mut transaction = None;
        let mut span_count = 0u32;
        let (mut legacy_spans, mut v2_spans) = (false, false);
        let mut span_rejection = SpanRejection::None;
        let mut has_error = false;
        for item in envelope.items() {
            let item = item?;
            let span = item.span;
            let code = item_type_code(&item.item_type);
            let (length_start, length_end) = span.length_value.map_or((0, 0), |(s, e)| (s as u32, e as u32));
            scratch.plan.items.push(ItemPlan {
                type_code: code,
                start: span.start as u32,
                header_end: span.header_end as u32,
                payload_start: span.payload_start as u32,
                payload_end: span.payload_end as u32,
                end: span.end as u32,
                quantity: match code {
                    2 | 3 => item.item_count.filter(|&n| n > 0).map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX)),
                    _ => 1,
                },
                fate: Fate::Forward,
                span_v2: is_span_v2(&item),
                length_start,
                length_end,
                tag: Default::default(),
            });
            match &*item.item_type {
                "transaction" if transaction.is_none() => transaction = Some(item.payload),
                "span" | "otel_span" => {
                    let count = item.item_count.filter(|&n| n > 0).unwrap_or(1);
                    span_count = span_count.saturating_add(u32::try_from(count).unwrap_or(u32::MAX));
                    if is_span_v2(&item) {
                        v2_spans = true;
                        // Span v2 containers are checked against the DSC before anything else.
                        if span_rejection == SpanRejection::None {
                            let dsc = dsc_cell.get_or_insert_with(|| trace.and_then(|t| Dsc::from_raw(t).ok()));
                            span_rejection = check_v2_container(item.payload, dsc.as_ref());
                        }
                    } else {
                        legacy_spans = true;
                    }
                }
                "event" => has_error = true,
                _ => {}
            }
        }
        let kind = if transaction.is_some() {
            EnvelopeKind::Transaction
        } else if span_count > 0 {
            EnvelopeKind::Spans
        } else if has_error {
            EnvelopeKind::Error
        } else {
            return Ok(EnvelopeDecision::kept(EnvelopeKind::Other, KeepReason::None));
        };

        let dsc = dsc_cell.unwrap_or_else(|| trace.and_then(|t| Dsc::from_raw(t).ok()));
        let invalid_dsc = trace.is_some() && dsc.is_none();

        let mut decision = EnvelopeDecision::kept(kind, KeepReason::None);
        decision.invalid_dsc = invalid_dsc;
        decision.span_count = span_count;
        decision.span_rejection = span_rejection;
        let span_item = match (v2_spans && decision.span_rejection == SpanRejection::None, legacy_spans) {
            (true, _) => Some(ItemType::Span),
            (false, true) => Some(ItemType::LegacySpan),
            (false, false) => None,
        };

        let projects = self.projects.read().unwrap_or_else(|e| e.into_inner());
        decision.unknown_root_key = dsc.as_ref().map(|d| d.public_key).filter(|k| !projects.by_key.contains_key(k));
        let Some(own) = projects.by_key.get(&own_key) else {
            decision.keep_reason = KeepReason::UnknownProject;
            return Ok(decision);
        };
        // A root project of another organisation counts as unknown.
        let root = dsc.as_ref().and_then(|d| projects.by_key.get(&d.public_key)).filter(|r| r.organization_id == own.organization_id);
        // What the control plane counts is attributed to the root project (Relay's sampling project).
        scratch.plan.counts.root_project = root.map(|r| r.project_id);

        // Error events are tagged whatever else shares their envelope.
        if has_error {
            decision.trace_fully_sampled =
                dsc.as_ref().and_then(|d| is_trace_fully_sampled(root.map_or(RootConfig::Unknown, |r| r.as_root()), d, now, scratch));
            scratch.matched_ids.clear();
        }
        if kind == EnvelopeKind::Error {
            return Ok(decision);
        }
        if own.compiled().is_none() && root.and_then(|r| r.compiled()).is_none() {
            decision.keep_reason = KeepReason::NoConfig;
            return Ok(decision);
        }
        let input = DecisionInput {
            item: ItemType::Transaction,
            own_config: own.compiled(),
            own_key,
            root_known: root.is_some(),
            root_config: root.and_then(|r| r.compiled()),
            dsc: dsc.as_ref(),
            event: None,
            event_id: None,
            now,
            reservoir: None,
        };
        let Some(transaction) = transaction else {
            // Spans only: one decision for every span of the envelope.
            if let Some(item) = span_item {
                decision.outcome = decide(&DecisionInput { item, ..input }, scratch, false);
            }
            return Ok(decision);
        };
        // Spans next to a transaction get their own decision; the transaction's is decided last
        // so that the matched ids of the result are the transaction's.
        if let Some(item) = span_item {
            decision.span_outcome = Some(decide(&DecisionInput { item, ..input }, scratch, false));
        }
        // Read only the event fields the rules need: the payload's `event_id` only when the header
        // has none (the seed), a few more for a DSC rebuilt from the event (no usable DSC); when
        // nothing is needed the payload is not scanned at all.
        let header_event_id = envelope.event_id();
        let mut wanted = own.compiled().map_or(SlotMask::default(), |c| c.event_slots());
        if header_event_id.is_none() {
            wanted = wanted.union(SlotMask::EVENT_ID);
        }
        if dsc.is_none() || root.is_none() {
            wanted = wanted.union(SlotMask::DSC_SOURCE);
        }
        // When counting, the same pass reads what counting needs (one pass over the payload, not two).
        let parsed = if self.counting.load(Ordering::Relaxed) {
            EventView::parse_slots_counting(transaction, wanted).map(|(view, counted)| {
                scratch.plan.counted_transaction = Some(CountedRead::of(transaction, counted));
                view
            })
        } else if wanted == SlotMask::default() {
            Ok(EventView::unread())
        } else {
            EventView::parse_slots(transaction, wanted)
        };
        let event = match parsed {
            Ok(view) => view,
            Err(_) => {
                decision.keep_reason = KeepReason::InvalidEvent;
                scratch.matched_ids.clear();
                return Ok(decision);
            }
        };
        // The transaction stage is seeded by the envelope header's event id (Relay writes it
        // into the event), else the payload's, else a fresh random id as Relay gives an
        // envelope without one.
        let event_id = header_event_id.or_else(|| event.event_id()).unwrap_or_else(crate::random::fresh_id);
        let input = DecisionInput {
            event: Some(&event),
            event_id: Some(event_id),
            reservoir: self.options.reservoir.then_some(&*own.reservoir as &dyn crate::reservoir::Reservoir),
            ..input
        };
        decision.outcome = decide(&input, scratch, false);
        Ok(decision)
    }
}

/// The fates, tags and counts of the plan, once the decision is known.
fn finish_plan(plan: &mut EnvelopePlan, bytes: &[u8], decision: &EnvelopeDecision, dsc: Option<crate::json::RawValue<'_>>, counting: bool) {
    let name = |item: &ItemPlan| ITEM_TYPE_NAMES[item.type_code as usize];
    let with_error = plan.items.iter().any(|item| item.type_code != 0 && crate::plan::error_type(name(item)));
    let input = FateInput {
        transaction: decision.kind == EnvelopeKind::Transaction,
        spans: decision.kind == EnvelopeKind::Spans,
        dropped: decision.outcome.decision == crate::evaluation::Decision::Drop,
        spans_dropped: decision.span_outcome.is_some_and(|o| o.decision == crate::evaluation::Decision::Drop),
        rejection: match decision.span_rejection {
            SpanRejection::None => Fate::Forward,
            SpanRejection::MissingDsc => Fate::MissingDsc,
            SpanRejection::InvalidDsc => Fate::InvalidDsc,
        },
    };
    let tagging = decision.trace_fully_sampled.is_some();
    for item in plan.items.iter_mut() {
        if item.type_code == 0 {
            continue;
        }
        item.fate = fate_of(name(item), item.span_v2, with_error, &input);
        if tagging && item.type_code == 4 && item.fate == Fate::Forward {
            item.tag = tag_edit(bytes, item.payload_start as usize, item.payload_end as usize);
        }
    }
    if !counting || !(input.transaction || input.spans) {
        return;
    }
    // What Relay counts (`count_per_root_project`): each transaction with the transaction's
    // decision, each segment span with the spans' (their own next to a transaction). A second
    // `transaction` item makes Relay reject the envelope (`duplicate_item`): none is counted.
    let dropped = |o: &Outcome| o.decision == crate::evaluation::Decision::Drop;
    let kept = !dropped(&decision.outcome);
    let spans_kept = decision.span_outcome.as_ref().map_or(kept, |o| !dropped(o));
    let single_transaction = plan.items.iter().filter(|item| item.type_code == 1).count() == 1;
    // A `trace` header that is not a DSC counts as absent, as for the decision.
    let dsc = if decision.invalid_dsc { None } else { dsc };
    for i in 0..plan.items.len() {
        let item = plan.items[i];
        let payload = &bytes[item.payload_start as usize..item.payload_end as usize];
        if item.type_code == 1 && single_transaction {
            plan.count_transaction_item(payload, dsc, kept);
        } else if item.type_code == 2 && matches!(item.fate, Fate::Forward | Fate::Sampled) {
            plan.count_spans(payload, dsc, spans_kept);
        }
    }
    plan.finish_counts(dsc);
}

fn is_span_v2(item: &Item<'_>) -> bool {
    item.content_type.as_deref() == Some(SPAN_V2_CONTENT_TYPE)
}

/// Relay's check of a span v2 container: a DSC is required, and every span must belong to its
/// trace. A container or span that cannot be read here is left to later validation. Reads only
/// the `items` list and each span's `trace_id` (values are skipped, not parsed).
fn check_v2_container(payload: &[u8], dsc: Option<&Dsc<'_>>) -> SpanRejection {
    let Some(dsc) = dsc else { return SpanRejection::MissingDsc };
    if every_trace_id_is(payload, dsc.trace_id) {
        return SpanRejection::None;
    }
    let mut items = None;
    let _ = crate::json::for_each_entry_until(payload, |key, value| {
        if key.eq_str("items") {
            items = Some(value);
            return false;
        }
        true
    });
    let Some(items) = items else { return SpanRejection::None };
    for span in items.elements() {
        let mut other = false;
        let _ = crate::json::for_each_entry_until(span.bytes(), |key, value| {
            if key.eq_str("trace_id") {
                other = value.as_str().and_then(|t| crate::value::parse_uuid(&t)).is_some_and(|id| id != dsc.trace_id);
                return false;
            }
            true
        });
        if other {
            return SpanRejection::InvalidDsc;
        }
    }
    SpanRejection::None
}

/// A fast sufficient check: every `"trace_id": "<32 hex>"` written anywhere in the container holds
/// `trace_id` (then so do the spans' own). False when unsure (escapes, another spelling, another
/// id anywhere): the caller then reads the spans one by one.
fn every_trace_id_is(payload: &[u8], trace_id: u128) -> bool {
    const KEY: &[u8] = b"\"trace_id\"";
    if memchr::memchr(b'\\', payload).is_some() {
        return false;
    }
    let mut found = false;
    for at in memchr::memmem::find_iter(payload, KEY) {
        let mut i = crate::json::skip_ws(payload, at + KEY.len());
        if payload.get(i) != Some(&b':') {
            return false;
        }
        i = crate::json::skip_ws(payload, i + 1);
        let Some(value) = payload.get(i..i + 34) else { return false };
        if value[0] != b'"' || value[33] != b'"' {
            return false;
        }
        let Some(id) = std::str::from_utf8(&value[1..33]).ok().and_then(|h| u128::from_str_radix(h, 16).ok()) else {
            return false;
        };
        if id != trace_id {
            return false;
        }
        found = true;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "67e5504410b1426f9247bb680e5fe0c8";
    const O: &str = "89143b0763095bd9c9955e8175d1fb23";

    fn check(payload: &str) -> SpanRejection {
        let dsc_json = format!(r#"{{"trace_id":"{T}","public_key":"abd0f232775f45feab79864e580d160b"}}"#);
        let dsc = Dsc::parse(dsc_json.as_bytes()).unwrap();
        check_v2_container(payload.as_bytes(), Some(&dsc))
    }

    #[test]
    fn span_v2_containers_are_checked_against_the_dsc() {
        assert_eq!(check(&format!(r#"{{"items":[{{"trace_id":"{T}"}},{{"trace_id": "{}"}}]}}"#, T.to_uppercase())), SpanRejection::None);
        assert_eq!(check(&format!(r#"{{"items":[{{"trace_id":"{T}"}},{{"name":"x","trace_id":"{O}"}}]}}"#)), SpanRejection::InvalidDsc);
        // Another id elsewhere (an attribute) is not a span's trace id.
        let nested = format!(r#"{{"items":[{{"attributes":{{"x":{{"trace_id":"{O}"}}}},"trace_id":"{T}"}}]}}"#);
        assert_eq!(check(&nested), SpanRejection::None);
        // Escapes take the structural path.
        let escaped = format!(r#"{{"items":[{{"name":"a\"b","trace_id":"{O}"}}]}}"#);
        assert_eq!(check(&escaped), SpanRejection::InvalidDsc);
        assert_eq!(check(r#"{"items":[{"name":"no id"}]}"#), SpanRejection::None);
        assert_eq!(check_v2_container(b"{}", None), SpanRejection::MissingDsc);
    }

    #[test]
    fn the_plan_locates_items_and_header_fields() {
        let store = Store::new();
        let key = 0xabd0f232775f45feab79864e580d160b_u128;
        store.put(key, 1, 1, Some(r#"{"version":2,"rules":[{"id":1,"type":"trace","condition":{"op":"and","inner":[]},"samplingValue":{"type":"sampleRate","value":0.0}}]}"#)).unwrap();
        store.set_counting(true);
        let header = format!(
            r#"{{"event_id":"9ec79c33-ec99-42ab-8353-589fcb2e04dc","dsn":"https:\/\/abd0f232775f45feab79864e580d160b@o.example\/1","sent_at":"2024-01-01T00:00:00Z","trace":{{"trace_id":"{T}","public_key":"abd0f232775f45feab79864e580d160b","transaction":"/dsc","sampled":true}}}}"#
        );
        let tx = format!(r#"{{"type":"transaction","transaction":"/own","release":"r@1","contexts":{{"trace":{{"trace_id":"{T}"}}}}}}"#);
        let body = format!("{header}\n{{\"type\":\"transaction\",\"length\":{}}}\n{tx}\n{{\"type\":\"profile\"}}\n{{}}\n\n{{\"type\":\"event\"}}\n{{\"a\":1}}", tx.len());
        let mut scratch = Scratch::new();
        let d = store.sample_envelope(key, body.as_bytes(), store.now(), &mut scratch).unwrap();
        assert_eq!(d.outcome.decision, crate::evaluation::Decision::Drop);
        let plan = &scratch.plan;
        assert_eq!(plan.header_end as usize, header.len());
        assert_eq!(plan.event_id, Some(0x9ec79c33ec9942ab8353589fcb2e04dc));
        assert_eq!(plan.text_of(plan.dsn), Some("https://abd0f232775f45feab79864e580d160b@o.example/1"));
        assert_eq!(plan.text_of(plan.sent_at), Some("2024-01-01T00:00:00Z"));
        let at = |i: usize| &body[plan.items[i].payload_start as usize..plan.items[i].payload_end as usize];
        assert_eq!(plan.items.len(), 3);
        assert_eq!((at(0), at(1), at(2)), (tx.as_str(), "{}", r#"{"a":1}"#));
        let fates: Vec<_> = plan.items.iter().map(|i| i.fate).collect();
        assert_eq!(fates, [Fate::Sampled, Fate::Forward, Fate::Forward]);
        let length = plan.items[0];
        assert_eq!(&body[length.length_start as usize..length.length_end as usize], tx.len().to_string());
        assert_eq!(plan.items[1].end as usize, body.find("\n\n{\"type\":\"event").unwrap() + 1);
        assert_eq!(plan.items[2].end as usize, body.len());
        // The error event gets the tag (its trace was dropped); the root is counted with the DSC's name.
        assert_eq!(d.trace_fully_sampled, Some(false));
        assert_eq!(plan.items[2].tag.shape, crate::plan::TagShape::InsertContexts);
        assert_eq!((plan.counts.transactions, plan.counts.segments), (1, 0));
        assert_eq!(plan.text_of(plan.counts.transaction_name), Some("/dsc"));
        assert!(plan.releases.is_empty(), "a dropped transaction's release is not seen");
    }

    #[test]
    fn the_event_payload_is_read_only_when_a_rule_or_the_seed_needs_it() {
        let key = 0xabd0f232775f45feab79864e580d160b_u128;
        let dsc = format!(r#"{{"trace_id":"{T}","public_key":"abd0f232775f45feab79864e580d160b"}}"#);
        // An unreadable payload shows whether it was read: an event read fails as `InvalidEvent`.
        let envelope = |event_id: bool| {
            let id = if event_id { r#""event_id":"9ec79c33ec9942ab8353589fcb2e04dc","# } else { "" };
            format!("{{{id}\"trace\":{dsc}}}\n{{\"type\":\"transaction\"}}\n{{\"transaction\": nope}}\n")
        };
        let trace_only = r#"{"version":2,"rules":[{"id":1,"type":"trace","condition":{"op":"and","inner":[]},"samplingValue":{"type":"sampleRate","value":1.0}}]}"#;
        let reads_event = r#"{"version":2,"rules":[{"id":2,"type":"transaction","condition":{"op":"eq","name":"event.transaction","value":["/a"]},"samplingValue":{"type":"sampleRate","value":1.0}},{"id":1,"type":"trace","condition":{"op":"and","inner":[]},"samplingValue":{"type":"sampleRate","value":1.0}}]}"#;
        let reason = |config: &str, event_id: bool| {
            let store = Store::new();
            store.put(key, 1, 1, Some(config)).unwrap();
            let mut scratch = Scratch::new();
            store.sample_envelope(key, envelope(event_id).as_bytes(), store.now(), &mut scratch).unwrap().keep_reason
        };
        // Trace rules only and the seed in the header: the payload is never scanned.
        assert_eq!(reason(trace_only, true), KeepReason::None);
        // The seed must come from the payload, or a transaction rule reads the event: it is.
        assert_eq!(reason(trace_only, false), KeepReason::InvalidEvent);
        assert_eq!(reason(reads_event, true), KeepReason::InvalidEvent);
    }
}
