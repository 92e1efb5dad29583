use super::*;
use proptest::prelude::*;

fn glob(pattern: &str) -> Glob {
    Glob::new(pattern).unwrap_or_else(|e| panic!("{e}"))
}

#[track_caller]
fn assert_matches(pattern: &str, haystack: &str) {
    assert!(glob(pattern).is_match(haystack), "`{pattern}` should match {haystack:?}");
}

#[track_caller]
fn assert_no_match(pattern: &str, haystack: &str) {
    assert!(!glob(pattern).is_match(haystack), "`{pattern}` should not match {haystack:?}");
}

#[track_caller]
fn assert_invalid(pattern: &str, kind: GlobErrorKind) {
    match Glob::new(pattern) {
        Ok(glob) => panic!("`{pattern}` should be invalid, got {glob:?}"),
        Err(err) => assert_eq!(err.kind(), kind, "`{pattern}`"),
    }
}

fn strategy_name(pattern: &str) -> &'static str {
    match glob(pattern).strategy {
        MatchStrategy::Never => "never",
        MatchStrategy::Always => "always",
        MatchStrategy::Literal(_) => "literal",
        MatchStrategy::Prefix(_) => "prefix",
        MatchStrategy::Suffix(_) => "suffix",
        MatchStrategy::Contains(_) => "contains",
        MatchStrategy::General(_) => "general",
    }
}

/// The NFA alone, bypassing strategies and the greedy matcher; both of its simulations
/// are run and must agree.
fn nfa_matches(pattern: &str, haystack: &str) -> bool {
    let tokens = Parser::parse(pattern).unwrap();
    if tokens.is_empty() {
        return false;
    }
    let nfa = Nfa::compile(&tokens);
    let stepwise = nfa.run_stepwise(haystack);
    if let Some(masks) = nfa.run_masks(haystack) {
        assert_eq!(masks, stepwise, "simulations disagree: {pattern:?} vs {haystack:?}");
    }
    stepwise
}

/// A brute-force matcher over the tokens, for haystacks whose chars lowercase to one char.
fn reference_matches(pattern: &str, haystack: &str) -> bool {
    fn flatten(tokens: &[Tok], prefix: Vec<Tok>, out: &mut Vec<Vec<Tok>>) {
        let Some((first, rest)) = tokens.split_first() else {
            out.push(prefix);
            return;
        };
        let choices: Vec<Vec<Tok>> = match first {
            Tok::Alt(branches) => branches.clone(),
            Tok::Opt(inner) => vec![inner.clone(), Vec::new()],
            token => vec![vec![token.clone()]],
        };
        for choice in choices {
            let mut expanded = choice;
            expanded.extend_from_slice(rest);
            let mut next_prefix = prefix.clone();
            let split = expanded.iter().position(|t| matches!(t, Tok::Alt(_) | Tok::Opt(_))).unwrap_or(expanded.len());
            next_prefix.extend_from_slice(&expanded[..split]);
            flatten(&expanded[split..], next_prefix, out);
        }
    }
    fn flat(tokens: &[Tok], h: &[char]) -> bool {
        match tokens.split_first() {
            None => h.is_empty(),
            Some((Tok::Lit(lit), rest)) => {
                let lit: Vec<char> = lit.chars().collect();
                h.len() >= lit.len() && h.iter().zip(&lit).all(|(c, l)| single(c.to_lowercase()) == Some(*l)) && flat(rest, &h[lit.len()..])
            }
            Some((Tok::Any(n), rest)) => h.len() >= *n && flat(rest, &h[*n..]),
            Some((Tok::Class(class), rest)) => !h.is_empty() && class.matches(h[0]) && flat(rest, &h[1..]),
            Some((Tok::Star, rest)) => (0..=h.len()).any(|i| flat(rest, &h[i..])),
            Some((Tok::Alt(_) | Tok::Opt(_), _)) => unreachable!("flattened"),
        }
    }
    let tokens = Parser::parse(pattern).unwrap();
    if tokens.is_empty() {
        return false;
    }
    let mut flats = Vec::new();
    flatten(&tokens, Vec::new(), &mut flats);
    let h: Vec<char> = haystack.chars().collect();
    flats.iter().any(|tokens| flat(tokens, &h))
}

