//! The engine's project store: compiled configs by public key (with project and organisation
//! ids, so a trace root in another organisation counts as unknown), replaced atomically, and
//! the envelope fast path that decides from raw bytes.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;

use crate::compiled::CompiledConfig;
use crate::config::ConfigError;
use crate::decision::{decide, is_trace_fully_sampled, DecisionInput, ItemType, Outcome, RootConfig, Scratch};
use crate::dsc::{parse_project_key, Dsc};
use crate::envelope::{Envelope, EnvelopeError};
use crate::event::{EventView, SlotMask};
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
        }
    }
}

#[derive(Debug, Default)]
struct Projects {
    by_key: FxHashMap<u128, Arc<ProjectEntry>>,
}

/// The set of project configs the engine samples with.
#[derive(Debug, Default)]
pub struct Store {
    projects: RwLock<Projects>,
    fixed_now: RwLock<Option<DateTime<Utc>>>,
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

    /// Pins the clock (tests, replays); `None` returns to the system clock.
    pub fn set_now(&self, now: Option<DateTime<Utc>>) {
        *self.fixed_now.write().unwrap_or_else(|e| e.into_inner()) = now;
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.fixed_now.read().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(Utc::now)
    }

    /// Installs or replaces a project's config. A config that fails to parse leaves the
    /// previous one in force and returns the error; with no previous one, the project is
    /// known but not sampled.
    pub fn put(
        &self,
        public_key: u128,
        project_id: u64,
        organization_id: u64,
        sampling_json: Option<&str>,
    ) -> Result<(), ConfigError> {
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
                CompiledConfig::parse_str(text)
                    .map(|c| c.with_tx_name_rules(Arc::new(rules.clone().unwrap_or_default())))
            })
            .transpose();
        let mut projects = self.projects.write().unwrap_or_else(|e| e.into_inner());
        let previous = projects.by_key.get(&public_key).cloned();
        let reservoir = previous.as_ref().map_or_else(|| Arc::new(ReservoirCounters::new()), |p| p.reservoir.clone());
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

    /// Decides for an envelope sent to the project `own_key`, from its raw bytes.
    pub fn sample_envelope(
        &self,
        own_key: u128,
        bytes: &[u8],
        now: DateTime<Utc>,
        scratch: &mut Scratch,
    ) -> Result<EnvelopeDecision, EnvelopeError> {
        // Results never carry the ids of an earlier decision.
        scratch.matched_ids.clear();
        let envelope = Envelope::parse(bytes)?;
        let mut transaction = None;
        let mut span_count = 0u32;
        let mut has_error = false;
        for item in envelope.items() {
            let item = item?;
            match &*item.item_type {
                "transaction" if transaction.is_none() => transaction = Some(item.payload),
                "span" | "otel_span" => {
                    let count = item.item_count.filter(|&n| n > 0).unwrap_or(1);
                    span_count = span_count.saturating_add(u32::try_from(count).unwrap_or(u32::MAX));
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

        let trace = envelope.trace();
        let dsc = trace.and_then(|t| Dsc::from_raw(t).ok());
        let invalid_dsc = trace.is_some() && dsc.is_none();

        let projects = self.projects.read().unwrap_or_else(|e| e.into_inner());
        let unknown_root_key = dsc.as_ref().map(|d| d.public_key).filter(|k| !projects.by_key.contains_key(k));
        let Some(own) = projects.by_key.get(&own_key) else {
            let mut d = EnvelopeDecision::kept(kind, KeepReason::UnknownProject);
            d.invalid_dsc = invalid_dsc;
            d.span_count = span_count;
            d.unknown_root_key = unknown_root_key;
            return Ok(d);
        };
        // A root project of another organisation counts as unknown.
        let root = dsc
            .as_ref()
            .and_then(|d| projects.by_key.get(&d.public_key))
            .filter(|r| r.organization_id == own.organization_id);

        let mut decision = EnvelopeDecision::kept(kind, KeepReason::None);
        decision.invalid_dsc = invalid_dsc;
        decision.span_count = span_count;
        decision.unknown_root_key = unknown_root_key;
        match kind {
            EnvelopeKind::Error => {
                decision.trace_fully_sampled = dsc.as_ref().and_then(|d| {
                    is_trace_fully_sampled(root.map_or(RootConfig::Unknown, |r| r.as_root()), d, now, scratch)
                });
            }
            EnvelopeKind::Transaction | EnvelopeKind::Spans => {
                // Read only the event fields the rules need; a DSC rebuilt from the event
                // (no usable DSC) needs a few more.
                let mut wanted = own.compiled().map_or(SlotMask::EVENT_ID, |c| c.event_slots());
                if dsc.is_none() || root.is_none() {
                    wanted = wanted.union(SlotMask::DSC_SOURCE);
                }
                let event = match transaction.map(|t| EventView::parse_slots(t, wanted)) {
                    Some(Ok(view)) => Some(view),
                    Some(Err(_)) => {
                        decision.keep_reason = KeepReason::InvalidEvent;
                        return Ok(decision);
                    }
                    None => None,
                };
                if own.compiled().is_none() && root.and_then(|r| r.compiled()).is_none() {
                    decision.keep_reason = KeepReason::NoConfig;
                    return Ok(decision);
                }
                let input = DecisionInput {
                    item: if kind == EnvelopeKind::Transaction { ItemType::Transaction } else { ItemType::Span },
                    own_config: own.compiled(),
                    own_key,
                    root_known: root.is_some(),
                    root_config: root.and_then(|r| r.compiled()),
                    dsc: dsc.as_ref(),
                    event: event.as_ref(),
                    now,
                    reservoir: Some(&*own.reservoir),
                };
                decision.outcome = decide(&input, scratch, false);
            }
            EnvelopeKind::Other => {}
        }
        Ok(decision)
    }
}
