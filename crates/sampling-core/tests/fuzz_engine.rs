//! Seeded fuzzing of the engine: mutated envelopes through `Store::sample_envelope` (the hot
//! path the binding calls) and mutated sampling configs through `Store::put`, asserting that
//! nothing panics and that every input gets a defined answer (a decision, or one of the
//! envelope error codes 1-6; a config is installed or rejected with an error).
//!
//! Seeds: the envelopes captured from `@sentry/node` (`test/fixtures/sdk-envelopes.json`), a few
//! built here (explicit lengths, span containers, DSC variants), and the demo configs
//! (`examples/projects.json`) plus generated ones. Mutations: bit and byte flips, truncations,
//! splices of two envelopes, inserted JSON tokens, huge numbers, deep nesting, invalid UTF-8,
//! duplicated keys and lines, item lengths and counts off by one (or absurd), DSC keys swapped
//! for known, foreign and unknown projects.
//!
//! Counts and seed: `FUZZ_ENVELOPES` (default 1,000,000 in release, 20,000 in debug builds),
//! `FUZZ_CONFIGS` (100,000 / 2,000), `FUZZ_SEED` (default: a fresh one, printed). A failure
//! prints the seed, the iteration and the input; `FUZZ_SEED=<seed>` replays the same run.
//! `npm test` runs this file in release with the full counts (`npm run test:fuzz-native`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use sampling_core::config::ParseOptions;
use sampling_core::decision::Scratch;
use sampling_core::dsc::Dsc;
use sampling_core::envelope::Envelope;
use sampling_core::event::EventView;
use sampling_core::store::{EnvelopeDecision, Store};
use sampling_core::Decision;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// A small seeded PRNG (SplitMix64): fast, and the same sequence on every platform.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        ((self.next() >> 11) % n as u64) as usize
    }

    /// True with probability `1 / n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.replace('_', "").parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name} must be an unsigned integer, got `{text}`")))
}

fn seed() -> u64 {
    env_u64("FUZZ_SEED").unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        // Mixed so that two runs started in the same millisecond still differ.
        Rng::new(nanos ^ u64::from(std::process::id()).rotate_left(32)).next() >> 12
    })
}

fn count(name: &str, release: u64, debug: u64) -> usize {
    env_u64(name).unwrap_or(if cfg!(debug_assertions) { debug } else { release }) as usize
}

// ---------------------------------------------------------------------------------------------
// Seeds.

const OWN: u128 = 0xabd0f232775f45feab79864e580d160b;
const ROOT: u128 = 0xe12d836b15bb49d7bbf99e64295d995b;
const FOREIGN: u128 = 0x0c5b3c9f0b8e4a1e9a0d2f6d1c7e8b9a;
const REJECTED: u128 = 0x5d1f2a3b4c5d6e7f8091a2b3c4d5e6f7;
const NO_CONFIG: u128 = 0x7a8b9c0d1e2f30415263748596a7b8c9;
const UNKNOWN: u128 = 0x9f1e3c2b4a5968778695a4b3c2d1e0f1;
const KEYS: [u128; 6] = [OWN, ROOT, FOREIGN, REJECTED, NO_CONFIG, UNKNOWN];

