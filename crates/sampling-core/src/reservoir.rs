//! Counters for reservoir rules (keep the first `limit` matches of a rule): held per project by
//! the engine, shared by every thread; an external store (Redis) can stand in for them.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use rustc_hash::FxHashMap;

/// Decides whether a reservoir rule may take one more item.
pub trait Reservoir {
    /// Counts one match of `rule_id` and returns true while the count stays within `limit`.
    fn try_take(&self, rule_id: u32, limit: i64) -> bool;
}

/// In-process counters: rule id → number of items kept so far.
#[derive(Debug, Default)]
pub struct ReservoirCounters {
    counters: RwLock<FxHashMap<u32, AtomicI64>>,
}

impl ReservoirCounters {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_counts(counts: impl IntoIterator<Item = (u32, i64)>) -> Self {
        let map = counts.into_iter().map(|(k, v)| (k, AtomicI64::new(v))).collect();
        ReservoirCounters { counters: RwLock::new(map) }
    }

    pub fn snapshot(&self) -> Vec<(u32, i64)> {
        let map = self.counters.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = map.iter().map(|(k, v)| (*k, v.load(Ordering::Relaxed))).collect();
        out.sort_unstable();
        out
    }

    /// Sets a rule's count (a fleet's shared count; `limit` or more marks the rule used up).
    pub fn set(&self, rule_id: u32, count: i64) {
        let mut map = self.counters.write().unwrap_or_else(|e| e.into_inner());
        match map.get(&rule_id) {
            Some(counter) => counter.store(count, Ordering::Relaxed),
            None => {
                map.insert(rule_id, AtomicI64::new(count));
            }
        }
    }

    /// Drops the counters of rules that are no longer in the project's config.
    pub fn retain(&self, rule_ids: &[u32]) {
        let mut map = self.counters.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|id, _| rule_ids.contains(id));
    }
}

impl Reservoir for ReservoirCounters {
    fn try_take(&self, rule_id: u32, limit: i64) -> bool {
        let increment =
            |counter: &AtomicI64| counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < limit).then_some(n + 1)).is_ok();
        {
            let map = self.counters.read().unwrap_or_else(|e| e.into_inner());
            if let Some(counter) = map.get(&rule_id) {
                return increment(counter);
            }
        }
        let mut map = self.counters.write().unwrap_or_else(|e| e.into_inner());
        increment(map.entry(rule_id).or_insert_with(|| AtomicI64::new(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_to_the_limit() {
        let r = ReservoirCounters::new();
        assert!((0..3).all(|_| r.try_take(1, 3)));
        assert!(!r.try_take(1, 3));
        assert_eq!(r.snapshot(), [(1, 3)]);
    }

    #[test]
    fn a_shared_count_set_from_outside_ends_the_rule() {
        let r = ReservoirCounters::new();
        assert!(r.try_take(1, 3));
        r.set(1, 3);
        assert!(!r.try_take(1, 3));
        // A higher limit makes room again.
        assert!(r.try_take(1, 4));
    }

    #[test]
    fn retain_prunes_removed_rules() {
        let r = ReservoirCounters::from_counts([(1, 2), (2, 5)]);
        r.retain(&[2]);
        assert_eq!(r.snapshot(), [(2, 5)]);
    }
}