#[test]
fn star_matches_any_run_including_slashes_and_newlines() {
    assert_matches("foo*", "foo/bar___");
    assert_matches("*bar", "foo/\nbar");
    assert_matches("a*b", "a\n/\nb");
    assert_matches("*foo*", "_/_foo_/_");
    assert_no_match("foo*", "/foo");
    assert_no_match("ab*d", "abc");
}

#[test]
fn double_star_is_single_star() {
    assert_matches("foo**", "foo");
    assert_matches("**foo", "xfoo");
    assert_matches("a**b**c", "abc");
    assert_eq!(strategy_name("foo**"), "prefix");
}

#[test]
fn star_alone_matches_empty_string() {
    assert_matches("*", "");
    assert_matches("*", "anything");
    assert_matches("**", "");
}

#[test]
fn empty_pattern_never_matches() {
    assert_no_match("", "");
    assert_no_match("", "foo");
}

#[test]
fn question_mark_matches_exactly_one_scalar() {
    assert_matches("?", "ඞ");
    assert_matches("?", "İ");
    assert_no_match("??", "aaa");
    assert_no_match("??", "a");
    assert_matches("a?a?a", "abaca");
    assert_no_match("foo*?*", "foo");
    assert_matches("foo*?*", "foo_");
    assert_matches("?*?*foo", "__foo");
    assert_no_match("?*?*foo", "_foo");
}

#[test]
fn literals_are_case_insensitive_both_ways() {
    assert_matches("foo", "fOo");
    assert_matches("FOO", "foo");
    assert_matches("fOo*", "FOO___");
    assert_matches("*BaR", "xbAr");
    assert_matches("*issip*PI", "mississippi");
    assert_no_match("foo", "fooo");
}

#[test]
fn haystack_uses_full_unicode_lowercase() {
    // `İ` lowercases to `i` + U+0307, on either side.
    assert_matches("İ", "i\u{307}");
    assert_matches("i\u{307}", "İ");
    assert_matches("İ*", "i\u{307}___");
    assert_no_match("İ*", "i____");
    assert_matches("*İ", "___İ");
    assert_no_match("*İ", "___i");
    assert_matches("*\u{307}x", "İx");
    // The Kelvin sign lowercases to an ASCII `k`.
    assert_matches("k", "\u{212A}");
    assert_matches("*ok*", "O\u{212A}");
}

#[test]
fn literal_ending_inside_an_expansion_resumes_before_that_char() {
    // Relay only counts whole chars as consumed by a literal, so the `İ` is still there.
    assert_matches("i[İ]", "İ");
    assert_matches("i?", "İ");
    assert_no_match("i[x]", "İ");
}

#[test]
fn class_matches_listed_chars_and_ranges() {
    assert_matches("[abc]", "b");
    assert_matches("[a-c]x", "bx");
    assert_no_match("[a-c]", "d");
    assert_matches("x[ab]x", "XBx");
    assert_matches("[ax-zf-h]", "g");
    assert_no_match("[a-c]", "");
}

#[test]
fn negated_class_excludes_both_cases() {
    assert_matches("[!ab]", "c");
    assert_no_match("[!ab]", "A");
    assert_no_match("[!a-z]", "Q");
    assert_matches("[!a-z]", "1");
    assert_no_match("[!a]", "");
}