fn repo_file(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The captured SDK envelopes, and some built here for what the SDK does not send.
fn envelope_seeds() -> Vec<Vec<u8>> {
    let fixture: Value = serde_json::from_str(&repo_file("test/fixtures/sdk-envelopes.json")).expect("fixture is JSON");
    let mut seeds: Vec<Vec<u8>> =
        fixture["envelopes"].as_array().expect("envelopes").iter().map(|e| e["text"].as_str().expect("text").as_bytes().to_vec()).collect();
    assert!(seeds.len() >= 10, "the seed corpus holds the captured envelopes");
    let trace = |key: u128, extra: &str| {
        format!(
            r#"{{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","public_key":"{key:032x}","release":"shop@1.2.0","environment":"production","transaction":"/api/checkout","sample_rate":"0.5","sampled":"true"{extra}}}"#
        )
    };
    let event = r#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","type":"transaction","transaction":"/api/checkout","release":"shop@1.2.0","environment":"production","platform":"node","user":{"id":"u-1","segment":"paid"},"tags":{"flag":"on"},"measurements":{"lcp":{"value":1200.5}},"contexts":{"trace":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"a3ce929d0e0e4736","op":"http.server"}},"start_timestamp":1700000000.0,"timestamp":1700000000.25,"spans":[]}"#;
    for key in [OWN, ROOT, FOREIGN, UNKNOWN] {
        let header = format!(
            r#"{{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","trace":{}}}"#,
            trace(key, r#","replay_id":"36b75d9fa11f45459412a96c41bdf691","user_segment":"paid""#)
        );
        seeds.push(format!("{header}\n{{\"type\":\"transaction\",\"length\":{}}}\n{event}\n{{\"type\":\"attachment\",\"length\":5,\"filename\":\"a.txt\"}}\nhello\n{{\"type\":\"profile\"}}\n{{}}\n", event.len()).into_bytes());
        seeds.push(format!("{header}\n{{\"type\":\"span\",\"item_count\":3,\"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{{\"items\":[{{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"0123456789abcdef\",\"name\":\"GET /\",\"is_segment\":true}},{{\"span_id\":\"1\"}},{{\"span_id\":\"2\"}}]}}\n{{\"type\":\"otel_span\"}}\n{{}}\n").into_bytes());
        seeds.push(format!("{header}\n{{\"type\":\"event\",\"length\":41}}\n{{\"message\":\"boom\",\"level\":\"error\",\"x\":1}}\n{{\"type\":\"client_report\"}}\n{{}}").into_bytes());
    }
    seeds.push(b"{}\n{\"type\":\"transaction\"}\n{\"transaction\":\"x\"}\n".to_vec());
    seeds.push(b"{\"trace\":null}\n{\"type\":\"span\"}\n{}\n".to_vec());
    seeds.push(b"{}\n".to_vec());
    seeds
}

/// Realistic configs: the demo organisation's, and one like Sentry generates.
fn config_seeds() -> Vec<String> {
    let projects: Value = serde_json::from_str(&repo_file("examples/projects.json")).expect("projects.json");
    let mut seeds: Vec<String> = projects["configs"]
        .as_object()
        .expect("configs")
        .values()
        .filter_map(|p| p["config"].get("sampling").map(Value::to_string))
        .collect();
    seeds.push(
        json!({"version": 2, "rules": [
            {"id": 1, "type": "transaction", "condition": {"op": "glob", "name": "event.transaction", "value": ["*health*", "/api/{a,b}/**"]}, "samplingValue": {"type": "sampleRate", "value": 0.02}},
            {"id": 2, "type": "transaction", "condition": {"op": "eq", "name": "event.transaction", "value": ["/api/checkout"], "options": {"ignoreCase": true}}, "samplingValue": {"type": "factor", "value": 1.5}},
            {"id": 3, "type": "project", "condition": {"op": "gte", "name": "event.measurements.lcp.value", "value": 1000}, "samplingValue": {"type": "minimumSampleRate", "value": 0.3}},
            {"id": 4, "type": "trace", "condition": {"op": "and", "inner": [{"op": "eq", "name": "trace.release", "value": ["shop@1.2.0"]}, {"op": "not", "inner": {"op": "eq", "name": "trace.environment", "value": ["staging"]}}]}, "samplingValue": {"type": "factor", "value": 2.0}, "timeRange": {"start": "2024-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "decayingFn": {"type": "linear", "decayedValue": 1.0}},
            {"id": 5, "type": "trace", "condition": {"op": "cidr", "name": "event.user.ip_address", "value": ["10.0.0.0/8", "::1/128"]}, "samplingValue": {"type": "reservoir", "limit": 3}},
            {"id": 6, "type": "trace", "condition": {"op": "any", "name": "event.spans", "inner": {"op": "eq", "name": "op", "value": ["db.query"]}}, "samplingValue": {"type": "sampleRate", "value": 0.7}},
            {"id": 7, "type": "trace", "condition": {"op": "and", "inner": []}, "samplingValue": {"type": "sampleRate", "value": 0.25}}
        ]})
        .to_string(),
    );
    seeds
}

// ---------------------------------------------------------------------------------------------
// Mutations of bytes.

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\\",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"\0",
    b"null",
    b"true",
    b"false",
    b"-",
    b"0",
    b"-0",
    b"1e999",
    b"-1e-999",
    b"1.7976931348623157e309",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"123456789012345678901234567890",
    b"0.30000000000000004",
    b"1E+2",
    b"00",
    b".5",
    b"NaN",
    b"Infinity",
    b"\"\"",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\"\\udc00\\ud800\"",
    b"\"\\uZZZZ\"",
    b"\"\\x\"",
    b"{}",
    b"[]",
    b"{\"\":null}",
    b"\"type\":\"transaction\"",
    b"\"type\":\"span\"",
    b"\"type\":\"event\"",
    b"\"length\":0",
    b"\"length\":-1",
    b"\"trace\":{}",
    b"\"trace\":null",
    b"\"trace\":[]",
    b"\"item_count\":4294967296",
    b"\"sampled\":\"maybe\"",
];

const HUGE_NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1e400",
    b"-1e400",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"4294967295",
    b"4294967296",
    b"1.5",
    b"1e2",
    b"0.0000001",
    b"99999999999999999999999999999999999999999999999999",
    b"\"12\"",
    b"null",
    b"true",
    b"[]",
];

const INVALID_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xfe\xff",
    b"\xc3\x28",
    b"\xa0\xa1",
    b"\xe2\x28\xa1",
    b"\xe2\x82\x28",
    b"\xf0\x28\x8c\xbc",
    b"\xf0\x90\x28\xbc",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"\xf8\x88\x80\x80\x80",
    b"\x80",
    b"\xc3",
];

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    memchr::memmem::find_iter(haystack, needle).collect()
}

