//! Identifier scrubbing of URL-like transaction names: path segments holding UUIDs, SHA-1 or MD5
//! digests, timestamps, hex literals or runs of two or more digits become `*`
//! (`/users/1234/orders/98765` → `/users/*/orders/*`).
//!
//! Relay does this with one expression searched over the whole name, leftmost first, with the
//! alternatives below in this order. Most cover one whole segment (the text between `/` or `\`
//! separators); two quirks of the expression are kept: the ISO-date alternative ends at the
//! date (`2009-02-07T19:13Z?page=56` → `*?page=56`), and the `asctime` and RFC 2822 dates are
//! not widened to the segment start. No alternative crosses a separator, which allows a fast
//! path: a segment after a separator with two adjacent digits (not hidden behind a `%` that does
//! not start a `%XX` escape) is matched by the number alternative before anything else can start
//! in it, so it becomes `*` without running the expression. Other segments run the expression
//! restricted to the segment, and most are ruled out before (`might_hold_identifier`). The tests
//! check this against the plain whole-name search.
//!
//! A name that would become empty or just `*` is left as it is.

use std::sync::OnceLock;

use regex::{CaptureLocations, Regex};

/// The expression, shaped like Relay's (alternatives and their grouping matter, see above).
fn identifier_pattern() -> String {
    let r = r"[^/\\]*";
    let hex = "[0-9a-fA-F]";
    let uuid = format!(r"\b{hex}{{8}}-{hex}{{4}}-{hex}{{4}}-{hex}{{4}}-{hex}{{12}}\b");
    let sha1 = format!(r"\b{hex}{{40}}\b");
    let md5 = format!(r"\b{hex}{{32}}\b");
    // ISO 8601 with fractional seconds, with seconds, or with minutes only; each with an offset or Z.
    let offset = r"([+-][0-2]\d:[0-5]\d|Z)";
    let ymd_hm = r"\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d";
    let iso = format!(r"(?:(?:{ymd_hm}:[0-5]\d\.\d+{offset})|(?:{ymd_hm}:[0-5]\d{offset})|(?:{ymd_hm}{offset}))");
    let months = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec";
    let days = "Sun|Mon|Tue|Wed|Thu|Fri|Sat";
    // `Tue Mar 3 10:00:00 2020` (C's asctime).
    let asctime = format!(r"(?:\b(?:({days})\s+)?(?:{months})\s+(?:[\d]{{1,2}})\s+(?:[\d]{{2}}:[\d]{{2}}:[\d]{{2}})\s+[\d]{{4}})");
    // `Tue, 3 Mar 2020 10:00 GMT` (RFC 2822).
    let rfc2822 = format!(
        r"(?:\b(?:({days}),\s+)?(?:0[1-9]|[1-2]?[\d]|3[01])\s+(?:{months})\s+(?:19[\d]{{2}}|[2-9][\d]{{3}})\s+(?:2[0-3]|[0-1][\d]):([0-5][\d])(?::(60|[0-5][\d]))?\s+(?:[-\+][\d]{{2}}[0-5][\d]|(?:UT|GMT|(?:E|C|M|P)(?:ST|DT)|[A-IK-Z])))"
    );
    let hex_literal = r"\b0[xX][0-9a-fA-F]+\b";
    let number = r"(?:[^%/\\]|%[0-9a-fA-F]{2})*\d{2,}";
    format!(
        "(?P<uuid>{r}{uuid}{r})|(?P<sha1>{r}{sha1}{r})|(?P<md5>{r}{md5}{r})|(?P<date>{r}{iso}|{asctime}|{rfc2822}{r})|(?P<hex>{r}{hex_literal}{r})|(?:^|[/\\\\])(?P<int>{number}{r})"
    )
}

/// A segment whose two adjacent digits are reachable: every `%` before them starts a `%XX` escape.
const NUMBER_PATTERN: &str = r"^(?:[^%]|%[0-9a-fA-F]{2})*\d{2}";

