//! Identifier scrubbing of URL-like transaction names: path segments holding UUIDs, SHA-1 or MD5
//! digests, timestamps, hex literals or runs of two or more digits become `*`
//! (`/users/1234/orders/98765` → `/users/*/orders/*`).
//!
//! Relay does this with one expression over the whole name: alternatives of the form
//! "rest of segment, identifier, rest of segment" (and, for numbers, "separator, segment with two
//! adjacent digits"), searched leftmost first. Every alternative that matches covers exactly one
//! whole segment (the text between `/` or `\` separators), so the result is the same when each
//! segment is tested on its own: a segment is replaced when it contains an identifier, or when
//! it has two adjacent digits that are not hidden behind a `%` that does not start a `%XX`
//! escape. Testing segments is several times faster than the whole-name search, and most segments
//! are ruled out without any expression (`might_hold_identifier`). The tests check the two forms
//! against each other.
//!
//! A name that would become empty or just `*` is left as it is.

use std::sync::OnceLock;

use regex::Regex;

/// Identifiers that can appear anywhere in a segment.
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
    let hex_literal = r"\b0[xX][0-9a-fA-F]+\b";
    format!("{uuid}|{sha1}|{md5}|(?:{iso})|(?:{asctime})|(?:{rfc2822})|{hex_literal}")
}

/// A segment whose two adjacent digits are reachable: every `%` before them starts a `%XX` escape.
const NUMBER_PATTERN: &str = r"^(?:[^%]|%[0-9a-fA-F]{2})*\d{2}";

struct Patterns {
    identifier: Regex,
    number: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| Patterns {
        identifier: Regex::new(&identifier_pattern()).expect("the identifier pattern compiles"),
        number: Regex::new(NUMBER_PATTERN).expect("the number pattern compiles"),
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

/// Whether a segment (without separators) is replaced by `*`.
fn holds_identifier(segment: &str) -> bool {
    // `\d` also matches non-ASCII digits: only ASCII segments can be ruled out cheaply.
    if segment.is_empty() || (segment.is_ascii() && !might_hold_identifier(segment.as_bytes())) {
        return false;
    }
    let p = patterns();
    p.number.is_match(segment) || p.identifier.is_match(segment)
}

/// Writes `name` with its identifiers replaced by `*` into `out` and returns true, or returns
/// false (leaving `out` untouched) when nothing is replaced or the result would be empty or `*`.
pub fn scrub_identifiers_into(name: &str, out: &mut String) -> bool {
    let start_len = out.len();
    let mut last = 0;
    let mut changed = false;
    let mut segment_start = 0;
    for (i, c) in name.char_indices().chain(std::iter::once((name.len(), '/'))) {
        if c != '/' && c != '\\' {
            continue;
        }
        let segment = &name[segment_start..i];
        if holds_identifier(segment) {
            out.push_str(&name[last..segment_start]);
            out.push('*');
            last = i;
            changed = true;
        }
        segment_start = i + c.len_utf8();
    }
    if !changed {
        return false;
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
    scrub_identifiers_into(name, &mut out).then_some(out)
}

/// The whole-name form (Relay's shape of the expression), as the reference for the tests.
#[cfg(test)]
fn reference_scrub(name: &str) -> Option<String> {
    static WHOLE: OnceLock<Regex> = OnceLock::new();
    let whole = WHOLE.get_or_init(|| {
        let r = r"[^/\\]*";
        let ident = identifier_pattern();
        Regex::new(&format!(r"(?P<id>{r}(?:{ident}){r})|(?:^|[/\\])(?P<int>(?:[^%/\\]|%[0-9a-fA-F]{{2}})*\d{{2,}}{r})")).unwrap()
    });
    let mut spans: Vec<(usize, usize)> = whole
        .captures_iter(name)
        .filter_map(|c| c.name("id").or_else(|| c.name("int")).map(|m| (m.start(), m.end())))
        .collect();
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
        assert_eq!(scrub("/api/v2/orgs/acme/projects/7f3b2c1a-1111-4222-8333-944445555666/items/98765"), "/api/v2/orgs/acme/projects/*/items/*");
        assert_eq!(scrub("/blob/da39a3ee5e6b4b0d3255bfef95601890afd80709"), "/blob/*");
        assert_eq!(scrub("/md5/d41d8cd98f00b204e9800998ecf8427e/x"), "/md5/*/x");
        assert_eq!(scrub("/day/2023-01-02T10:11:12Z/x"), "/day/*/x");
        assert_eq!(scrub("/mem/0xdeadBEEF"), "/mem/*");
        assert_eq!(scrub("/v1/a"), "/v1/a");
        assert_eq!(scrub("/item-12/a"), "/*/a");
        assert_eq!(scrub(r"C:\files\2023\x"), r"C:\files\*\x");
        assert_eq!(scrub("/a%zz12/b%2012"), "/a%zz12/*");
    }

    #[test]
    fn a_lone_identifier_is_left_alone() {
        assert_eq!(scrub_identifiers("1234"), None);
        assert_eq!(scrub_identifiers("/no/ids/here"), None);
    }

    #[test]
    fn segments_agree_with_the_whole_name_expression() {
        for name in [
            "/users/1234/orders/98765", "/a/٣٤/b", "/x/0x1g/y", "/Tue, 3 Mar 2020 10:00 GMT/a", "/Tue Mar 3 10:00:00 2020",
            "//12//", "12/ab", "/%41%4212", "/%4", "/a%zz12", "/ab-0xff-cd/", "/deadbeefdeadbeefdeadbeefdeadbeef/x",
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
                Just("%2012".to_owned()), Just("٣٤".to_owned()), "[a-z0-9]{1,6}", "0x[0-9a-f]{1,4}",
            ], 0..5)) {
            let name = format!("/{}", parts.join("/"));
            prop_assert_eq!(scrub_identifiers(&name), reference_scrub(&name));
        }
    }
}