/// The extent of the JSON number starting at `at` (digits, sign, dot, exponent).
fn number_end(b: &[u8], at: usize) -> usize {
    let mut end = at;
    while end < b.len() && matches!(b[end], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
        end += 1;
    }
    end
}

/// Replaces the value after a `"key":` occurrence (a number, or a string) with `with`.
fn replace_value_of(b: &mut Vec<u8>, rng: &mut Rng, key: &[u8], with: &[u8]) -> bool {
    let mut pattern = Vec::with_capacity(key.len() + 3);
    pattern.push(b'"');
    pattern.extend_from_slice(key);
    pattern.extend_from_slice(b"\":");
    let hits = find_all(b, &pattern);
    if hits.is_empty() {
        return false;
    }
    let start = *rng.pick(&hits) + pattern.len();
    let end = if b.get(start) == Some(&b'"') {
        b[start + 1..].iter().position(|&c| c == b'"').map_or(b.len(), |p| start + 2 + p)
    } else {
        number_end(b, start).max(start + usize::from(start < b.len() && b[start].is_ascii_alphabetic()) * 4).min(b.len())
    };
    b.splice(start..end, with.iter().copied());
    true
}

fn mutate_bytes(b: &mut Vec<u8>, rng: &mut Rng, seeds: &[Vec<u8>]) {
    let len = b.len();
    match rng.below(18) {
        // Bit flip.
        0 if len > 0 => {
            let i = rng.below(len);
            b[i] ^= 1 << rng.below(8);
        }
        // Random byte.
        1 if len > 0 => {
            let i = rng.below(len);
            b[i] = rng.next() as u8;
        }
        // Truncation.
        2 => b.truncate(rng.below(len + 1)),
        // Splice: a prefix of this one, the suffix of another.
        3 => {
            let other: &Vec<u8> = rng.pick(seeds);
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            b.truncate(cut);
            b.extend_from_slice(&other[from..]);
        }
        // An inserted JSON token.
        4 | 5 => {
            let at = rng.below(len + 1);
            let token = *rng.pick(TOKENS);
            b.splice(at..at, token.iter().copied());
        }
        // A deleted range.
        6 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below(16.min(len - at));
            b.drain(at..at + n);
        }
        // A huge (or otherwise odd) number in place of a number.
        7 => {
            let digits: Vec<usize> = (0..len).filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric())).collect();
            if !digits.is_empty() {
                let at = *rng.pick(&digits);
                let end = number_end(b, at);
                let with = *rng.pick(HUGE_NUMBERS);
                b.splice(at..end, with.iter().copied());
            }
        }
        // Deep nesting.
        8 => {
            let at = rng.below(len + 1);
            // Mostly around the parsers' limit of 128; rarely very deep (large inputs slow the run).
            let depth = if rng.one_in(500) { 100_000 } else { [10, 127, 128, 129, 300, 2000][rng.below(6)] };
            let (open, close): (&[u8], &[u8]) = match rng.below(3) {
                0 => (b"[", b"]"),
                1 => (b"{\"a\":", b"}"),
                _ => (b"{\"a\":[", b"]}"),
            };
            let mut nest = Vec::with_capacity(depth * (open.len() + close.len()) + 1);
            for _ in 0..depth {
                nest.extend_from_slice(open);
            }
            nest.push(b'1');
            if !rng.one_in(4) {
                for _ in 0..depth {
                    nest.extend_from_slice(close);
                }
            }
            b.splice(at..at, nest);
        }
        // Invalid UTF-8.
        9 => {
            let at = rng.below(len + 1);
            let bad = *rng.pick(INVALID_UTF8);
            b.splice(at..at, bad.iter().copied());
        }
        // A duplicated key-value pair: `,"k":v` copied next to itself.
        10 => {
            let commas = find_all(b, b",\"");
            if !commas.is_empty() {
                let at = *rng.pick(&commas);
                let end = b[at + 1..].iter().position(|&c| c == b',' || c == b'}' || c == b'\n').map_or(b.len(), |p| at + 1 + p);
                let copy = b[at..end].to_vec();
                b.splice(end..end, copy);
            }
        }
        // A duplicated or removed line.
        11 => {
            let lines: Vec<usize> = std::iter::once(0).chain(find_all(b, b"\n").into_iter().map(|i| i + 1)).filter(|&i| i <= len).collect();
            let start = *rng.pick(&lines);
            let end = b[start..].iter().position(|&c| c == b'\n').map_or(len, |p| start + p + 1);
            if rng.one_in(2) {
                let copy = b[start..end].to_vec();
                b.splice(start..start, copy);
            } else {
                b.drain(start..end);
            }
        }
        // An item length off by one (or absurd).
        12 | 13 => {
            let hits = find_all(b, b"\"length\":");
            if !hits.is_empty() {
                let at = *rng.pick(&hits) + 9;
                let end = number_end(b, at);
                let old: i128 = std::str::from_utf8(&b[at..end]).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
                let new = match rng.below(8) {
                    0 => (old - 1).to_string(),
                    1 | 2 => (old + 1).to_string(),
                    3 => (old + 1000).to_string(),
                    4 => "0".into(),
                    5 => (-old).to_string(),
                    6 => String::from_utf8_lossy(*rng.pick(HUGE_NUMBERS)).into_owned(),
                    _ => format!("{old}.0"),
                };
                b.splice(at..end, new.into_bytes());
            } else {
                // Add a length to the first item header.
                if let Some(nl) = b.iter().position(|&c| c == b'\n') {
                    if b.get(nl + 1) == Some(&b'{') {
                        let n = rng.below(4000);
                        b.splice(nl + 2..nl + 2, format!("\"length\":{n},").into_bytes());
                    }
                }
            }
        }
        // Item counts of span containers.
        14 => {
            let with = *rng.pick(HUGE_NUMBERS);
            replace_value_of(b, rng, b"item_count", with);
        }
        // DSC fields with hostile values.
        15 => {
            let key: &[u8] = *rng.pick(&[
                &b"sample_rate"[..],
                b"sampled",
                b"trace_id",
                b"public_key",
                b"sample_rand",
                b"replay_id",
                b"transaction",
                b"release",
                b"environment",
                b"type",
            ]);
            let with: &[u8] = *rng.pick(&[
                &b"\"NaN\""[..],
                b"\"1e309\"",
                b"\"-1\"",
                b"\"0\"",
                b"\"1\"",
                b"\"\"",
                b"null",
                b"1",
                b"true",
                b"\"maybe\"",
                b"\"4bf92f3577b34da6a3ce929d0e0e473\"",
                b"\"4bf92f35-77b3-4da6-a3ce-929d0e0e4736\"",
                b"\"\\u0041bc\"",
                b"\"\xff\xfe\"",
                b"{}",
                b"[1,2]",
                b"\"transaction\"",
                b"\"span\"",
                b"\"event\"",
            ]);
            replace_value_of(b, rng, key, with);
        }
        // CRLF line endings.
        16 => {
            let nls = find_all(b, b"\n");
            if !nls.is_empty() {
                let at = *rng.pick(&nls);
                b.insert(at, b'\r');
            }
        }
        // Whitespace around header lines.
        _ => {
            let at = rng.below(len + 1);
            let ws: &[u8] = *rng.pick(&[&b" "[..], b"\t", b"\x0c", b"\r", b"\n\n", b"\xc2\xa0"]);
            b.splice(at..at, ws.iter().copied());
        }
    }
}

