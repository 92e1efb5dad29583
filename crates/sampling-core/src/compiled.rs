//! A sampling config compiled for evaluation: rules split by stage, and the rules that only
//! test one field for equality indexed by value, so thousands of them cost one hash lookup.

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

/// The rules of one stage, as positions into the config's rule list.
#[derive(Debug, Clone, Default)]
pub struct StageRules {
    /// Rules checked for every item.
    scanned: Vec<u32>,
    indexes: Vec<EqIndex>,
}

/// The single `eq` a rule's condition consists of (alone or as the only member of an `and`).
fn single_eq(condition: &Condition) -> Option<&crate::condition::EqCondition> {
    match condition {
        Condition::Eq(eq) => Some(eq),
        Condition::And(list) if list.len() == 1 => single_eq(&list[0]),
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
        let scanned = positions.into_iter().filter(|&p| !indexed[p as usize]).collect();
        StageRules { scanned, indexes }
    }

    pub fn is_empty(&self) -> bool {
        self.scanned.is_empty() && self.indexes.is_empty()
    }

    /// The positions of the rules that may match `instance`, in config order. Rules whose
    /// indexed value differs are left out: they cannot match.
    pub fn candidates<'s>(&'s self, instance: &dyn Getter, scratch: &'s mut Vec<u32>) -> &'s [u32] {
        if self.indexes.is_empty() {
            return &self.scanned;
        }
        scratch.clear();
        scratch.extend_from_slice(&self.scanned);
        for index in &self.indexes {
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
            .fold(crate::event::SlotMask::EVENT_ID, |m, r| m.union(r.condition.event_slots()));
        CompiledConfig { config, unsupported, transaction, project, trace, event_slots }
    }

    pub fn parse_str(text: &str) -> Result<Self, crate::config::ConfigError> {
        SamplingConfig::parse_str(text).map(Self::new)
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

    /// The top-level event fields the transaction stage reads (always including `event_id`).
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
        self.config
            .rules
            .iter()
            .filter(|r| matches!(r.value, crate::config::SamplingValue::Reservoir(_)))
            .map(|r| r.id)
            .collect()
    }
}