struct Patterns {
    whole: Regex,
    /// Indexes of the named groups, in the order they are checked.
    groups: [usize; 6],
    number: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let whole = Regex::new(&identifier_pattern()).expect("the identifier pattern compiles");
        let index = |name: &str| whole.capture_names().position(|n| n == Some(name)).expect("named group");
        let groups = ["uuid", "sha1", "md5", "date", "hex", "int"].map(index);
        Patterns { whole, groups, number: Regex::new(NUMBER_PATTERN).expect("the number pattern compiles") }
    })
}

/// Whether an ASCII segment can hold an identifier at all: every alternative needs two adjacent
/// digits (numbers, dates), `0x` (hex literals) or a run of at least eight hex digits (UUIDs,
/// digests).
fn might_hold_identifier(segment: &[u8]) -> bool {
    let mut hex_run = 0;
    let mut previous_digit = false;
    for (i, &c) in segment.iter().enumerate() {
        let digit = c.is_ascii_digit();
        if digit && previous_digit {
            return true;
        }
        if c == b'0' && matches!(segment.get(i + 1), Some(b'x' | b'X')) {
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

/// Reusable buffers, so that steady-state scrubbing does not allocate.
#[derive(Debug, Default)]
pub struct ScrubBuffers {
    locations: Option<CaptureLocations>,
    spans: Vec<(usize, usize)>,
}

/// Collects the spans to replace in the segment `name[start..end]`, searching from `from` (the
/// separator before it, or 0).
fn segment_spans(name: &str, from: usize, start: usize, end: usize, buffers: &mut ScrubBuffers) {
    let segment = &name[start..end];
    // `\d` also matches non-ASCII digits: only ASCII segments can be ruled out cheaply.
    if segment.is_empty() || (segment.is_ascii() && !might_hold_identifier(segment.as_bytes())) {
        return;
    }
    let p = patterns();
    if start > 0 && p.number.is_match(segment) {
        buffers.spans.push((start, end));
        return;
    }
    // The segment's end is a separator or the end of the name: cutting the haystack there changes
    // no match (`\b` sees a non-word character either way).
    let haystack = &name[..end];
    let locations = buffers.locations.get_or_insert_with(|| p.whole.capture_locations());
    let mut at = from;
    while at < end {
        let Some(whole) = p.whole.captures_read_at(locations, haystack, at) else { break };
        if let Some(span) = p.groups.iter().find_map(|&g| locations.get(g)) {
            buffers.spans.push(span);
        }
        // Every alternative consumes at least two characters; never loop on an empty match.
        at = whole.end().max(whole.start() + 1);
        while at < end && !name.is_char_boundary(at) {
            at += 1;
        }
    }
}

/// Writes `name` with its identifiers replaced by `*` into `out` and returns true, or returns
/// false (leaving `out` untouched) when nothing is replaced or the result would be empty or `*`.
pub fn scrub_identifiers_into(name: &str, out: &mut String, buffers: &mut ScrubBuffers) -> bool {
    buffers.spans.clear();
    let mut segment_start: usize = 0;
    for (i, c) in name.char_indices().chain(std::iter::once((name.len(), '/'))) {
        if c != '/' && c != '\\' {
            continue;
        }
        let from = segment_start.saturating_sub(1);
        segment_spans(name, from, segment_start, i, buffers);
        segment_start = i + c.len_utf8();
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

/// The plain whole-name search (how Relay runs the expression), as the reference for the tests.
#[cfg(test)]
fn reference_scrub(name: &str) -> Option<String> {
    let p = patterns();
    let mut spans: Vec<(usize, usize)> =
        p.whole.captures_iter(name).filter_map(|c| p.groups.iter().find_map(|&g| c.get(g)).map(|m| (m.start(), m.end()))).collect();
    if spans.is_empty() {
        return None;
    }
    spans.sort_by_key(|&(_, end)| end);
    let mut out = String::new();
    let mut last = 0;
    for (start, end) in spans {
        out.push_str(&name[last..start]);
        out.push('*');
        last = end;
    }
    out.push_str(&name[last..]);
    (!out.is_empty() && out != "*").then_some(out)
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
        assert_eq!(
            scrub("/api/v2/orgs/acme/projects/7f3b2c1a-1111-4222-8333-944445555666/items/98765"),
            "/api/v2/orgs/acme/projects/*/items/*"
        );
        assert_eq!(scrub("/blob/da39a3ee5e6b4b0d3255bfef95601890afd80709"), "/blob/*");
        assert_eq!(scrub("/md5/d41d8cd98f00b204e9800998ecf8427e/x"), "/md5/*/x");
        assert_eq!(scrub("/day/2023-01-02T10:11:12Z/x"), "/day/*/x");
        assert_eq!(scrub("/mem/0xdeadBEEF"), "/mem/*");
        assert_eq!(scrub("/v1/a"), "/v1/a");
        assert_eq!(scrub("/item-12/a"), "/*/a");
        assert_eq!(scrub(r"C:\files\2023\x"), r"C:\files\*\x");
        assert_eq!(scrub("/a%zz12/b%2012"), "/a%zz12/*");
        // The ISO-date alternative ends at the date; asctime dates are not widened.
        assert_eq!(scrub("2009-02-07T19:13Z?page=56"), "*?page=56");
        assert_eq!(scrub("/a%zz Tue Mar 3 10:00:00 2020 x/b"), "/a%zz * x/b");
    }

    #[test]
    fn a_lone_identifier_is_left_alone() {
        assert_eq!(scrub_identifiers("1234"), None);
        assert_eq!(scrub_identifiers("/no/ids/here"), None);
    }

    #[test]
    fn segments_agree_with_the_whole_name_expression() {
        for name in [
            "/users/1234/orders/98765",
            "/a/٣٤/b",
            "/x/0x1g/y",
            "/Tue, 3 Mar 2020 10:00 GMT/a",
            "/Tue Mar 3 10:00:00 2020",
            "//12//",
            "12/ab",
            "/%41%4212",
            "/%4",
            "/a%zz12",
            "/ab-0xff-cd/",
            "/deadbeefdeadbeefdeadbeefdeadbeef/x",
            "2009-02-07T19:13Z?page=56",
            "x2009-02-07T19:13Z 2010-01-01T00:00Z y/z",
            "/%zzTue, 3 Mar 2020 10:00 GMT tail/x",
        ] {
            assert_eq!(scrub_identifiers(name), reference_scrub(name), "{name}");
        }
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn segments_agree_with_the_whole_name_expression(name in r"[/\\a-gA-GxXTZ0-9:. ,+%-]{0,48}") {
            prop_assert_eq!(scrub_identifiers(&name), reference_scrub(&name));
        }

        #[test]
        fn segments_agree_on_dates_and_ids(parts in proptest::collection::vec(
            prop_oneof![
                Just("Tue Mar 3 10:00:00 2020".to_owned()), Just("Tue, 3 Mar 2020 10:00 GMT".to_owned()),
                Just("2023-01-02T10:11:12.5+01:00".to_owned()), Just("67e55044-10b1-426f-9247-bb680e5fe0c8".to_owned()),
                Just("%2012".to_owned()), Just("٣٤".to_owned()), Just("%zz".to_owned()), Just("?q=1".to_owned()),
                Just("2009-02-07T19:13Z".to_owned()), "[a-z0-9]{1,6}", "0x[0-9a-f]{1,4}",
            ], 0..5)) {
            // Parts joined by separators or run together inside one segment, with or without a leading `/`.
            let name = format!("{}{}", if parts.len() % 2 == 0 { "/" } else { "" }, parts.join(if parts.len() % 3 == 0 { " " } else { "/" }));
            prop_assert_eq!(scrub_identifiers(&name), reference_scrub(&name));
        }
    }
}
