//! Identifier scrubbing of URL-like transaction names: path segments holding UUIDs, SHA-1 or MD5
//! digests, timestamps, hex literals or runs of two or more digits become `*`
//! (`/users/1234/orders/98765` → `/users/*/orders/*`).
//!
//! The alternatives are tried in the order below at each position, leftmost first, as Relay's
//! transaction-name normalizer does; a match replaces the whole segment around the identifier
//! (up to the neighbouring `/` or `\`), except for numbers, whose replacement starts after the
//! separator.

use std::sync::OnceLock;

use regex::{CaptureLocations, Regex};

/// Anything up to a path separator, on either side of an identifier.
const SEGMENT_REST: &str = r"[^/\\]*";

fn identifier_pattern() -> String {
    let hex = "[0-9a-fA-F]";
    let uuid = format!(r"\b{hex}{{8}}-{hex}{{4}}-{hex}{{4}}-{hex}{{4}}-{hex}{{12}}\b");
    let sha1 = format!(r"\b{hex}{{40}}\b");
    let md5 = format!(r"\b{hex}{{32}}\b");
    // ISO 8601 with fractional seconds, with seconds, or with minutes only; each with an offset or Z.
    let offset = r"([+-][0-2]\d:[0-5]\d|Z)";
    let ymd_hm = r"\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d";
    let iso = format!(r"(?:{ymd_hm}:[0-5]\d\.\d+{offset})|(?:{ymd_hm}:[0-5]\d{offset})|(?:{ymd_hm}{offset})");
    let months = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec";
    let days = "Sun|Mon|Tue|Wed|Thu|Fri|Sat";
    // `Tue Mar 3 10:00:00 2020` (C's asctime).
    let asctime = format!(r"\b(?:({days})\s+)?(?:{months})\s+(?:[\d]{{1,2}})\s+(?:[\d]{{2}}:[\d]{{2}}:[\d]{{2}})\s+[\d]{{4}}");
    // `Tue, 3 Mar 2020 10:00 GMT` (RFC 2822).
    let rfc2822 = format!(
        r"\b(?:({days}),\s+)?(?:0[1-9]|[1-2]?[\d]|3[01])\s+(?:{months})\s+(?:19[\d]{{2}}|[2-9][\d]{{3}})\s+(?:2[0-3]|[0-1][\d]):([0-5][\d])(?::(60|[0-5][\d]))?\s+(?:[-\+][\d]{{2}}[0-5][\d]|(?:UT|GMT|(?:E|C|M|P)(?:ST|DT)|[A-IK-Z]))"
    );
    let date = format!("(?:{iso})|(?:{asctime})|(?:{rfc2822})");
    let hex_literal = r"\b0[xX][0-9a-fA-F]+\b";
    // A segment holding a run of two or more digits; percent-escapes count as one character.
    let number = r"(?:[^%/\\]|%[0-9a-fA-F]{2})*\d{2,}";
    let r = SEGMENT_REST;
    format!(
        "(?P<uuid>{r}{uuid}{r})|(?P<sha1>{r}{sha1}{r})|(?P<md5>{r}{md5}{r})|(?P<date>{r}{date}{r})|(?P<hex>{r}{hex_literal}{r})|(?:^|[/\\\\])(?P<int>{number}{r})"
    )
}

/// The compiled pattern and the indexes of its named groups, in the order they are checked.
struct Scrubber {
    regex: Regex,
    groups: [usize; 6],
}

fn scrubber() -> &'static Scrubber {
    static SCRUBBER: OnceLock<Scrubber> = OnceLock::new();
    SCRUBBER.get_or_init(|| {
        let regex = Regex::new(&identifier_pattern()).expect("the identifier pattern compiles");
        let index = |name: &str| regex.capture_names().position(|n| n == Some(name)).expect("named group");
        let groups = ["uuid", "sha1", "md5", "date", "hex", "int"].map(index);
        Scrubber { regex, groups }
    })
}

/// Whether an ASCII name can hold an identifier at all: every alternative needs two adjacent
/// digits (numbers, dates), `0x` (hex literals) or a run of at least eight hex digits (UUIDs,
/// digests). Most route-like names have none, and skip the expression.
fn might_hold_identifier(name: &[u8]) -> bool {
    let mut hex_run = 0;
    let mut previous_digit = false;
    for (i, &c) in name.iter().enumerate() {
        let digit = c.is_ascii_digit();
        if digit && previous_digit {
            return true;
        }
        if c == b'0' && matches!(name.get(i + 1), Some(b'x' | b'X')) {
            return true;
        }
        hex_run = if c.is_ascii_hexdigit() { hex_run + 1 } else { 0 };
        if hex_run >= 8 {
            return true;
        }
        previous_digit = digit;
    }
    false
}