/// The DSC's project key swapped for another project's (known, foreign, unknown or invalid).
fn swap_dsc_key(b: &mut Vec<u8>, rng: &mut Rng) {
    let key = match rng.below(8) {
        0..=5 => format!("\"{:032x}\"", KEYS[rng.below(KEYS.len())]),
        6 => format!("\"{:032X}\"", OWN),
        _ => "\"not-a-key\"".to_owned(),
    };
    replace_value_of(b, rng, b"public_key", key.as_bytes());
}

fn mutated_envelope(rng: &mut Rng, seeds: &[Vec<u8>], out: &mut Vec<u8>) {
    out.clear();
    let seed: &Vec<u8> = rng.pick(seeds);
    out.extend_from_slice(seed);
    if rng.one_in(3) {
        swap_dsc_key(out, rng);
    }
    // Mostly a few mutations; now and then none (valid input) or many.
    let n = match rng.below(16) {
        0 => 0,
        1 => 8 + rng.below(24),
        _ => 1 + rng.below(3),
    };
    for _ in 0..n {
        mutate_bytes(out, rng, seeds);
    }
}

// ---------------------------------------------------------------------------------------------
// Generated configs.

const FIELDS: &[&str] = &[
    "event.transaction",
    "event.release",
    "event.release.version.short",
    "event.release.package",
    "event.environment",
    "event.platform",
    "event.user.id",
    "event.user.segment",
    "event.user.ip_address",
    "event.tags.flag",
    "event.tags.",
    "event.measurements.lcp.value",
    "event.contexts.trace.op",
    "event.contexts.device.screen_dpi",
    "event.duration",
    "event.extra.a.b",
    "event.spans",
    "event.request.url",
    "event.http.method",
    "trace.release",
    "trace.environment",
    "trace.transaction",
    "trace.user.id",
    "trace.user.segment",
    "trace.replay_id",
    "trace.trace_id",
    "trace.sample_rate",
    "span.op",
    "op",
    "",
    ".",
    "event",
    "event..x",
    "trace.",
    "nope.field",
    "event.tags.\u{0}",
    "ünïcödé",
];

