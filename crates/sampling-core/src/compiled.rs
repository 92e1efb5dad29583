//! A sampling config compiled for evaluation: rules split by stage, and the rules that only
//! test one field for equality indexed by value, so thousands of them cost one hash lookup.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::condition::{folded_hash, Condition};
use crate::config::{RuleType, SamplingConfig, SamplingRule};
use crate::evaluation::Stage;
use crate::value::{FieldPath, Getter, Val};

/// An index need not pay for itself below this many rules.
const MIN_INDEXED_RULES: usize = 16;

/// Rules of one field indexed by the strings they test for.
#[derive(Debug, Clone)]
struct EqIndex {
    field: FieldPath,
    ignore_case: bool,
    exact: FxHashMap<Box<str>, Vec<u32>>,
    folded: FxHashMap<u64, Vec<u32>>,
}

impl EqIndex {
    fn push_candidates(&self, instance: &dyn Getter, out: &mut Vec<u32>) {
        let Some(Val::Str(s)) = instance.get_value(&self.field) else { return };
        let bucket = if self.ignore_case { self.folded.get(&folded_hash(&s)) } else { self.exact.get(&*s) };
        if let Some(rules) = bucket {
            out.extend_from_slice(rules);
        }
    }
}

/// Glob rules of one field indexed by the literals their patterns require: one search over
/// the lowercased value finds the few rules that can match.
#[derive(Debug, Clone)]
struct GlobIndex {
    field: FieldPath,
    literals: aho_corasick::AhoCorasick,
    /// Rule position of each literal.
    rule_of_literal: Vec<u32>,
    /// Every rule in the index (candidates when the value cannot be searched, e.g. non-ASCII).
    all_rules: Vec<u32>,
}

/// Longest value searched through the glob index; longer (or non-ASCII) values make every
/// indexed rule a candidate.
const GLOB_INDEX_MAX_VALUE: usize = 512;

impl GlobIndex {
    fn push_candidates(&self, instance: &dyn Getter, out: &mut Vec<u32>) {
        let Some(Val::Str(s)) = instance.get_value(&self.field) else { return };
        if s.len() > GLOB_INDEX_MAX_VALUE || !s.is_ascii() {
            out.extend_from_slice(&self.all_rules);
            return;
        }
        let mut buf = [0u8; GLOB_INDEX_MAX_VALUE];
        let lowered = &mut buf[..s.len()];
        lowered.copy_from_slice(s.as_bytes());
        lowered.make_ascii_lowercase();
        for m in self.literals.find_overlapping_iter(&*lowered) {
            out.push(self.rule_of_literal[m.pattern().as_usize()]);
        }
    }
}

/// The rules of one stage, as positions into the config's rule list.
#[derive(Debug, Clone, Default)]
pub struct StageRules {
    /// Rules checked for every item.
    scanned: Vec<u32>,
    indexes: Vec<EqIndex>,
    glob_indexes: Vec<GlobIndex>,
}

/// The single glob a rule's condition consists of, when every pattern has a required literal.
fn single_indexable_glob(condition: &Condition) -> Option<(&FieldPath, &std::sync::Arc<crate::glob::GlobList>)> {
    match condition {
        Condition::Glob { field, globs } if !globs.is_empty() && globs.globs().iter().all(|g| g.required_literal().is_some()) => {
            Some((field, globs))
        }
        Condition::And(list) | Condition::Or(list) if list.len() == 1 => single_indexable_glob(&list[0]),
        _ => None,
    }
}

/// The single `eq` a rule's condition consists of (alone or as the only member of an `and`).
fn single_eq(condition: &Condition) -> Option<&crate::condition::EqCondition> {
    match condition {
        Condition::Eq(eq) => Some(eq),
        Condition::And(list) | Condition::Or(list) if list.len() == 1 => single_eq(&list[0]),
        _ => None,
    }
}