#[test]
fn class_ranges_are_not_folded_but_each_char_is_tried_in_both_cases() {
    // `[Z-a]` spans `Z [ \ ] ^ _ ` a`: `z` matches through its uppercase.
    assert_matches("[Z-a]", "z");
    assert_matches("[Z-a]", "_");
    assert_no_match("[Z-a]", "y");
    // `ſ` uppercases to `S`.
    assert_matches("[S]", "ſ");
    assert_matches("[A-C]", "b");
    // `İ` has no single-char lowercase, but is its own uppercase.
    assert_matches("[İ]", "İ");
    assert_no_match("[i]", "İ");
    // Titlecase `ǅ` is neither its lowercase `ǆ` nor its uppercase `Ǆ`.
    assert_no_match("[ǅ]", "ǅ");
    assert_matches("[ǆ]", "ǅ");
}

#[test]
fn dash_is_literal_first_or_last_in_a_class() {
    assert_matches("[-a]", "-");
    assert_matches("[a-]", "-");
    assert_matches("[!-]", "a");
    assert_no_match("[!-]", "-");
    assert_matches("[a-]", "a");
    assert_no_match("[a-]", "b");
}

#[test]
fn chained_dash_extends_the_previous_range() {
    // `[a-b-c]` is the range a..c.
    assert_matches("[a-b-c]", "c");
    assert_no_match("[a-b-c]", "-");
    // `[--a]` is the range `-`..`a`.
    assert_matches("[--a]", "0");
    assert_matches("[--a]", "-");
    assert_no_match("[--a]", "{");
    // `b` is outside, but its uppercase `B` is inside.
    assert_matches("[--a]", "b");
    assert_invalid("[c-d-a]", GlobErrorKind::InvalidRange('c', 'a'));
}

#[test]
fn escapes_inside_a_class_are_literal() {
    assert_matches(r"[\]]", "]");
    assert_matches(r"[\[]", "[");
    assert_matches(r"[\-a]", "-");
    assert_matches(r"[a\-c]", "-");
    assert_no_match(r"[a\-c]", "b");
    assert_matches(r"[\!]", "!");
    assert_matches(r"[\]-a]", "_");
    assert_invalid(r"[a-\]]", GlobErrorKind::InvalidRange('a', ']'));
}

#[test]
fn empty_class_is_dropped_from_the_pattern() {
    assert_matches("a[]b", "ab");
    assert_matches("a[!]b", "ab");
    assert_no_match("[]", "");
    assert_no_match("[!]", "x");
    assert_eq!(strategy_name("a[]b"), "literal");
    assert_eq!(strategy_name("*[]*"), "always");
}

#[test]
fn alternation_matches_any_branch() {
    assert_matches("{foo,bar}", "BAR");
    assert_no_match("{foo,bar}", "baar");
    assert_matches("{foo,abc}{def,bar}", "abcbar");
    assert_matches("foo/{*.js,*.html}", "foo/a.html");
    assert_no_match("foo/{*.js,*.html}", "foo/bar.png");
    assert_matches("{[fb][oa][or]}", "bar");
    assert_matches("a{b,c}*", "acxyz");
    assert_matches("*{b,c}", "xyzc");
}

#[test]
fn bare_star_branch_turns_the_group_into_a_star() {
    assert_matches("a{*,b}c", "axyzc");
    assert_matches("{foo,*}", "");
    assert_matches("{foo,**}", "whatever");
    assert_eq!(strategy_name("{foo,*}"), "always");
    // `*x` is not a bare star.
    assert_no_match("{foo,*x}", "");
}

#[test]
fn empty_branch_after_the_first_makes_the_group_optional() {
    assert_matches("{foo,bar,}baz", "baz");
    assert_matches("{foo,bar,}baz", "foobaz");
    assert_matches("{foo,bar,}baz", "BARbaz");
    assert_no_match("{foo,bar,}baz", "quxbaz");
    assert_matches("{x,,y}z", "z");
    assert_matches("{x,,y}z", "yz");
    assert_matches("{foo,}", "");
    assert_matches("foo{/,}", "foo");
    assert_matches("foo{/,}", "foo/");
}

