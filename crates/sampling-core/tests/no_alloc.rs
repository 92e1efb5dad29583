//! Steady-state decisions allocate nothing: counted with a global allocator wrapper.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sampling_core::decision::Scratch;
use sampling_core::plan::{Fate, TagShape};
use sampling_core::store::Store;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is global: tests that count run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const KEY: u128 = 0xabd0f232775f45feab79864e580d160b;

/// A config like the ones Sentry generates: health checks, environments, release boost with
/// decay, low-volume transaction factors (enough to be indexed) and the base rate.
fn config() -> String {
    let mut rules = vec![
        r#"{"id":1002,"type":"transaction","condition":{"op":"or","inner":[{"op":"glob","name":"event.transaction","value":["*healthcheck*","*healthy*","*live*","*ready*","*heartbeat*","*/health","*/healthz","*/ping"]}]},"samplingValue":{"type":"sampleRate","value":0.05}}"#.to_owned(),
        r#"{"id":1001,"type":"trace","condition":{"op":"or","inner":[{"op":"glob","name":"trace.environment","value":["*debug*","*dev*","*local*","*qa*","*test*"]}]},"samplingValue":{"type":"sampleRate","value":1.0}}"#.to_owned(),
        r#"{"id":1500,"type":"trace","condition":{"op":"and","inner":[{"op":"eq","name":"trace.release","value":["shop@1.2.0"]},{"op":"eq","name":"trace.environment","value":["production"]}]},"samplingValue":{"type":"factor","value":1.5},"timeRange":{"start":"2024-01-01T00:00:00Z","end":"2024-01-02T00:00:00Z"},"decayingFn":{"type":"linear","decayedValue":1.0}}"#.to_owned(),
    ];
    for i in 0..40 {
        rules.push(format!(
            r#"{{"id":{},"type":"trace","condition":{{"op":"or","inner":[{{"op":"eq","name":"trace.transaction","value":["/api/t{i}"],"options":{{"ignoreCase":true}}}}]}},"samplingValue":{{"type":"factor","value":2.0}}}}"#,
            1400 + i
        ));
    }
    rules.push(
        r#"{"id":1000,"type":"trace","condition":{"op":"and","inner":[]},"samplingValue":{"type":"sampleRate","value":0.25}}"#.to_owned(),
    );
    format!(r#"{{"version":2,"rules":[{}]}}"#, rules.join(","))
}

fn envelope(i: usize, spans: bool) -> Vec<u8> {
    let trace_id = format!("{:032x}", (i as u128).wrapping_mul(0x9e3779b97f4a7c15f39cc0605cedc834));
    let header = format!(
        r#"{{"event_id":"{trace_id}","trace":{{"trace_id":"{trace_id}","public_key":"{KEY:032x}","release":"shop@1.2.0","environment":"production","transaction":"/api/t{}","sample_rate":"1","sampled":"true"}}}}"#,
        i % 50
    );
    if spans {
        format!("{header}\n{{\"type\":\"span\",\"item_count\":1,\"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{{\"items\":[{{\"trace_id\":\"{trace_id}\",\"span_id\":\"0123456789abcdef\",\"name\":\"x\"}}]}}\n").into_bytes()
    } else if i % 3 == 0 {
        // A transaction without any event id (a fresh one seeds it), spans next to it, and an error.
        let event = format!(
            r#"{{"type":"transaction","transaction":"/api/t{}","contexts":{{"trace":{{"trace_id":"{trace_id}"}}}},"spans":[]}}"#,
            i % 50
        );
        let header = header.replacen(&format!(r#""event_id":"{trace_id}","#), "", 1);
        format!(
            "{header}\n{{\"type\":\"transaction\"}}\n{event}\n{{\"type\":\"span\",\"item_count\":1,\"content_type\":\"application/vnd.sentry.items.span.v2+json\"}}\n{{\"items\":[{{\"trace_id\":\"{trace_id}\"}}]}}\n{{\"type\":\"event\"}}\n{{\"message\":\"boom\"}}\n"
        )
        .into_bytes()
    } else {
        let event = format!(
            r#"{{"event_id":"{trace_id}","type":"transaction","transaction":"/api/t{}","contexts":{{"trace":{{"trace_id":"{trace_id}"}}}},"spans":[]}}"#,
            i % 50
        );
        format!("{header}\n{{\"type\":\"transaction\",\"length\":{}}}\n{event}\n", event.len()).into_bytes()
    }
}

#[test]
fn steady_state_decisions_do_not_allocate() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let store = Store::new();
    store.put(KEY, 1, 1, Some(&config())).unwrap();
    // Plans carry everything a server reads, roots and releases included.
    store.set_counting(true);
    let envelopes: Vec<Vec<u8>> = (0..200).map(|i| envelope(i, i % 2 == 0)).collect();
    let now = chrono::DateTime::parse_from_rfc3339("2024-01-01T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let mut scratch = Scratch::new();
    // Warm-up: scratch buffers grow to their steady size.
    for e in &envelopes {
        store.sample_envelope(KEY, e, now, &mut scratch).unwrap();
    }
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let (mut kept, mut mixed, mut tagged) = (0, 0, 0);
    let (mut items, mut edits, mut roots, mut removed) = (0, 0, 0, 0);
    for _ in 0..10 {
        for e in &envelopes {
            let d = store.sample_envelope(KEY, e, now, &mut scratch).unwrap();
            kept += usize::from(d.outcome.decision.is_kept());
            mixed += usize::from(d.span_outcome.is_some());
            tagged += usize::from(d.trace_fully_sampled.is_some());
            let plan = &scratch.plan;
            items += plan.items.len();
            edits += plan.items.iter().filter(|i| i.tag.shape != TagShape::None).count();
            removed += plan.items.iter().filter(|i| i.fate == Fate::Sampled).count();
            roots += (plan.counts.transactions + plan.counts.segments) as usize;
        }
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(after - before, 0, "decisions allocated {} times", after - before);
    assert!(kept > 0);
    assert!(
        items > 0 && edits > 0 && removed > 0 && roots > 0,
        "plans: {items} items, {edits} tag edits, {removed} removed, {roots} roots"
    );
    assert!(mixed > 0 && tagged > 0, "mixed envelopes were decided ({mixed} span decisions, {tagged} tags)");
}

/// Rules that read normalizable fields: URL names scrubbed (event and DSC) and a browser context
/// derived from the user agent. Once buffers and the user-agent cache are warm, nothing allocates.
#[test]
fn steady_state_normalization_does_not_allocate() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let config = r#"{"version":2,"rules":[
        {"id":2,"type":"transaction","condition":{"op":"eq","name":"event.contexts.browser.name","value":["Firefox"]},"samplingValue":{"type":"factor","value":0.5}},
        {"id":1,"type":"transaction","condition":{"op":"glob","name":"event.transaction","value":["/users/*/orders/*"]},"samplingValue":{"type":"sampleRate","value":0.5}},
        {"id":3,"type":"trace","condition":{"op":"eq","name":"trace.transaction","value":["/users/*/profile"]},"samplingValue":{"type":"factor","value":2.0}},
        {"id":4,"type":"trace","condition":{"op":"and","inner":[]},"samplingValue":{"type":"sampleRate","value":0.25}}]}"#;
    let store = Store::new();
    store.put(KEY, 1, 1, Some(config)).unwrap();
    let agents = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    ];
    let envelopes: Vec<Vec<u8>> = (0..100u128)
        .map(|i| {
            let trace_id = format!("{:032x}", i.wrapping_mul(0x9e3779b97f4a7c15f39cc0605cedc834) | 1);
            let name = if i % 2 == 0 { format!("/users/{}/orders/{}", 1000 + i, 20 + i) } else { format!("/users/{}/profile", 10 + i) };
            let header = format!(r#"{{"event_id":"{trace_id}","trace":{{"trace_id":"{trace_id}","public_key":"{KEY:032x}","transaction":"{name}"}}}}"#);
            let event = format!(
                r#"{{"event_id":"{trace_id}","type":"transaction","transaction":"{name}","transaction_info":{{"source":"url"}},"request":{{"headers":[["User-Agent","{}"]]}},"contexts":{{"trace":{{"trace_id":"{trace_id}"}}}}}}"#,
                agents[(i as usize / 2) % 2]
            );
            format!("{header}\n{{\"type\":\"transaction\",\"length\":{}}}\n{event}\n", event.len()).into_bytes()
        })
        .collect();
    let now = chrono::DateTime::parse_from_rfc3339("2024-01-01T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let mut scratch = Scratch::new();
    let mut matched = [0usize; 5];
    for e in &envelopes {
        store.sample_envelope(KEY, e, now, &mut scratch).unwrap();
    }
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..10 {
        for e in &envelopes {
            store.sample_envelope(KEY, e, now, &mut scratch).unwrap();
            for &id in &scratch.matched_ids {
                matched[id as usize] += 1;
            }
        }
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(after - before, 0, "decisions allocated {} times", after - before);
    // Every normalized field made some rule match: the work was really done.
    assert!(matched[1] > 0 && matched[2] > 0 && matched[3] > 0, "{matched:?}");
}
