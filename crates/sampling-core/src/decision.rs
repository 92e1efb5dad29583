//! Sampling decisions per item type: which configs and stages apply (transaction → project →
//! trace for transactions, project → trace for spans), root versus own project, and the
//! error-tagging question "was this trace fully sampled".

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::compiled::CompiledConfig;
use crate::dsc::Dsc;
use crate::evaluation::{Decision, Evaluator, ExplainStep, Matched, Stage};
use crate::event::EventView;
use crate::normalize::{Needs, NormalizeScratch, TxNameRules};
use crate::random::random_value;
use crate::reservoir::Reservoir;
use crate::value::Getter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    Transaction,
    /// Span v2 containers (`application/vnd.sentry.items.span.v2+json`): the span sampler.
    Span,
    /// Legacy `span` and `otel_span` items: the transaction function with no event.
    LegacySpan,
}

/// Everything one decision looks at.
#[derive(Clone, Copy)]
pub struct DecisionInput<'a, 'e> {
    pub item: ItemType,
    /// The config of the project the item was sent to (`None` if absent or rejected).
    pub own_config: Option<&'a CompiledConfig>,
    /// The public key of that project (used when a DSC is rebuilt from the event).
    pub own_key: u128,
    /// Whether the DSC's project was resolved in the same organisation.
    pub root_known: bool,
    /// The trace root project's config (`None` if absent or rejected).
    pub root_config: Option<&'a CompiledConfig>,
    /// The envelope's DSC, if it parsed.
    pub dsc: Option<&'e Dsc<'e>>,
    pub event: Option<&'e EventView<'e>>,
    /// The seed of the transaction stage: the envelope header's `event_id`, else the payload's
    /// (`None`: the payload's, or the stage does not run when there is none).
    pub event_id: Option<u128>,
    pub now: DateTime<Utc>,
    pub reservoir: Option<&'a dyn Reservoir>,
}

/// Buffers reused between decisions so that steady-state evaluation does not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    pub matched_ids: Vec<u32>,
    candidates: Vec<u32>,
    pub explain: Vec<ExplainStep>,
    /// Normalized names and contexts (see `crate::normalize`).
    normalize: NormalizeScratch,
    /// The plan of the last envelope decided (see `crate::plan`).
    pub plan: crate::plan::EnvelopePlan,
}

impl Scratch {
    pub fn new() -> Self {
        Self::default()
    }
}

/// The result of one decision (matched ids are in `Scratch::matched_ids`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub decision: Decision,
    /// The applied rate; `None` when no rule terminated.
    pub sample_rate: Option<f64>,
    /// The seeded random value the rate was compared with.
    pub random_value: Option<f64>,
    pub stage: Option<Stage>,
    /// The reservoir rule that kept the item (its count went up by one), when one did.
    pub reservoir: Option<crate::evaluation::ReservoirHit>,
}

impl Outcome {
    pub const NO_MATCH: Outcome =
        Outcome { decision: Decision::NoMatch, sample_rate: None, random_value: None, stage: None, reservoir: None };

    fn from_match(m: Matched) -> Self {
        let random = random_value(m.seed);
        Outcome {
            decision: Decision::from_rate(m.sample_rate, random),
            sample_rate: Some(m.sample_rate),
            random_value: Some(random),
            stage: Some(m.stage),
            reservoir: m.reservoir,
        }
    }
}

/// Unsupported configs are treated as absent (Relay's production contract).
fn usable(config: Option<&CompiledConfig>) -> Option<&CompiledConfig> {
    config.filter(|c| !c.is_unsupported())
}

fn run_stage(
    evaluator: &mut Evaluator<'_>,
    candidates: &mut Vec<u32>,
    config: &CompiledConfig,
    stage: Stage,
    instance: &dyn Getter,
    seed: u128,
) -> Option<Matched> {
    let positions = config.stage(stage).candidates(instance, candidates);
    let rules = config.rules();
    evaluator.match_rules(stage, positions.iter().map(|&p| &rules[p as usize]), instance, seed)
}

/// A DSC made from a transaction's own fields, when the envelope's cannot be used.
fn dsc_from_event<'e>(event: &EventView<'e>, public_key: u128, sample_rate: Option<f64>) -> Option<Dsc<'e>> {
    if !event.is_transaction() {
        return None;
    }
    Some(Dsc {
        trace_id: event.trace_id()?,
        public_key,
        release: event.release(),
        environment: event.environment(),
        transaction: event.transaction(),
        sample_rate,
        sampled: None,
        user_id: event.user_id().unwrap_or(Cow::Borrowed("")),
        user_segment: event.user_segment().unwrap_or(Cow::Borrowed("")),
        replay_id: None,
    })
}

