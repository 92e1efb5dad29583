//! Decides the captured envelopes of `bench/fixtures/<kind>.bin` in a loop with a config file: a
//! driver for profilers (callgrind, perf) of the core alone.
//!
//!   cargo run --release -p sampling-core --example decide_loop -- CONFIG.json tx-4kb 3000
//!
//! With `COUNTING=1` the plan also carries what the control plane counts (`Store::set_counting`);
//! `DISTINCT=N` cycles through the first N envelopes only (N = 8: all in cache).
use std::time::Instant;

use chrono::{TimeZone, Utc};
use sampling_core::config::ParseOptions;
use sampling_core::decision::Scratch;
use sampling_core::store::{parse_key, Store};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = std::fs::read_to_string(&args[1]).expect("config file");
    let kind = args.get(2).map_or("tx-4kb", String::as_str);
    let rounds: usize = args.get(3).map_or(3000, |n| n.parse().expect("count"));
    let data = std::fs::read(format!("{}/../../bench/fixtures/{kind}.bin", env!("CARGO_MANIFEST_DIR"))).expect("fixtures");
    let word = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
    let mut envelopes = Vec::new();
    let mut at = 4;
    for _ in 0..word(0) {
        let len = word(at);
        envelopes.push(&data[at + 4..at + 4 + len]);
        at += 4 + len;
    }
    if let Some(n) = std::env::var("DISTINCT").ok().and_then(|v| v.parse::<usize>().ok()) {
        envelopes.truncate(n.max(1));
    }
    let store = Store::with_options(ParseOptions::WITH_RESERVOIR);
    let key = parse_key("abd0f232775f45feab79864e580d160b").unwrap();
    store.put(key, 42, 1, Some(&config)).expect("config");
    store.set_counting(std::env::var_os("COUNTING").is_some_and(|v| v == "1"));
    let now = Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap();
    let mut scratch = Scratch::new();
    let mut kept = 0u64;
    let start = Instant::now();
    for i in 0..rounds {
        let d = store.sample_envelope(key, envelopes[i % envelopes.len()], now, &mut scratch).expect("decision");
        kept += u64::from(matches!(d.outcome.decision, sampling_core::Decision::Keep));
    }
    let ns = start.elapsed().as_nanos() as f64 / rounds as f64;
    println!("{kind}: {rounds} decisions, {ns:.0} ns each, kept {kept}");
}