#[test]
fn leading_empty_branch_is_swallowed() {
    // The first comma opens the branch the next tokens fill: `{,x}` is `x`, not optional.
    assert_matches("{,x}", "x");
    assert_no_match("foo{,/}", "foo");
    assert_matches("foo{,/}", "foo/");
    assert_no_match("{,x}", "");
    assert_matches("a{,x}b", "axb");
    assert_no_match("a{,x}b", "ab");
    // A second leading comma is a real empty branch.
    assert_matches("a{,,x}b", "ab");
}

#[test]
fn all_empty_alternation_never_matches() {
    assert_no_match("{,}", "");
    assert_no_match("{,}x", "x");
    assert_no_match("x{,}", "x");
    assert_no_match("*{,}*", "anything");
    assert_no_match("{,,}", "");
}

#[test]
fn empty_braces_are_removed() {
    assert_no_match("{}", "");
    assert_matches("foo{}", "foo");
    assert_matches("a{}b", "ab");
    assert_eq!(strategy_name("a{}b"), "literal");
    assert_eq!(strategy_name("{}"), "never");
}

#[test]
fn single_branch_group_is_spliced_in() {
    assert_eq!(strategy_name("*{foo}*"), "contains");
    assert_eq!(strategy_name("{*}"), "always");
    assert_matches("a{b}c", "ABC");
}

#[test]
fn unclosed_brace_drops_the_unfinished_alternation() {
    assert_matches("a{b,c", "a");
    assert_no_match("a{b,c", "ab");
    assert_no_match("a{b,c", "a{b,c");
    assert_no_match("{abc", "");
    assert_no_match("{abc", "{abc");
    assert_invalid("a{b[", GlobErrorKind::UnbalancedClass);
}

#[test]
fn backslash_escapes_any_char() {
    assert_matches(r"\*", "*");
    assert_no_match(r"\*", "x");
    assert_matches(r"f\{b,a,r\}o", "f{b,a,r}o");
    assert_matches(r"f\\o", r"f\o");
    assert_matches(r"\?", "?");
    assert_matches(r"\[x\]", "[x]");
    assert_matches(r"{a\,b,c}", "a,b");
    assert_matches(r"/api/0/organizations/\{organization_slug\}/event*", "/api/0/organizations/{organization_slug}/event/foobar");
}

#[test]
fn bang_and_comma_outside_their_context_are_literal() {
    assert_matches("!foo", "!FOO");
    assert_no_match("!foo", "bar");
    assert_matches("a,b", "a,b");
}

#[test]
fn invalid_patterns_are_rejected() {
    assert_invalid("\\", GlobErrorKind::DanglingEscape);
    assert_invalid("foo\\", GlobErrorKind::DanglingEscape);
    assert_invalid("[a\\", GlobErrorKind::DanglingEscape);
    assert_invalid("[", GlobErrorKind::UnbalancedClass);
    assert_invalid("[a", GlobErrorKind::UnbalancedClass);
    assert_invalid("[!", GlobErrorKind::UnbalancedClass);
    assert_invalid("]", GlobErrorKind::UnbalancedClass);
    assert_invalid("a]", GlobErrorKind::UnbalancedClass);
    assert_invalid("[]]", GlobErrorKind::UnbalancedClass);
    assert_invalid("[[", GlobErrorKind::NestedClass);
    assert_invalid("[a[b]", GlobErrorKind::NestedClass);
    assert_invalid("[b-a]", GlobErrorKind::InvalidRange('b', 'a'));
    assert_invalid("[a--]", GlobErrorKind::InvalidRange('a', '-'));
    assert_invalid("}", GlobErrorKind::UnbalancedAlternation);
    assert_invalid("{a}}", GlobErrorKind::UnbalancedAlternation);
    assert_invalid("{a,{b}}", GlobErrorKind::NestedAlternation);
    assert_invalid("{{", GlobErrorKind::NestedAlternation);
}

#[test]
fn error_names_the_pattern_and_the_reason() {
    let err = Glob::new("[b-a]").unwrap_err();
    assert_eq!(err.pattern(), "[b-a]");
    assert_eq!(err.to_string(), "invalid glob pattern `[b-a]`: invalid character range `b-a`");
}