/// Decides whether to keep a transaction or the spans of an envelope.
pub fn decide(input: &DecisionInput<'_, '_>, scratch: &mut Scratch, explain: bool) -> Outcome {
    let Scratch { matched_ids, candidates, explain: steps, normalize, .. } = scratch;
    let mut evaluator = Evaluator::new(input.now, matched_ids);
    if explain {
        evaluator = evaluator.with_explain(steps);
    }
    let own = usable(input.own_config);
    let matched = match input.item {
        ItemType::Transaction => {
            evaluator = evaluator.with_reservoir(input.reservoir);
            decide_transaction(input, own, &mut evaluator, candidates, normalize)
        }
        ItemType::Span => decide_spans(input, own, &mut evaluator, candidates, normalize),
        ItemType::LegacySpan => decide_legacy_spans(input, own, &mut evaluator, candidates, normalize),
    };
    matched.map_or(Outcome::NO_MATCH, Outcome::from_match)
}

/// Whether the project stage (own config) or the trace stage (root config) reads the DSC's name.
fn dsc_name_needed(own: Option<&CompiledConfig>, root: Option<&CompiledConfig>) -> bool {
    [own, root].into_iter().flatten().any(|c| c.needs().contains(Needs::DSC_NAME))
}

fn rules_of(config: Option<&CompiledConfig>) -> &TxNameRules {
    config.map_or(TxNameRules::empty(), |c| c.tx_name_rules())
}

fn decide_transaction(
    input: &DecisionInput<'_, '_>,
    own: Option<&CompiledConfig>,
    evaluator: &mut Evaluator<'_>,
    candidates: &mut Vec<u32>,
    normalize: &mut NormalizeScratch,
) -> Option<Matched> {
    let rebuilt;
    let mut from_event = false;
    let (dsc, root) = match input.dsc {
        Some(dsc) if input.root_known => (Some(dsc), usable(input.root_config)),
        _ => {
            from_event = true;
            let sample_rate = input.dsc.and_then(|d| d.sample_rate);
            rebuilt = input.event.and_then(|e| dsc_from_event(e, input.own_key, sample_rate));
            // The event's own project becomes the root.
            (rebuilt.as_ref(), if rebuilt.is_some() { own } else { None })
        }
    };
    if !((own.is_some() && input.event.is_some()) || (root.is_some() && dsc.is_some())) {
        return None;
    }
    // Normalize what the rules read: the event with its own project's name rules; the DSC's
    // name with the root project's (a DSC rebuilt from the event takes the event's name).
    if let Some(event) = input.event {
        let needs = own.map_or(Needs::NONE, CompiledConfig::needs);
        normalize.prepare_event(event, needs, rules_of(input.own_config), input.now);
    }
    let (dsc_rules, dsc_event) = if from_event { (rules_of(input.own_config), input.event) } else { (rules_of(input.root_config), None) };
    normalize.prepare_dsc(dsc, dsc_name_needed(own, root), dsc_event, dsc_rules, input.now);
    let normalize = &*normalize;
    if let (Some(config), Some(event)) = (own, input.event) {
        if let Some(event_id) = input.event_id.or_else(|| event.event_id()) {
            let event = normalize.event(event);
            if let Some(m) = run_stage(evaluator, candidates, config, Stage::Transaction, &event, event_id) {
                return Some(m);
            }
        }
    }
    let dsc = dsc?;
    let normalized_dsc = normalize.dsc(dsc);
    let (dsc, trace_id) = (&normalized_dsc as &dyn Getter, dsc.trace_id);
    if let Some(config) = own {
        if let Some(m) = run_stage(evaluator, candidates, config, Stage::Project, dsc, trace_id) {
            return Some(m);
        }
    }
    run_stage(evaluator, candidates, root?, Stage::Trace, dsc, trace_id)
}