const STRINGS: &[&str] = &[
    "/api/checkout",
    "shop@1.2.0",
    "production",
    "staging",
    "*",
    "**",
    "*health*",
    "/api/{a,b}/**",
    "{",
    "}",
    "{a,{b,c}}",
    "[",
    "[!]",
    "[a-",
    "[]]",
    "\\",
    "\\*",
    "?",
    "*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?b",
    "a/**/b/**/c/**",
    "[!a-z]*",
    "",
    " ",
    "é",
    "✓",
    "\u{0}",
    "10.0.0.0/8",
    "::1",
    "1.2.3.4/33",
    "::/0",
    "fe80::1%eth0",
    "0.0.0.0/0",
    "255.255.255.255/32",
    "1.2.3",
    "::ffff:10.0.0.1/120",
    "1e309",
    "NaN",
    "true",
    "null",
];

fn random_string(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => {
            // A random glob over a hostile alphabet.
            let alphabet = ['*', '?', '{', '}', ',', '[', ']', '!', '-', '\\', '/', 'a', 'b', '.', 'é', '^', '$'];
            (0..rng.below(24)).map(|_| *rng.pick(&alphabet)).collect()
        }
        // Long strings: compiling them (glob and string-set automata) is costly, so mostly short.
        1 => "x".repeat(if rng.one_in(50) { rng.below(3000) } else { rng.below(200) }),
        2 => format!("*{}*", "ab".repeat(rng.below(50))),
        _ => (*rng.pick(STRINGS)).to_owned(),
    }
}

/// An object from pairs. (`json!` would serialise an embedded `Value` again, which makes deep
/// trees quadratic to build.)
fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn random_scalar(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => json!(null),
        1 => json!(rng.one_in(2)),
        2 => json!(rng.below(1_000_000) as i64 - 500_000),
        3 => json!(rng.f64() * 2.0 - 0.5),
        4 => json!(u64::MAX),
        5 => json!(f64::MAX),
        6 => json!([random_string(rng), random_string(rng)]),
        7 => json!([1, "a", null, true]),
        _ => json!(random_string(rng)),
    }
}

fn random_condition(rng: &mut Rng, depth: usize) -> Value {
    let op = if depth > 6 { rng.below(5) } else { rng.below(11) };
    let field = *rng.pick(FIELDS);
    match op {
        0 => {
            let mut c = json!({"op": "eq", "name": field, "value": if rng.one_in(3) { random_scalar(rng) } else { json!([random_string(rng), random_string(rng)]) }});
            if rng.one_in(2) {
                c["options"] = json!({"ignoreCase": rng.one_in(2)});
            }
            c
        }
        1 => json!({"op": "glob", "name": field, "value": (0..rng.below(6)).map(|_| random_string(rng)).collect::<Vec<_>>()}),
        2 => json!({"op": *rng.pick(&["gt", "gte", "lt", "lte"]), "name": field, "value": random_scalar(rng)}),
        3 => json!({"op": "cidr", "name": field, "value": (0..rng.below(4)).map(|_| (*rng.pick(STRINGS)).to_owned()).collect::<Vec<_>>()}),
        4 => json!({"op": *rng.pick(&["unknownOp", "matches", "", "AND"]), "name": field, "value": random_scalar(rng)}),
        5 | 6 => {
            let op = *rng.pick(&["and", "or"]);
            obj(vec![("op", json!(op)), ("inner", Value::Array((0..rng.below(4)).map(|_| random_condition(rng, depth + 1)).collect()))])
        }
        7 => obj(vec![("op", json!("not")), ("inner", random_condition(rng, depth + 1))]),
        8 => {
            let op = *rng.pick(&["any", "all"]);
            obj(vec![("op", json!(op)), ("name", json!(field)), ("inner", random_condition(rng, depth + 1))])
        }
        9 => {
            // Deep nesting (around serde_json's recursion limit of 128).
            let depth = [20, 60, 63, 64, 65, 200][rng.below(6)];
            let mut c = json!({"op": "and", "inner": []});
            for _ in 0..depth {
                c = obj(vec![("op", json!("not")), ("inner", c)]);
            }
            c
        }
        _ => random_scalar(rng),
    }
}