#[test]
fn compiled_globs_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Glob>();
    assert_send_sync::<GlobList>();
}

#[test]
fn pattern_returns_the_source_text() {
    assert_eq!(glob("FoO*").pattern(), "FoO*");
    assert_eq!(glob("FoO*").to_string(), "FoO*");
}

#[test]
fn strategy_is_chosen_from_the_token_shape() {
    assert_eq!(strategy_name("foo"), "literal");
    assert_eq!(strategy_name("foo*"), "prefix");
    assert_eq!(strategy_name("*foo"), "suffix");
    assert_eq!(strategy_name("*foo*"), "contains");
    assert_eq!(strategy_name("*"), "always");
    assert_eq!(strategy_name("foo?*"), "general");
    assert_eq!(strategy_name("*?foo"), "general");
    assert_eq!(strategy_name("*{foo,bar}*"), "general");
}

#[test]
fn contains_strategy_lowercases_the_haystack_as_a_whole_string() {
    // Whole-string lowercasing turns a word-final `Σ` into `ς`...
    assert_matches("*ς*", "ΑΣ");
    assert_no_match("*σ*", "ΑΣ");
    assert_matches("*σ*", "ΑΣΑ");
    // ...while the other strategies lowercase char by char (`Σ` is always `σ`).
    assert_matches("ασ", "ΑΣ");
    assert_no_match("ας", "ΑΣ");
    assert_matches("*ασ", "ΑΣ");
    assert_matches("α?σ*", "ΑxΣ");
}

#[test]
fn pattern_literal_runs_are_lowercased_as_strings() {
    // `ΑΣ` in a pattern lowercases to `ας`, which a char-by-char `ΑΣ` haystack never equals;
    // split into two runs, the `Σ` is not word-final.
    assert_no_match("ΑΣ", "ΑΣ");
    assert_matches("*ΑΣ*", "ΑΣ");
    assert_matches("Α{}Σ", "ΑΣ");
}

#[test]
fn contains_searches_long_haystacks_across_buffer_chunks() {
    for len in [FOLD_BUF - 3, FOLD_BUF, FOLD_BUF * 3 + 7] {
        let mut haystack = "x".repeat(len);
        haystack.push_str("NeEdLe");
        assert_matches("*needle*", &haystack);
        assert_no_match("*needles*", &haystack);
        let mut wide = "ä".repeat(len);
        wide.push_str("NEEDLE");
        wide.push_str(&"ö".repeat(len));
        assert_matches("*needle*", &wide);
        assert_no_match("*needles*", &wide);
    }
    let long_needle = "n".repeat(FOLD_BUF);
    let pattern = format!("*{long_needle}*");
    assert_matches(&pattern, &format!("ab{}cd", long_needle.to_uppercase()));
    assert_matches(&pattern, &format!("äb{}cd", long_needle.to_uppercase()));
    assert_no_match(&pattern, &"n".repeat(FOLD_BUF - 1));
}

#[test]
fn long_patterns_fall_back_to_heap_state_sets() {
    let pattern = format!("{{a,b}}{}", "?".repeat(400));
    assert_matches(&pattern, &format!("a{}", "x".repeat(400)));
    assert_no_match(&pattern, &format!("a{}", "x".repeat(399)));
    assert_matches(&pattern, &format!("b{}", "ä".repeat(400)));
}

#[test]
fn hostile_patterns_complete_on_large_input() {
    let ascii = "a".repeat(10_000);
    let wide = "ä".repeat(10_000);
    for pattern in ["*a*a*a*a*a*b", "*a*a*a*a*a*a*a*a*a*a*a*a*b*", "*a?a?a?a?a*b", "{x,y,}*a*a*a*a*a*b", "*{a,b}*{a,b}*{a,b}*{a,b}*c"] {
        assert_no_match(pattern, &ascii);
        let wide_pattern = pattern.replace('a', "ä");
        assert_no_match(&wide_pattern, &wide);
    }
    assert_matches("*a*a*a*a*a*a", &ascii);
    assert_matches("{x,y,}*ä*ä*ä*ä*ä*ä", &wide);
}

