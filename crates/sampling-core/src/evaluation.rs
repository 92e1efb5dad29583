//! The evaluator: walks the rules of one stage at a time, accumulating factors and the minimum
//! rate until a sample rate terminates, exactly in Relay's order.

use chrono::{DateTime, Utc};

use crate::config::{SamplingRule, SamplingValue};
use crate::reservoir::Reservoir;
use crate::value::Getter;

/// Where a rule was evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Transaction,
    Project,
    Trace,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Transaction => "transaction",
            Stage::Project => "project",
            Stage::Trace => "trace",
        }
    }
}

/// One matched rule, for explanations.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainStep {
    pub stage: Stage,
    pub rule_id: u32,
    /// The rule's value after its decaying function.
    pub value: SamplingValue,
    /// The accumulated factor after this rule.
    pub factor: f64,
    /// Whether the rule counted (a second minimum rate is matched but ignored).
    pub applied: bool,
}

/// A terminating match: the rate to sample at and the id that seeds the random value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matched {
    pub sample_rate: f64,
    pub seed: u128,
    pub stage: Stage,
    /// The reservoir rule that kept the item, when one did.
    pub reservoir: Option<ReservoirHit>,
}

/// A reservoir rule that took an item: what a fleet needs to count it against a shared budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservoirHit {
    pub rule_id: u32,
    pub limit: i64,
    /// End of the rule's time range, when it has one (a shared counter's expiry follows it).
    pub end: Option<DateTime<Utc>>,
}

/// Evaluation state carried from stage to stage.
pub struct Evaluator<'a> {
    now: DateTime<Utc>,
    factor: f64,
    minimum: Option<f64>,
    ids: &'a mut Vec<u32>,
    reservoir: Option<&'a dyn Reservoir>,
    explain: Option<&'a mut Vec<ExplainStep>>,
}

impl<'a> Evaluator<'a> {
    /// `ids` is cleared and receives the matched rule ids; reusing it avoids allocating.
    pub fn new(now: DateTime<Utc>, ids: &'a mut Vec<u32>) -> Self {
        ids.clear();
        Evaluator { now, factor: 1.0, minimum: None, ids, reservoir: None, explain: None }
    }

    /// Enables reservoir rules, counted by `reservoir` (transactions only).
    pub fn with_reservoir(mut self, reservoir: Option<&'a dyn Reservoir>) -> Self {
        self.reservoir = reservoir;
        self
    }

    pub fn with_explain(mut self, steps: &'a mut Vec<ExplainStep>) -> Self {
        steps.clear();
        self.explain = Some(steps);
        self
    }

    pub fn matched_ids(&self) -> &[u32] {
        self.ids
    }

    fn record(&mut self, stage: Stage, rule: &SamplingRule, value: SamplingValue, applied: bool) {
        if let Some(steps) = self.explain.as_deref_mut() {
            steps.push(ExplainStep { stage, rule_id: rule.id, value, factor: self.factor, applied });
        }
    }

    /// Evaluates the rules of one stage against `instance`. Returns the match when a rule
    /// terminates; otherwise the state carries over to the next stage.
    pub fn match_rules<'r>(
        &mut self,
        stage: Stage,
        rules: impl IntoIterator<Item = &'r SamplingRule>,
        instance: &dyn Getter,
        seed: u128,
    ) -> Option<Matched> {
        for rule in rules {
            let Some(value) = rule.value_at(self.now) else { continue };
            if !rule.condition.matches(instance) {
                continue;
            }
            match value {
                SamplingValue::Factor(f) => {
                    self.factor *= f;
                    self.ids.push(rule.id);
                    self.record(stage, rule, value, true);
                }
                SamplingValue::MinimumSampleRate(m) => {
                    let first = self.minimum.is_none();
                    if first {
                        self.minimum = Some(m);
                        self.ids.push(rule.id);
                    }
                    self.record(stage, rule, value, first);
                }
                SamplingValue::SampleRate(rate) => {
                    let sample_rate = (rate.max(self.minimum.unwrap_or(0.0)) * self.factor).clamp(0.0, 1.0);
                    self.ids.push(rule.id);
                    self.record(stage, rule, value, true);
                    return Some(Matched { sample_rate, seed, stage, reservoir: None });
                }
                SamplingValue::Reservoir(limit) => {
                    let Some(reservoir) = self.reservoir else { continue };
                    if !reservoir.try_take(rule.id, limit) {
                        continue;
                    }
                    self.ids.clear();
                    self.ids.push(rule.id);
                    if let Some(steps) = self.explain.as_deref_mut() {
                        steps.clear();
                    }
                    self.record(stage, rule, value, true);
                    let hit = ReservoirHit { rule_id: rule.id, limit, end: rule.time_range.end };
                    return Some(Matched { sample_rate: 1.0, seed, stage, reservoir: Some(hit) });
                }
            }
        }
        None
    }
}

/// Keep or drop, from a rate and the seeded random value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Keep,
    Drop,
    NoMatch,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Drop => "drop",
            Decision::NoMatch => "noMatch",
        }
    }

    /// Rates at or below 0 drop and at or above 1 keep without drawing; a NaN rate keeps.
    pub fn from_rate(rate: f64, random: f64) -> Decision {
        if rate.is_nan() || rate >= 1.0 {
            Decision::Keep
        } else if rate <= 0.0 {
            Decision::Drop
        } else if random < rate {
            Decision::Keep
        } else {
            Decision::Drop
        }
    }

    pub fn is_kept(self) -> bool {
        self != Decision::Drop
    }
}