fn random_time(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(null),
        1 => json!("2024-01-01T00:00:00Z"),
        2 => json!("2030-01-01T00:00:00.123456Z"),
        3 => json!("+275760-09-13T00:00:00Z"),
        4 => json!("not a time"),
        5 => json!(1_700_000_000),
        6 => json!("2024-02-30T00:00:00Z"),
        _ => json!("2026-12-03T12:00:00+14:00"),
    }
}

fn random_rule(rng: &mut Rng, id: Value) -> Value {
    let value = match rng.below(9) {
        0 => json!({"type": "sampleRate", "value": rng.f64()}),
        1 => json!({"type": "factor", "value": rng.f64() * 4.0}),
        2 => json!({"type": "minimumSampleRate", "value": rng.f64()}),
        3 => json!({"type": "reservoir", "limit": ([0i64, 1, 5, -1, i64::MAX, i64::MIN][rng.below(6)])}),
        4 => json!({"type": "sampleRate", "value": random_scalar(rng)}),
        5 => json!({"type": "factor", "value": ([0.0, -1.0, 1e308, f64::MIN_POSITIVE][rng.below(4)])}),
        6 => json!({"type": "bogus", "value": 1}),
        7 => random_scalar(rng),
        _ => json!({"type": "sampleRate", "value": ([0.0, 1.0, 2.0, -0.5][rng.below(4)])}),
    };
    let rule_type = *rng.pick(&["trace", "transaction", "project", "span", "", "trace"]);
    let mut rule = obj(vec![("id", id), ("type", json!(rule_type)), ("condition", random_condition(rng, 0)), ("samplingValue", value)]);
    if rng.one_in(4) {
        rule["timeRange"] = json!({"start": random_time(rng), "end": random_time(rng)});
    }
    if rng.one_in(6) {
        rule["decayingFn"] = match rng.below(4) {
            0 => json!({"type": "linear", "decayedValue": rng.f64()}),
            1 => json!({"type": "linear"}),
            2 => json!({"type": "constant"}),
            _ => json!({"type": "exp"}),
        };
    }
    if rng.one_in(20) {
        rule.as_object_mut().expect("object").remove(*rng.pick(&["id", "type", "condition", "samplingValue"]));
    }
    rule
}

fn random_config(rng: &mut Rng) -> String {
    let n = if rng.one_in(50) { 40 } else { [0, 1, 2, 3, 5, 8][rng.below(6)] };
    let rules: Vec<Value> = (0..n)
        .map(|i| {
            let id = match rng.below(12) {
                0 => json!(-1),
                1 => json!(4_294_967_296u64),
                2 => json!("1"),
                3 => json!(1), // duplicated ids
                _ => json!(1000 + i),
            };
            random_rule(rng, id)
        })
        .collect();
    let version = match rng.below(8) {
        0 => json!(1),
        1 => json!(3),
        2 => json!(65536),
        3 => json!(-2),
        _ => json!(2),
    };
    let mut config = obj(vec![("version", version), ("rules", Value::Array(rules))]);
    if rng.one_in(6) {
        config["rulesV2"] = Value::Array(vec![random_rule(rng, json!(7))]);
    }
    if rng.one_in(20) {
        config = random_scalar(rng);
    }
    config.to_string()
}

fn mutated_config(rng: &mut Rng, seeds: &[String]) -> Vec<u8> {
    let mut text = if rng.one_in(3) { rng.pick(seeds).clone().into_bytes() } else { random_config(rng).into_bytes() };
    if rng.one_in(2) {
        let as_seeds = [text.clone()];
        for _ in 0..1 + rng.below(3) {
            mutate_bytes(&mut text, rng, &as_seeds);
        }
    }
    text
}

// ---------------------------------------------------------------------------------------------
// Checks.

/// What a run found: the first failures, with what is needed to replay them.
#[derive(Default)]
struct Findings {
    seed: u64,
    count: usize,
    first: Vec<String>,
}

impl Findings {
    fn record(&mut self, what: &str, iteration: usize, input: &[u8], detail: String) {
        self.count += 1;
        if self.first.len() < 5 {
            let shown = if input.len() > 600 { &input[..600] } else { input };
            self.first.push(format!(
                "{what} #{iteration} (FUZZ_SEED={}): {detail}\n  input ({} bytes): {}",
                self.seed,
                input.len(),
                shown.escape_ascii()
            ));
        }
    }