#[test]
fn glob_list_drops_invalid_patterns_and_matches_any() {
    let list = GlobList::new(["[invalid", "foobar"]);
    assert!(!list.is_empty());
    assert_eq!(list.globs().len(), 1);
    assert!(list.is_match("FOOBAR"));
    assert!(!list.is_match("foo"));

    let only_invalid = GlobList::new(["["]);
    assert!(only_invalid.is_empty());
    assert!(!only_invalid.is_match("["));

    let several = GlobList::new(["*.js", "", "api/*"]);
    assert!(several.is_match("API/users"));
    assert!(several.is_match("x.JS"));
    assert!(!several.is_match(""));
}

#[test]
fn relay_condition_vectors() {
    // The glob cases of Relay's condition tests: (patterns, haystack, expected).
    let cases: &[(&[&str], &str, bool)] = &[
        (&["foo"], "fOo", true),
        (&["*"], "", true),
        (&["foo*"], "foo/bar___", true),
        (&["foo*?*"], "foo", false),
        (&["?"], "ඞ", true),
        (&["??"], "aaa", false),
        (&["a?a?a"], "abaca", true),
        (&["[a-c]"], "d", false),
        (&["x[ab]x"], "XBx", true),
        (&["[!ab]"], "A", false),
        (&["{foo,bar}"], "BAR", true),
        (&["foo/{*.js,*.html}"], "foo/bar.png", false),
        (&["{foo,abc}{def,bar}"], "abcbar", true),
        (&["*issip*PI"], "mississippi", true),
        (&["ab*d"], "abc", false),
        (&["[invalid", "foobar"], "FOOBAR", true),
        (&["["], "[", false),
        (&["a[]b"], "ab", true),
    ];
    for &(patterns, haystack, expected) in cases {
        let list = GlobList::new(patterns.iter().copied());
        assert_eq!(list.is_match(haystack), expected, "{patterns:?} vs {haystack:?}");
    }
}

#[test]
fn prefiltered_lists_agree_with_their_patterns() {
    // The health-check and environment lists of the generated configs (both prefiltered), on
    // names made of their pieces, in both cases.
    let lists = [
        GlobList::new([
            "*healthcheck*",
            "*heartbeat*",
            "*/health{/,}",
            "*/healthy{/,}",
            "*/healthz{/,}",
            "*/health_check{/,}",
            "*/_health{/,}",
            r"*/\[_health\]{/,}",
            "*/live{/,}",
            "*/livez{/,}",
            "*/ready{/,}",
            "*/readyz{/,}",
            "*/ping{/,}",
            "*/up{/,}",
        ]),
        GlobList::new(["*debug*", "*dev*", "*local*", "*qa*", "*test*"]),
    ];
    let pieces = [
        "/",
        "health",
        "HEALTH",
        "z",
        "y",
        "_check",
        "[_health]",
        "live",
        "ready",
        "ping",
        "up",
        "heart",
        "beat",
        "check",
        "api",
        "users",
        "de",
        "v",
        "bug",
        "loc",
        "al",
        "q",
        "a",
        "test",
        "production",
        "Qa",
        "-",
        "x",
    ];
    let mut state = 0x853c_49e6_748f_ea9b_u64;
    let mut matched = [0; 2];
    for _ in 0..20_000 {
        let mut name = String::new();
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        for k in 0..(state >> 60) {
            name.push_str(pieces[((state >> (k * 4)) as usize) % pieces.len()]);
        }
        for (list, count) in lists.iter().zip(&mut matched) {
            let expected = list.globs().iter().any(|g| g.is_match(&name));
            assert_eq!(list.is_match(&name), expected, "{name:?}");
            *count += usize::from(expected);
        }
    }
    // Both outcomes are exercised.
    assert!(matched.iter().all(|&n| n > 200 && n < 19_800), "{matched:?}");
}