fn decide_spans(
    input: &DecisionInput<'_, '_>,
    own: Option<&CompiledConfig>,
    evaluator: &mut Evaluator<'_>,
    candidates: &mut Vec<u32>,
    normalize: &mut NormalizeScratch,
) -> Option<Matched> {
    let dsc = input.dsc?;
    let reduced;
    let (dsc, root) = if input.root_known {
        (dsc, usable(input.root_config))
    } else {
        // Only the trace id and rate of a foreign trace are trusted.
        reduced = dsc.reduced_to(input.own_key);
        (&reduced, own)
    };
    // A reduced DSC has no name; a known root's is parametrized with its rules.
    project_then_trace(input, dsc, own, root?, evaluator, candidates, normalize)
}

/// The project stage (own config) then the trace stage (root config) on the DSC, its name
/// parametrized with the root project's rules.
fn project_then_trace(
    input: &DecisionInput<'_, '_>,
    dsc: &Dsc<'_>,
    own: Option<&CompiledConfig>,
    root: &CompiledConfig,
    evaluator: &mut Evaluator<'_>,
    candidates: &mut Vec<u32>,
    normalize: &mut NormalizeScratch,
) -> Option<Matched> {
    normalize.prepare_dsc(Some(dsc), dsc_name_needed(own, Some(root)), None, rules_of(input.root_config), input.now);
    let normalized = normalize.dsc(dsc);
    if let Some(config) = own {
        if let Some(m) = run_stage(evaluator, candidates, config, Stage::Project, &normalized, dsc.trace_id) {
            return Some(m);
        }
    }
    run_stage(evaluator, candidates, root, Stage::Trace, &normalized, dsc.trace_id)
}

/// Legacy span items: Relay's transaction function with no event. The root config is the sampling
/// project's only (no fallback to the own project), so without a DSC or a usable root config
/// nothing matches. The DSC's name is parametrized with the root's rules, as for every item.
fn decide_legacy_spans(
    input: &DecisionInput<'_, '_>,
    own: Option<&CompiledConfig>,
    evaluator: &mut Evaluator<'_>,
    candidates: &mut Vec<u32>,
    normalize: &mut NormalizeScratch,
) -> Option<Matched> {
    let dsc = input.dsc?;
    let root = if input.root_known { usable(input.root_config) } else { None }?;
    project_then_trace(input, dsc, own, root, evaluator, candidates, normalize)
}

/// The root config as error tagging sees it: rejected and unsupported configs give no answer.
#[derive(Debug, Clone, Copy)]
pub enum RootConfig<'a> {
    Unknown,
    Absent,
    Rejected,
    Present(&'a CompiledConfig),
}

/// "Is this trace fully sampled?" for tagging errors: `None` means no tag.
pub fn is_trace_fully_sampled(root: RootConfig<'_>, dsc: &Dsc<'_>, now: DateTime<Utc>, scratch: &mut Scratch) -> Option<bool> {
    // Relay's order: the root project, then its config, then the `sampled` flag.
    let RootConfig::Present(config) = root else { return None };
    if config.is_unsupported() {
        return None;
    }
    if !dsc.sampled? {
        return Some(false);
    }
    scratch.normalize.prepare_dsc(Some(dsc), dsc_name_needed(None, Some(config)), None, config.tx_name_rules(), now);
    let normalized = scratch.normalize.dsc(dsc);
    let mut evaluator = Evaluator::new(now, &mut scratch.matched_ids);
    let outcome = run_stage(&mut evaluator, &mut scratch.candidates, config, Stage::Trace, &normalized, dsc.trace_id)
        .map_or(Outcome::NO_MATCH, Outcome::from_match);
    Some(outcome.decision != Decision::Drop)
}

/// The stages an item goes through and the rule ids each evaluates, whatever the configs'
/// support level (for explanations and the merge vectors).
pub fn evaluation_order(own: Option<&CompiledConfig>, root: Option<&CompiledConfig>, item: ItemType) -> Vec<(Stage, Vec<u32>)> {
    let ids = |config: Option<&CompiledConfig>, stage: Stage| -> Vec<u32> {
        config.map_or_else(Vec::new, |c| c.stage(stage).all_positions().into_iter().map(|p| c.rules()[p as usize].id).collect())
    };
    let mut order = Vec::new();
    if item == ItemType::Transaction {
        order.push((Stage::Transaction, ids(own, Stage::Transaction)));
    }
    // Transaction rules never apply to spans, legacy or not.
    order.push((Stage::Project, ids(own, Stage::Project)));
    order.push((Stage::Trace, ids(root, Stage::Trace)));
    order
}