/// Reusable buffers for scrubbing, so that steady-state scrubbing does not allocate.
#[derive(Debug, Default)]
pub struct ScrubBuffers {
    locations: Option<CaptureLocations>,
    spans: Vec<(usize, usize)>,
}

/// Writes `name` with its identifiers replaced by `*` into `out` and returns true, or returns
/// false (leaving `out` untouched) when nothing is replaced or the result would be empty or `*`.
pub fn scrub_identifiers_into(name: &str, out: &mut String, buffers: &mut ScrubBuffers) -> bool {
    // `\d` also matches non-ASCII digits: only ASCII names can be ruled out cheaply.
    if name.is_ascii() && !might_hold_identifier(name.as_bytes()) {
        return false;
    }
    let scrubber = scrubber();
    if !scrubber.regex.is_match(name) {
        return false;
    }
    let locations = buffers.locations.get_or_insert_with(|| scrubber.regex.capture_locations());
    buffers.spans.clear();
    let mut at = 0;
    while at <= name.len() {
        let Some(whole) = scrubber.regex.captures_read_at(locations, name, at) else { break };
        if let Some(span) = scrubber.groups.iter().find_map(|&g| locations.get(g)) {
            buffers.spans.push(span);
        }
        // An empty match cannot happen (every alternative consumes a digit), but never loop.
        at = if whole.end() > whole.start() { whole.end() } else { whole.end() + 1 };
        while at < name.len() && !name.is_char_boundary(at) {
            at += 1;
        }
    }
    if buffers.spans.is_empty() {
        return false;
    }
    buffers.spans.sort_by_key(|&(_, end)| end);
    let start_len = out.len();
    let mut last = 0;
    for &(start, end) in &buffers.spans {
        out.push_str(&name[last..start]);
        out.push('*');
        last = end;
    }
    out.push_str(&name[last..]);
    let written = &out[start_len..];
    if written.is_empty() || written == "*" {
        out.truncate(start_len);
        return false;
    }
    true
}

/// `scrub_identifiers_into` returning a new string (for tests and the explain API).
pub fn scrub_identifiers(name: &str) -> Option<String> {
    let mut out = String::new();
    scrub_identifiers_into(name, &mut out, &mut ScrubBuffers::default()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(s: &str) -> String {
        scrub_identifiers(s).unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn numbers_uuids_hashes_and_dates() {
        assert_eq!(scrub("/users/1234/orders/98765"), "/users/*/orders/*");
        assert_eq!(scrub("/api/v2/orgs/acme/projects/7f3b2c1a-1111-4222-8333-944445555666/items/98765"), "/api/v2/orgs/acme/projects/*/items/*");
        assert_eq!(scrub("/blob/da39a3ee5e6b4b0d3255bfef95601890afd80709"), "/blob/*");
        assert_eq!(scrub("/md5/d41d8cd98f00b204e9800998ecf8427e/x"), "/md5/*/x");
        assert_eq!(scrub("/day/2023-01-02T10:11:12Z/x"), "/day/*/x");
        assert_eq!(scrub("/mem/0xdeadBEEF"), "/mem/*");
        assert_eq!(scrub("/v1/a"), "/v1/a");
        assert_eq!(scrub("/item-12/a"), "/*/a");
    }

    #[test]
    fn a_lone_identifier_is_left_alone() {
        assert_eq!(scrub_identifiers("1234"), None);
        assert_eq!(scrub_identifiers("/no/ids/here"), None);
    }

    #[test]
    fn the_prefilter_never_hides_a_match() {
        for name in ["/a/1/b", "/x/0xf", "/deadbeef", "/dead-beef-12", "/Tue Mar 3 10:00:00 2020", "/v1.2", "/users/{id}", "/ab/٣٤"] {
            let filtered = name.is_ascii() && !might_hold_identifier(name.as_bytes());
            assert!(!(filtered && scrubber().regex.is_match(name)), "{name}");
        }
    }

    #[test]
    fn buffers_are_reused() {
        let mut buffers = ScrubBuffers::default();
        let mut out = String::new();
        assert!(scrub_identifiers_into("/a/12/b/34", &mut out, &mut buffers));
        assert_eq!(out, "/a/*/b/*");
        out.clear();
        assert!(!scrub_identifiers_into("/a/b", &mut out, &mut buffers));
        assert_eq!(out, "");
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn the_prefilter_is_sound(name in "[/a-gA-GxX0-9:. ,+TZ%-]{0,48}") {
            if !might_hold_identifier(name.as_bytes()) {
                prop_assert!(!scrubber().regex.is_match(&name));
            }
        }
    }
}