impl StageRules {
    fn build(rules: &[SamplingRule], positions: Vec<u32>) -> StageRules {
        // Group indexable rules by (field, case sensitivity); index groups that are large enough.
        let mut groups: Vec<(FieldPath, bool, Vec<u32>)> = Vec::new();
        for &pos in &positions {
            if let Some((field, set)) = single_eq(&rules[pos as usize].condition).and_then(|eq| eq.indexable()) {
                match groups.iter_mut().find(|(f, ic, _)| f == field && *ic == set.ignore_case()) {
                    Some(group) => group.2.push(pos),
                    None => groups.push((field.clone(), set.ignore_case(), vec![pos])),
                }
            }
        }
        let mut indexed = vec![false; rules.len()];
        let mut indexes = Vec::new();
        for (field, ignore_case, members) in groups {
            if members.len() < MIN_INDEXED_RULES {
                continue;
            }
            let mut index = EqIndex { field, ignore_case, exact: FxHashMap::default(), folded: FxHashMap::default() };
            for pos in members {
                let (_, set) = single_eq(&rules[pos as usize].condition).and_then(|eq| eq.indexable()).expect("grouped");
                for value in set.values() {
                    let bucket = if ignore_case {
                        index.folded.entry(folded_hash(value)).or_default()
                    } else {
                        index.exact.entry(value.clone()).or_default()
                    };
                    if bucket.last() != Some(&pos) {
                        bucket.push(pos);
                    }
                }
                indexed[pos as usize] = true;
            }
            indexes.push(index);
        }
        // Glob rules of one field, grouped the same way.
        let mut glob_groups: Vec<(FieldPath, Vec<u32>)> = Vec::new();
        for &pos in &positions {
            if indexed[pos as usize] {
                continue;
            }
            if let Some((field, _)) = single_indexable_glob(&rules[pos as usize].condition) {
                match glob_groups.iter_mut().find(|(f, _)| f == field) {
                    Some(group) => group.1.push(pos),
                    None => glob_groups.push((field.clone(), vec![pos])),
                }
            }
        }
        let mut glob_indexes = Vec::new();
        for (field, members) in glob_groups {
            if members.len() < MIN_INDEXED_RULES {
                continue;
            }
            let mut literals = Vec::new();
            let mut rule_of_literal = Vec::new();
            for &pos in &members {
                let (_, globs) = single_indexable_glob(&rules[pos as usize].condition).expect("grouped");
                for glob in globs.globs() {
                    literals.push(glob.required_literal().expect("indexable").to_owned());
                    rule_of_literal.push(pos);
                }
            }
            let Ok(automaton) = aho_corasick::AhoCorasick::new(&literals) else { continue };
            for &pos in &members {
                indexed[pos as usize] = true;
            }
            glob_indexes.push(GlobIndex { field, literals: automaton, rule_of_literal, all_rules: members });
        }
        let scanned = positions.into_iter().filter(|&p| !indexed[p as usize]).collect();
        StageRules { scanned, indexes, glob_indexes }
    }

    pub fn is_empty(&self) -> bool {
        self.scanned.is_empty() && self.indexes.is_empty() && self.glob_indexes.is_empty()
    }

    /// The positions of the rules that may match `instance`, in config order. Rules whose
    /// indexed value differs are left out: they cannot match.
    pub fn candidates<'s>(&'s self, instance: &dyn Getter, scratch: &'s mut Vec<u32>) -> &'s [u32] {
        if self.indexes.is_empty() && self.glob_indexes.is_empty() {
            return &self.scanned;
        }
        scratch.clear();
        scratch.extend_from_slice(&self.scanned);
        for index in &self.indexes {
            index.push_candidates(instance, scratch);
        }
        for index in &self.glob_indexes {
            index.push_candidates(instance, scratch);
        }
        scratch.sort_unstable();
        scratch.dedup();
        scratch
    }