    fn assert_none(&self, what: &str) {
        assert!(self.count == 0, "{} {what} failures with FUZZ_SEED={}:\n{}", self.count, self.seed, self.first.join("\n"));
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// Checks one answer; `None` when it is a defined one.
fn undefined_answer(result: &Result<EnvelopeDecision, sampling_core::envelope::EnvelopeError>) -> Option<String> {
    match result {
        Err(e) => (!(1..=6).contains(&e.code())).then(|| format!("envelope error with code {}", e.code())),
        Ok(d) => {
            let o = &d.outcome;
            if let Some(r) = o.random_value {
                if !(0.0..1.0).contains(&r) {
                    return Some(format!("random value {r} outside [0, 1)"));
                }
            }
            if let Some(rate) = o.sample_rate {
                if rate.is_nan() {
                    return Some("sample rate NaN".into());
                }
                if o.random_value.is_some() && o.decision != Decision::from_rate(rate, o.random_value.unwrap_or(0.0)) {
                    return Some(format!("decision {:?} does not follow rate {rate}", o.decision));
                }
            }
            if o.decision != Decision::NoMatch && o.sample_rate.is_none() {
                return Some(format!("decision {:?} without a rate", o.decision));
            }
            None
        }
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z").expect("time").with_timezone(&Utc)
}

/// The reservoir option is on so that the seed configs' historical reservoir rules are installed
/// and their counters exercised (without it such a config is rejected, as current Relay does).
fn store_with_projects(config_seeds: &[String]) -> Store {
    let store = Store::with_options(ParseOptions::WITH_RESERVOIR);
    store.put(OWN, 42, 1, Some(config_seeds.last().expect("configs"))).expect("own config");
    store.put(ROOT, 43, 1, Some(&config_seeds[0])).expect("root config");
    store.put(FOREIGN, 44, 2, Some(r#"{"version":2,"rules":[{"id":1,"type":"trace","condition":{"op":"and","inner":[]},"samplingValue":{"type":"sampleRate","value":0}}]}"#)).expect("foreign config");
    assert!(store.put(REJECTED, 45, 1, Some(r#"{"version":2,"rules":[{"id":1}]}"#)).is_err());
    store.put(NO_CONFIG, 46, 1, None).expect("no config");
    store
}

/// Also runs the parsers the hot path uses on parts of the envelope, fully (not only the slots
/// the rules read), and the envelope reader on its own.
fn parse_parts(bytes: &[u8]) {
    if let Ok(envelope) = Envelope::parse(bytes) {
        if let Some(trace) = envelope.trace() {
            let _ = Dsc::from_raw(trace);
        }
        let _ = envelope.dsn();
        for item in envelope.items().flatten() {
            let _ = item.content_type();
            if matches!(&*item.item_type, "transaction" | "event") {
                let _ = EventView::parse(item.payload);
            }
            let _ = Dsc::parse(item.payload);
        }
    }
}

#[test]
fn mutated_envelopes_always_get_a_defined_answer() {
    let seed = seed();
    let total = count("FUZZ_ENVELOPES", 1_000_000, 20_000);
    let seeds = envelope_seeds();
    let configs = config_seeds();
    let store = store_with_projects(&configs);
    let mut rng = Rng::new(seed);
    let mut findings = Findings { seed, ..Findings::default() };
    let mut scratch = Scratch::new();
    let mut input = Vec::new();
    let (mut decided, mut refused, mut kept, mut dropped, mut bytes) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut codes = [0usize; 7];
    let started = Instant::now();
    let now = now();
    for i in 0..total {
        // The own project's rules change now and then, so inputs meet many rule shapes.
        if i % 4096 == 4095 {
            let config = random_config(&mut rng);
            let _ = catch_unwind(AssertUnwindSafe(|| store.put(OWN, 42, 1, Some(&config))))
                .map_err(|p| findings.record("config (envelope run)", i, config.as_bytes(), format!("panic: {}", panic_message(&*p))));
        }
        mutated_envelope(&mut rng, &seeds, &mut input);
        bytes += input.len();
        let key = if rng.one_in(4) { KEYS[rng.below(KEYS.len())] } else { OWN };
        let full = i % 8 == 0;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let first = store.sample_envelope(key, &input, now, &mut scratch);
            if full {
                parse_parts(&input);
            }
            first
        }));
        match outcome {
            Err(p) => findings.record("envelope", i, &input, format!("panic: {}", panic_message(&*p))),
            Ok(result) => {
                if let Some(problem) = undefined_answer(&result) {
                    findings.record("envelope", i, &input, problem);
                }
                match &result {
                    Ok(d) => {
                        decided += 1;
                        match d.outcome.decision {
                            Decision::Keep => kept += 1,
                            Decision::Drop => dropped += 1,
                            Decision::NoMatch => {}
                        }
                    }
                    Err(e) => {
                        refused += 1;
                        codes[e.code() as usize % 7] += 1;
                    }
                }
                // The same bytes read the same way again (reservoir counters aside).
                if full {
                    let again = store.sample_envelope(key, &input, now, &mut scratch);
                    let same = match (&result, &again) {
                        (Err(a), Err(b)) => a == b,
                        (Ok(a), Ok(b)) => {
                            (a.kind, a.span_count, a.invalid_dsc, a.unknown_root_key, a.keep_reason)
                                == (b.kind, b.span_count, b.invalid_dsc, b.unknown_root_key, b.keep_reason)
                        }
                        _ => false,
                    };
                    if !same {
                        findings.record("envelope", i, &input, format!("not deterministic: {result:?} then {again:?}"));
                    }
                }
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "fuzz_engine envelopes: FUZZ_SEED={seed} {total} envelopes ({:.1} MB) in {:.2} s: {decided} decided ({kept} keep, {dropped} drop), {refused} refused (codes 1-6: {:?}), {} failures",
        bytes as f64 / 1e6,
        elapsed.as_secs_f64(),
        &codes[1..],
        findings.count
    );
    findings.assert_none("envelope");
    // The run reached both sides: decisions and every kind of refusal.
    assert!(decided > total / 20 && refused > total / 20, "decided {decided}, refused {refused}");
    assert!(codes[1..].iter().all(|&n| n > 0), "every envelope error code was produced: {:?}", &codes[1..]);
}

#[test]
fn mutated_configs_are_installed_or_rejected() {
    let seed = seed().wrapping_add(1);
    let total = count("FUZZ_CONFIGS", 100_000, 2_000);
    let envelope_seeds = envelope_seeds();
    let configs = config_seeds();
    let store = store_with_projects(&configs);
    let mut rng = Rng::new(seed);
    let mut findings = Findings { seed, ..Findings::default() };
    let mut scratch = Scratch::new();
    let mut envelope = Vec::new();
    let (mut installed, mut rejected, mut not_utf8, mut sampled) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    let now = now();
    const TARGET: u128 = 0x1111_2222_3333_4444_5555_6666_7777_8888;
    store.put(TARGET, 50, 1, None).expect("target project");
    for i in 0..total {
        let bytes = mutated_config(&mut rng, &configs);
        // The binding takes a JavaScript string: only UTF-8 text reaches `put`.
        let Ok(text) = std::str::from_utf8(&bytes) else {
            not_utf8 += 1;
            continue;
        };
        let before = store.get(TARGET).expect("target project");
        let outcome = catch_unwind(AssertUnwindSafe(|| store.put(TARGET, 50, 1, Some(text))));
        match outcome {
            Err(p) => {
                findings.record("config", i, &bytes, format!("panic: {}", panic_message(&*p)));
                continue;
            }
            Ok(Ok(())) => installed += 1,
            Ok(Err(e)) => {
                rejected += 1;
                if e.message.is_empty() {
                    findings.record("config", i, &bytes, "rejected without a message".into());
                }
                // A rejected config leaves the previous one in force.
                let after = store.get(TARGET).expect("target project");
                if !std::sync::Arc::ptr_eq(&before, &after) {
                    findings.record("config", i, &bytes, "a rejected config replaced the previous one".into());
                }
            }
        }
        // Every config, installed or not, then decides for envelopes sent to it and to its
        // trace (as own project and as root).
        for _ in 0..2 {
            mutated_envelope(&mut rng, &envelope_seeds, &mut envelope);
            if rng.one_in(2) {
                replace_value_of(&mut envelope, &mut rng, b"public_key", format!("\"{TARGET:032x}\"").as_bytes());
            }
            let key = if rng.one_in(2) { TARGET } else { OWN };
            match catch_unwind(AssertUnwindSafe(|| store.sample_envelope(key, &envelope, now, &mut scratch))) {
                Err(p) => findings.record(
                    "config then envelope",
                    i,
                    &[&bytes[..], b"\n---\n", &envelope[..]].concat(),
                    format!("panic: {}", panic_message(&*p)),
                ),
                Ok(result) => {
                    sampled += 1;
                    if let Some(problem) = undefined_answer(&result) {
                        findings.record("config then envelope", i, &[&bytes[..], b"\n---\n", &envelope[..]].concat(), problem);
                    }
                }
            }
        }
        // The JSON entry point (what `parse`/`explain` use) on configs that are JSON.
        if i % 4 == 0 {
            if let Ok(value) = serde_json::from_str::<Value>(text) {
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| sampling_core::api::parse_request("samplingConfig", &value))) {
                    findings.record("parse_request", i, &bytes, format!("panic: {}", panic_message(&*p)));
                }
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "fuzz_engine configs: FUZZ_SEED={seed} {total} configs in {:.2} s: {installed} installed, {rejected} rejected, {not_utf8} not UTF-8 (skipped), {sampled} envelopes decided with them, {} failures",
        elapsed.as_secs_f64(),
        findings.count
    );
    findings.assert_none("config");
    assert!(installed > total / 20 && rejected > total / 20, "installed {installed}, rejected {rejected}");
}