/// Literal text without glob syntax, mixing ASCII with chars whose case mapping is unusual.
fn literal_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/._iİßẞK\u{212A}ſǅǆ\u{307}äÄΣσς]{1,4}"
}

fn haystack_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/._iİßẞK\u{212A}ſǅǆ\u{307}äÄΣσς]{0,10}"
}

/// Pieces of brace-free ASCII patterns.
fn simple_piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "A", "ab", "Ba", "/", "*", "?", "[ab]", "[!a]", "[a-b]", "[B]"])
}

fn braced_piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a", "b", "B", "*", "?", "[ab]", "[!a]", "{a,b}", "{a,}", "{,b}", "{ab,b*}", "{*,a}", "{,}", "{}", "{a?,[b]}", "{a,,b}", "ä",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn fast_paths_agree_with_the_nfa(lit in literal_text(), haystack in haystack_text()) {
        for pattern in [lit.clone(), format!("{lit}*"), format!("*{lit}")] {
            prop_assert_eq!(
                glob(&pattern).is_match(&haystack),
                nfa_matches(&pattern, &haystack),
                "pattern {:?}", pattern
            );
        }
        // The contains quirk differs from char-by-char folding only for a capital sigma.
        if !haystack.contains('Σ') {
            let pattern = format!("*{lit}*");
            prop_assert_eq!(
                glob(&pattern).is_match(&haystack),
                nfa_matches(&pattern, &haystack),
                "pattern {:?}", pattern
            );
        }
    }

    #[test]
    fn fast_paths_agree_with_the_nfa_on_ascii(
        lit in "[a-zA-Z/.]{1,3}",
        haystack in "[a-zA-Z/.]{0,8}",
    ) {
        for pattern in [
            lit.clone(),
            format!("{lit}*"),
            format!("*{lit}"),
            format!("*{lit}*"),
        ] {
            prop_assert_eq!(
                glob(&pattern).is_match(&haystack),
                nfa_matches(&pattern, &haystack),
                "pattern {:?}", pattern
            );
        }
    }

    #[test]
    fn greedy_segments_agree_with_the_nfa_and_reference(
        pieces in prop::collection::vec(simple_piece(), 1..7),
        haystack in "[abAB/]{0,10}",
    ) {
        let pattern = pieces.concat();
        let tokens = Parser::parse(&pattern).unwrap();
        let expected = reference_matches(&pattern, &haystack);
        prop_assert_eq!(nfa_matches(&pattern, &haystack), expected, "nfa {:?}", pattern);
        if let Some(segments) = Segments::new(&tokens) {
            if !tokens.is_empty() {
                prop_assert_eq!(
                    segments.is_match(haystack.as_bytes()), expected, "greedy {:?}", pattern
                );
            }
        }
        prop_assert_eq!(glob(&pattern).is_match(&haystack), expected, "glob {:?}", pattern);
    }

    #[test]
    fn alternations_agree_with_the_reference(
        pieces in prop::collection::vec(braced_piece(), 1..6),
        haystack in "[abAB/äÄ]{0,8}",
    ) {
        let pattern = pieces.concat();
        let expected = reference_matches(&pattern, &haystack);
        prop_assert_eq!(glob(&pattern).is_match(&haystack), expected, "glob {:?}", pattern);
        prop_assert_eq!(nfa_matches(&pattern, &haystack), expected, "nfa {:?}", pattern);
    }

    #[test]
    fn nfa_simulations_agree_around_multi_char_lowercase(
        pieces in prop::collection::vec(braced_piece(), 1..6),
        haystack in "[aiIİ\u{307}xä]{0,8}",
    ) {
        // `nfa_matches` asserts that the bit-parallel and stepwise simulations agree.
        nfa_matches(&pieces.concat().replace('b', "i"), &haystack);
    }
}