    /// Every rule of the stage in config order (for explanations of the merge).
    pub fn all_positions(&self) -> Vec<u32> {
        let mut all = self.scanned.clone();
        for index in &self.indexes {
            all.extend(index.exact.values().flatten().chain(index.folded.values().flatten()));
        }
        for index in &self.glob_indexes {
            all.extend_from_slice(&index.all_rules);
        }
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// A config ready for evaluation. Immutable; shared between threads.
#[derive(Debug, Clone)]
pub struct CompiledConfig {
    config: SamplingConfig,
    unsupported: bool,
    transaction: StageRules,
    project: StageRules,
    trace: StageRules,
    /// Top-level event fields the transaction rules read.
    event_slots: crate::event::SlotMask,
    /// Normalizable fields the rules read, and the project's transaction-name rules.
    needs: crate::normalize::Needs,
    tx_name_rules: Arc<crate::normalize::TxNameRules>,
}

impl CompiledConfig {
    pub fn new(config: SamplingConfig) -> Self {
        let positions = |t: RuleType| -> Vec<u32> {
            config.rules.iter().enumerate().filter(|(_, r)| r.rule_type == t).map(|(i, _)| i as u32).collect()
        };
        let transaction = StageRules::build(&config.rules, positions(RuleType::Transaction));
        let project = StageRules::build(&config.rules, positions(RuleType::Project));
        let trace = StageRules::build(&config.rules, positions(RuleType::Trace));
        let unsupported = config.is_unsupported();
        let event_slots = config
            .rules
            .iter()
            .filter(|r| r.rule_type == RuleType::Transaction)
            .fold(crate::event::SlotMask::default(), |m, r| m.union(r.condition.event_slots()));
        let needs = crate::normalize::Needs::of_rules(&config.rules);
        let tx_name_rules = Arc::default();
        CompiledConfig { config, unsupported, transaction, project, trace, event_slots, needs, tx_name_rules }
    }

    /// The config with the project's transaction-name rules (project config `txNameRules`).
    pub fn with_tx_name_rules(mut self, rules: Arc<crate::normalize::TxNameRules>) -> Self {
        self.tx_name_rules = rules;
        self
    }

    pub fn tx_name_rules(&self) -> &crate::normalize::TxNameRules {
        &self.tx_name_rules
    }

    /// The normalizable fields the rules read (what has to be normalized per item).
    pub fn needs(&self) -> crate::normalize::Needs {
        self.needs
    }

    pub fn parse_str(text: &str) -> Result<Self, crate::config::ConfigError> {
        SamplingConfig::parse_str(text).map(Self::new)
    }

    pub fn parse_str_with(text: &str, options: crate::config::ParseOptions) -> Result<Self, crate::config::ConfigError> {
        SamplingConfig::parse_str_with(text, options).map(Self::new)
    }

    pub fn config(&self) -> &SamplingConfig {
        &self.config
    }

    pub fn rules(&self) -> &[SamplingRule] {
        &self.config.rules
    }

    pub fn is_unsupported(&self) -> bool {
        self.unsupported
    }

    /// The top-level event fields the transaction rules read (none: the payload need not be read).
    pub fn event_slots(&self) -> crate::event::SlotMask {
        self.event_slots
    }

    pub fn stage(&self, stage: Stage) -> &StageRules {
        match stage {
            Stage::Transaction => &self.transaction,
            Stage::Project => &self.project,
            Stage::Trace => &self.trace,
        }
    }

    /// Ids of the reservoir rules, whose counters survive a config update.
    pub fn reservoir_rule_ids(&self) -> Vec<u32> {
        self.config.rules.iter().filter(|r| matches!(r.value, crate::config::SamplingValue::Reservoir(_))).map(|r| r.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::evaluation::{Evaluator, Stage};
    use crate::instance::Instance;

    /// Evaluates the trace stage with and without indexes: both must match the same rules.
    fn matched(config: &CompiledConfig, instance: &Instance) -> (Vec<u32>, Vec<u32>) {
        let now = chrono::Utc::now();
        let rules = config.rules();
        let mut scratch = Vec::new();
        let mut ids = Vec::new();
        let mut evaluator = Evaluator::new(now, &mut ids);
        let positions = config.stage(Stage::Trace).candidates(instance, &mut scratch).to_vec();
        evaluator.match_rules(Stage::Trace, positions.iter().map(|&p| &rules[p as usize]), instance, 0);
        let indexed = evaluator.matched_ids().to_vec();
        let mut ids = Vec::new();
        let mut evaluator = Evaluator::new(now, &mut ids);
        evaluator.match_rules(Stage::Trace, rules.iter(), instance, 0);
        (indexed, evaluator.matched_ids().to_vec())
    }

    fn config_with(rules: Vec<serde_json::Value>) -> CompiledConfig {
        CompiledConfig::new(SamplingConfig::parse(&json!({"version": 2, "rules": rules})).unwrap())
    }

    #[test]
    fn indexed_rules_match_like_a_scan() {
        let mut rules = Vec::new();
        for i in 0..100 {
            let ignore_case = i % 2 == 0;
            rules.push(json!({"id": i, "type": "trace", "samplingValue": {"type": "factor", "value": 1.5},
                "condition": {"op": "or", "inner": [{"op": "eq", "name": "trace.transaction", "value": [format!("/T{}", i % 30)], "options": {"ignoreCase": ignore_case}}]}}));
            rules.push(json!({"id": 1000 + i, "type": "trace", "samplingValue": {"type": "factor", "value": 0.5},
                "condition": {"op": "glob", "name": "trace.transaction", "value": [format!("*/t{}*", i % 40), format!("/api/v{i}/*")]}}));
        }
        rules.push(json!({"id": 5000, "type": "trace", "samplingValue": {"type": "factor", "value": 2.0},
            "condition": {"op": "glob", "name": "trace.environment", "value": ["*"]}}));
        rules.push(json!({"id": 9999, "type": "trace", "samplingValue": {"type": "sampleRate", "value": 0.5},
            "condition": {"op": "and", "inner": []}}));
        let config = config_with(rules);
        assert_eq!(config.stage(Stage::Trace).indexes.len(), 2, "case-sensitive and case-insensitive eq groups");
        assert_eq!(config.stage(Stage::Trace).glob_indexes.len(), 1);
        for name in ["/T3", "/t3", "/T29", "/api/v7/x", "/x/t12/y", "/none", "/API/V99/Z/T1", "/tä1"] {
            let instance = Instance::from_json(&json!({"trace.transaction": name, "trace.environment": "prod"})).unwrap();
            let (indexed, scanned) = matched(&config, &instance);
            assert_eq!(indexed, scanned, "{name}");
        }
    }
}
