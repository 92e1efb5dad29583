//! Case-insensitive glob patterns for `glob` rule conditions, with the semantics of Relay's
//! `relay-pattern` crate (spec §5).
//!
//! Syntax: `*` any run of chars (`/` and newlines included; `**` is `*`), `?` one char, `[abc]`,
//! `[a-z]`, `[!a-z]` classes, `{a,b}` alternation (not nested), `\x` a literal `x`. Patterns are
//! anchored at both ends; the empty pattern matches nothing, not even "".
//!
//! A pattern is parsed into tokens normalised the way Relay normalises them (the normalisation
//! decides which matching strategy applies, and one strategy has an observable quirk), then a
//! strategy is chosen once: exact literal, prefix, suffix, contains, or a general matcher. The
//! general matcher runs a greedy segment search on ASCII haystacks when the pattern has no braces
//! and a Thompson NFA simulation otherwise, so matching is linear in the haystack for a fixed
//! pattern whatever its shape.
//!
//! Case-insensitivity: literal runs of the pattern are lowercased as strings (`str::to_lowercase`,
//! as Relay does per run); the haystack is lowercased char by char (`char::to_lowercase`), except
//! by the contains strategy, which lowercases it as a whole string (word-final `Σ` becomes `ς`).
//! Relay's backtracking matcher also lowercases the remaining haystack as a whole; this module
//! folds char by char there, as the spec prescribes, so the two can differ only for a capital
//! sigma matched by a general pattern.

use std::fmt;

use memchr::memmem;

// ------------------------------------------------------------------------------------------------
// Errors

/// Why a pattern was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GlobErrorKind {
    /// The pattern ends with a lone `\`.
    DanglingEscape,
    /// A `[` without its `]`, or a `]` without its `[`.
    UnbalancedClass,
    /// A `[` inside a class (a literal `[` there must be escaped).
    NestedClass,
    /// A range whose end comes before its start, such as `[b-a]`.
    InvalidRange(char, char),
    /// A `}` without an opening `{`.
    UnbalancedAlternation,
    /// A `{` inside an alternation.
    NestedAlternation,
}

impl fmt::Display for GlobErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DanglingEscape => f.write_str("dangling escape `\\` at the end"),
            Self::UnbalancedClass => f.write_str("unbalanced character class brackets"),
            Self::NestedClass => f.write_str("`[` inside a character class must be escaped"),
            Self::InvalidRange(start, end) => write!(f, "invalid character range `{start}-{end}`"),
            Self::UnbalancedAlternation => f.write_str("`}` without an opening `{`"),
            Self::NestedAlternation => f.write_str("nested alternations are not supported"),
        }
    }
}

/// A pattern that could not be compiled, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    pattern: String,
    kind: GlobErrorKind,
}

impl GlobError {
    /// The rejected pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Why it was rejected.
    pub fn kind(&self) -> GlobErrorKind {
        self.kind
    }
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid glob pattern `{}`: {}", self.pattern, self.kind)
    }
}

impl std::error::Error for GlobError {}

// ------------------------------------------------------------------------------------------------
// Public types

/// A compiled, always case-insensitive glob pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    pattern: String,
    strategy: MatchStrategy,
    /// The longest ASCII literal every match must contain (lowercase), for list prefilters.
    required: Option<Box<str>>,
}

impl Glob {
    /// Compiles `pattern`; see the module documentation for the syntax.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        let tokens = Parser::parse(pattern).map_err(|kind| GlobError {
            pattern: pattern.to_owned(),
            kind,
        })?;
        let required = tokens
            .iter()
            .filter_map(|t| match t {
                Tok::Lit(lit) if lit.is_ascii() && !lit.is_empty() => Some(lit.as_str()),
                _ => None,
            })
            .max_by_key(|lit| lit.len())
            .map(Into::into);
        Ok(Glob {
            pattern: pattern.to_owned(),
            strategy: MatchStrategy::new(tokens),
            required,
        })
    }

    /// A lowercase ASCII literal that every haystack this pattern matches contains (once
    /// lowercased), if the pattern has one: indexes use it to skip patterns that cannot match.
    pub fn required_literal(&self) -> Option<&str> {
        self.required.as_deref()
    }

    /// The source text of the pattern.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole of `haystack` matches the pattern, ignoring case.
    /// `is_match` for an ASCII haystack whose lowercase form the caller already made.
    fn is_match_ascii(&self, haystack: &str, lowered: &[u8]) -> bool {
        match &self.strategy {
            MatchStrategy::Never => false,
            MatchStrategy::Always => true,
            MatchStrategy::Literal(needle) => needle.ascii && lowered == needle.text.as_bytes(),
            MatchStrategy::Prefix(needle) => needle.ascii && lowered.starts_with(needle.text.as_bytes()),
            MatchStrategy::Suffix(needle) => needle.ascii && lowered.ends_with(needle.text.as_bytes()),
            MatchStrategy::Contains(substring) => substring.ascii && substring.finder.find(lowered).is_some(),
            MatchStrategy::General(general) => general.is_match(haystack),
        }
    }

    pub fn is_match(&self, haystack: &str) -> bool {
        match &self.strategy {
            MatchStrategy::Never => false,
            MatchStrategy::Always => true,
            MatchStrategy::Literal(needle) => needle.equals(haystack),
            MatchStrategy::Prefix(needle) => needle.starts(haystack),
            MatchStrategy::Suffix(needle) => needle.ends(haystack),
            MatchStrategy::Contains(substring) => substring.found_in(haystack),
            MatchStrategy::General(general) => general.is_match(haystack),
        }
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

/// A list of patterns from one condition: invalid patterns are dropped silently; matches if any
/// matches.
#[derive(Debug, Clone, Default)]
pub struct GlobList {
    globs: Vec<Glob>,
    /// When every pattern needs some literal: one search for all of them rejects most
    /// haystacks at once (ASCII haystacks only).
    prefilter: Option<aho_corasick::AhoCorasick>,
}

/// Below this many patterns a prefilter does not pay for itself.
const PREFILTER_MIN_PATTERNS: usize = 4;

impl GlobList {
    /// Compiles every pattern, keeping the valid ones.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> GlobList {
        let globs: Vec<Glob> = patterns.into_iter().filter_map(|pattern| Glob::new(pattern).ok()).collect();
        let literals: Option<Vec<&str>> = globs.iter().map(|g| g.required.as_deref()).collect();
        let prefilter = literals
            .filter(|l| l.len() >= PREFILTER_MIN_PATTERNS)
            .and_then(|l| aho_corasick::AhoCorasick::new(l).ok());
        GlobList { globs, prefilter }
    }

    /// Whether any pattern matches `haystack`.
    pub fn is_match(&self, haystack: &str) -> bool {
        // Lowercase a short ASCII haystack once for the whole list rather than once per pattern.
        if self.globs.len() > 1 && haystack.len() <= LOWERED_MAX && haystack.is_ascii() {
            let mut buf = [0u8; LOWERED_MAX];
            let lowered = &mut buf[..haystack.len()];
            lowered.copy_from_slice(haystack.as_bytes());
            lowered.make_ascii_lowercase();
            if let Some(prefilter) = &self.prefilter {
                if !prefilter.is_match(&*lowered) {
                    return false;
                }
            }
            return self.globs.iter().any(|glob| glob.is_match_ascii(haystack, lowered));
        }
        self.globs.iter().any(|glob| glob.is_match(haystack))
    }

    /// True when no valid pattern remained (the list then never matches).
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    /// The valid patterns, in their original order.
    pub fn globs(&self) -> &[Glob] {
        &self.globs
    }
}

// ------------------------------------------------------------------------------------------------
// Parsing

/// A parsed, normalised pattern element. Literals are already lowercased.
#[derive(Debug, Clone)]
enum Tok {
    Lit(String),
    /// `n` consecutive `?`.
    Any(usize),
    Star,
    Class(Class),
    /// `{a,b}`; an empty list never matches (`{,}`).
    Alt(Vec<Vec<Tok>>),
    /// Matches its tokens or nothing; written as an alternation with an empty branch (`{a,}`).
    Opt(Vec<Tok>),
}

struct Parser<'a> {
    chars: std::str::Chars<'a>,
    tokens: Vec<Tok>,
    /// Branches of the open `{`, if any.
    group: Option<Vec<Vec<Tok>>>,
    /// The literal run being read, still in its original case.
    literal: String,
}

impl Parser<'_> {
    fn parse(pattern: &str) -> Result<Vec<Tok>, GlobErrorKind> {
        let mut parser = Parser {
            chars: pattern.chars(),
            tokens: Vec::new(),
            group: None,
            literal: String::new(),
        };
        while let Some(c) = parser.chars.next() {
            match c {
                '?' => parser.push(Tok::Any(1)),
                '*' => parser.push(Tok::Star),
                '[' => {
                    let class = parser.class()?;
                    parser.push(Tok::Class(class));
                }
                ']' => return Err(GlobErrorKind::UnbalancedClass),
                '{' => {
                    if parser.group.is_some() {
                        return Err(GlobErrorKind::NestedAlternation);
                    }
                    parser.flush();
                    parser.group = Some(Vec::new());
                }
                '}' => {
                    parser.flush();
                    let branches = parser
                        .group
                        .take()
                        .ok_or(GlobErrorKind::UnbalancedAlternation)?;
                    // `{}` has no branch at all and simply disappears, unlike `{,}`.
                    if !branches.is_empty() {
                        parser.push(Tok::Alt(branches));
                    }
                }
                '\\' => {
                    let escaped = parser.chars.next().ok_or(GlobErrorKind::DanglingEscape)?;
                    parser.literal.push(escaped);
                }
                ',' if parser.group.is_some() => {
                    parser.flush();
                    // A comma before any branch exists opens the branch that the next tokens
                    // fill, so a leading empty branch is swallowed (`{,x}` is `x`), as in Relay.
                    if let Some(branches) = &mut parser.group {
                        branches.push(Vec::new());
                    }
                }
                c => parser.literal.push(c),
            }
        }
        parser.flush();
        // A `{` that is never closed leaves its branches in `group`, dropped here (`a{b,c` = `a`).
        Ok(parser.tokens)
    }

    /// Parses a class after its `[`.
    fn class(&mut self) -> Result<Class, GlobErrorKind> {
        let negated = self.chars.clone().next() == Some('!');
        if negated {
            self.chars.next();
        }
        let mut ranges: Vec<(char, char)> = Vec::new();
        let mut first = true;
        // A `-` was read after a complete item: the next character closes a range.
        let mut open_range = false;
        loop {
            let c = self.chars.next().ok_or(GlobErrorKind::UnbalancedClass)?;
            match c {
                '[' => return Err(GlobErrorKind::NestedClass),
                ']' => break,
                '-' if first => ranges.push(('-', '-')),
                '-' if open_range => {
                    close_range(&mut ranges, '-')?;
                    open_range = false;
                }
                '-' => open_range = true,
                c => {
                    let c = if c == '\\' {
                        self.chars.next().ok_or(GlobErrorKind::DanglingEscape)?
                    } else {
                        c
                    };
                    if open_range {
                        close_range(&mut ranges, c)?;
                        open_range = false;
                    } else {
                        ranges.push((c, c));
                    }
                }
            }
            first = false;
        }
        if open_range {
            // A trailing `-` is literal.
            ranges.push(('-', '-'));
        }
        Ok(Class::new(negated, ranges))
    }

    /// Ends the current literal run. Each run is lowercased on its own, as a string: that is
    /// what Relay does, and it decides the final-sigma form of a `Σ` in the pattern.
    fn flush(&mut self) {
        if !self.literal.is_empty() {
            let lowered = self.literal.to_lowercase();
            self.literal.clear();
            self.push_raw(Tok::Lit(lowered));
        }
    }

    fn push(&mut self, token: Tok) {
        self.flush();
        self.push_raw(token);
    }

    fn push_raw(&mut self, token: Tok) {
        match &mut self.group {
            Some(branches) => {
                if branches.is_empty() {
                    branches.push(Vec::new());
                }
                if let Some(branch) = branches.last_mut() {
                    push_normalized(branch, token);
                }
            }
            None => push_normalized(&mut self.tokens, token),
        }
    }
}

/// Extends the last range of a class to `end`. `[a-b-c]` therefore reads as `a-c`.
fn close_range(ranges: &mut [(char, char)], end: char) -> Result<(), GlobErrorKind> {
    // A range is only opened after an item, so there is a last one.
    if let Some(last) = ranges.last_mut() {
        if last.0 > end {
            return Err(GlobErrorKind::InvalidRange(last.0, end));
        }
        last.1 = end;
    }
    Ok(())
}

/// Appends `token` to `list`, folding redundant tokens exactly as Relay's token list does.
fn push_normalized(list: &mut Vec<Tok>, token: Tok) {
    let token = match token {
        Tok::Alt(mut branches) => {
            let mut had_empty = false;
            let mut had_star = false;
            branches.retain(|branch| {
                had_empty |= branch.is_empty();
                had_star |= matches!(branch.as_slice(), [Tok::Star]);
                !branch.is_empty()
            });
            if had_star {
                Tok::Star
            } else if branches.len() == 1 {
                let branch = branches.pop().unwrap_or_default();
                if had_empty {
                    Tok::Opt(branch)
                } else {
                    // `{abc}` is spliced in, so `*{abc}*` still takes the contains strategy.
                    for token in branch {
                        push_normalized(list, token);
                    }
                    return;
                }
            } else if had_empty && !branches.is_empty() {
                Tok::Opt(vec![Tok::Alt(branches)])
            } else {
                // Includes the all-empty `{,}`, which keeps no branch and never matches.
                Tok::Alt(branches)
            }
        }
        token => token,
    };
    match (list.last_mut(), token) {
        (Some(Tok::Any(n)), Tok::Any(m)) => *n = n.saturating_add(m),
        (Some(Tok::Star), Tok::Star) => {}
        (Some(Tok::Lit(last)), Tok::Lit(more)) => last.push_str(&more),
        // `[]` and `[!]` vanish from the pattern.
        (_, Tok::Class(class)) if class.ranges.is_empty() => {}
        (_, token) => list.push(token),
    }
}

// ------------------------------------------------------------------------------------------------
// Character classes

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    /// Inclusive code point ranges, as written (not case-folded).
    ranges: Box<[(char, char)]>,
    /// The answer for every ASCII character, bit `b` for byte `b`, so the hot path is a shift.
    ascii: u128,
}

impl Class {
    fn new(negated: bool, ranges: Vec<(char, char)>) -> Class {
        let mut class = Class {
            negated,
            ranges: ranges.into_boxed_slice(),
            ascii: 0,
        };
        for b in 0..128u8 {
            if class.matches_char(char::from(b)) {
                class.ascii |= 1 << b;
            }
        }
        class
    }

    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
    }

    /// Relay's case-insensitive rule: a character is in the class when its lowercase or its
    /// uppercase, if a single character, lies in a range (the character itself is not tested).
    fn matches_char(&self, c: char) -> bool {
        let hit = single(c.to_lowercase()).is_some_and(|l| self.contains(l))
            || single(c.to_uppercase()).is_some_and(|u| self.contains(u));
        hit != self.negated
    }

    #[inline]
    fn matches(&self, c: char) -> bool {
        if c.is_ascii() {
            self.matches_ascii(c as u8)
        } else {
            self.matches_char(c)
        }
    }

    /// `b` must be ASCII.
    #[inline]
    fn matches_ascii(&self, b: u8) -> bool {
        (self.ascii >> b) & 1 == 1
    }
}

fn single(mut chars: impl Iterator<Item = char>) -> Option<char> {
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

// ------------------------------------------------------------------------------------------------
// Strategies

#[derive(Debug, Clone)]
enum MatchStrategy {
    /// The empty pattern, which never matches (not even "").
    Never,
    /// `*`.
    Always,
    Literal(Needle),
    Prefix(Needle),
    Suffix(Needle),
    /// Boxed: a `memmem::Finder` is large and this enum sits in every `Glob`.
    Contains(Box<Substring>),
    General(Box<General>),
}

impl MatchStrategy {
    /// Relay picks the strategy from the normalised token shape; so do we, because the
    /// contains strategy's lowercasing is observable.
    fn new(mut tokens: Vec<Tok>) -> MatchStrategy {
        match tokens.as_mut_slice() {
            [] => MatchStrategy::Never,
            [Tok::Star] => MatchStrategy::Always,
            [Tok::Lit(lit)] => MatchStrategy::Literal(Needle::new(std::mem::take(lit))),
            [Tok::Lit(lit), Tok::Star] => MatchStrategy::Prefix(Needle::new(std::mem::take(lit))),
            [Tok::Star, Tok::Lit(lit)] => MatchStrategy::Suffix(Needle::new(std::mem::take(lit))),
            [Tok::Star, Tok::Lit(lit), Tok::Star] => {
                MatchStrategy::Contains(Box::new(Substring::new(lit)))
            }
            _ => MatchStrategy::General(Box::new(General::new(&tokens))),
        }
    }
}

/// The haystack lowercased char by char.
fn folded(haystack: &str) -> impl DoubleEndedIterator<Item = char> + '_ {
    haystack.chars().flat_map(char::to_lowercase)
}

/// A lowercase literal for the exact, prefix and suffix strategies.
#[derive(Debug, Clone)]
struct Needle {
    text: Box<str>,
    ascii: bool,
}

impl Needle {
    fn new(text: String) -> Needle {
        Needle {
            ascii: text.is_ascii(),
            text: text.into_boxed_str(),
        }
    }

    fn equals(&self, haystack: &str) -> bool {
        if haystack.is_ascii() {
            return self.ascii
                && haystack.len() == self.text.len()
                && haystack
                    .as_bytes()
                    .eq_ignore_ascii_case(self.text.as_bytes());
        }
        folded(haystack).eq(self.text.chars())
    }

    fn starts(&self, haystack: &str) -> bool {
        if self.ascii {
            // Lowercasing never yields more ASCII characters than it consumed bytes, so a
            // shorter haystack cannot match; an all-ASCII head folds byte for byte.
            let Some(head) = haystack.as_bytes().get(..self.text.len()) else {
                return false;
            };
            if head.is_ascii() {
                return head.eq_ignore_ascii_case(self.text.as_bytes());
            }
        }
        let mut folded = folded(haystack);
        self.text.chars().all(|c| folded.next() == Some(c))
    }

    fn ends(&self, haystack: &str) -> bool {
        if self.ascii {
            let Some(start) = haystack.len().checked_sub(self.text.len()) else {
                return false;
            };
            let tail = &haystack.as_bytes()[start..];
            if tail.is_ascii() {
                return tail.eq_ignore_ascii_case(self.text.as_bytes());
            }
        }
        let mut folded = folded(haystack).rev();
        self.text.chars().rev().all(|c| folded.next() == Some(c))
    }
}

/// The longest haystack a `GlobList` lowercases once on the stack for all its patterns.
const LOWERED_MAX: usize = 256;

/// Bytes of lowercased haystack searched at a time without allocating.
const FOLD_BUF: usize = 512;
/// The most bytes one char can lowercase to (three chars of four bytes).
const MAX_FOLD_BYTES: usize = 12;

/// A lowercase literal for the contains strategy.
#[derive(Debug, Clone)]
struct Substring {
    finder: memmem::Finder<'static>,
    ascii: bool,
    /// Without ASCII letters an ASCII haystack can be searched as is.
    has_letters: bool,
}

impl Substring {
    fn new(text: &str) -> Substring {
        Substring {
            finder: memmem::Finder::new(text.as_bytes()).into_owned(),
            ascii: text.is_ascii(),
            has_letters: text.bytes().any(|b| b.is_ascii_alphabetic()),
        }
    }

    fn found_in(&self, haystack: &str) -> bool {
        if haystack.is_ascii() {
            return self.ascii
                && if self.has_letters {
                    ascii_folded_contains(&self.finder, haystack.as_bytes())
                } else {
                    self.finder.find(haystack.as_bytes()).is_some()
                };
        }
        // Relay lowercases the whole haystack for this strategy. That differs from char-by-char
        // lowercasing only for a capital sigma (word-final `ς`), so only then allocate for it.
        if haystack.contains('Σ') {
            return self
                .finder
                .find(haystack.to_lowercase().as_bytes())
                .is_some();
        }
        folded_contains(&self.finder, haystack)
    }
}

/// Searches the ASCII-lowercased `haystack` through a stack buffer, chunk by chunk, keeping
/// `needle - 1` bytes between chunks so no occurrence is split.
fn ascii_folded_contains(finder: &memmem::Finder<'_>, haystack: &[u8]) -> bool {
    let n = finder.needle().len();
    if n > haystack.len() {
        return false;
    }
    if n > FOLD_BUF / 2 {
        return finder.find(&haystack.to_ascii_lowercase()).is_some();
    }
    let mut buf = [0u8; FOLD_BUF];
    let mut carry = 0;
    for chunk in haystack.chunks(FOLD_BUF - (n - 1)) {
        let filled = carry + chunk.len();
        for (dst, src) in buf[carry..filled].iter_mut().zip(chunk) {
            *dst = src.to_ascii_lowercase();
        }
        if finder.find(&buf[..filled]).is_some() {
            return true;
        }
        carry = (n - 1).min(filled);
        buf.copy_within(filled - carry..filled, 0);
    }
    false
}

/// Like [`ascii_folded_contains`] for any haystack, lowercasing char by char.
fn folded_contains(finder: &memmem::Finder<'_>, haystack: &str) -> bool {
    let n = finder.needle().len();
    if n > FOLD_BUF / 2 {
        let lowered: String = folded(haystack).collect();
        return finder.find(lowered.as_bytes()).is_some();
    }
    let mut buf = [0u8; FOLD_BUF];
    let mut len = 0;
    for c in haystack.chars() {
        if len + MAX_FOLD_BYTES > FOLD_BUF {
            if finder.find(&buf[..len]).is_some() {
                return true;
            }
            // A kept partial char cannot start a match: matches begin on char boundaries.
            let keep = n.saturating_sub(1);
            buf.copy_within(len - keep..len, 0);
            len = keep;
        }
        if c.is_ascii() {
            buf[len] = c.to_ascii_lowercase() as u8;
            len += 1;
        } else {
            for l in c.to_lowercase() {
                len += l.encode_utf8(&mut buf[len..]).len();
            }
        }
    }
    finder.find(&buf[..len]).is_some()
}

/// Any pattern the simple strategies do not cover.
#[derive(Debug, Clone)]
struct General {
    nfa: Nfa,
    /// The greedy matcher, for brace-free patterns on ASCII haystacks.
    segments: Option<Segments>,
}

impl General {
    fn new(tokens: &[Tok]) -> General {
        General {
            nfa: Nfa::compile(tokens),
            segments: Segments::new(tokens),
        }
    }

    fn is_match(&self, haystack: &str) -> bool {
        match &self.segments {
            Some(segments) if haystack.is_ascii() => segments.is_match(haystack.as_bytes()),
            _ => self.nfa.is_match(haystack),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Greedy segment matcher (ASCII haystacks, patterns without braces)
//
// A brace-free pattern is `head * mid1 * ... * tail`, where every segment has a fixed length in
// ASCII bytes. Anchoring head and tail and taking the leftmost occurrence of each middle segment
// is optimal (it leaves the most room for the rest), so no backtracking is needed.

#[derive(Debug, Clone)]
enum Piece {
    Lit(Box<[u8]>),
    Any(usize),
    Class(Class),
}

#[derive(Debug, Clone, Default)]
struct Segment {
    pieces: Vec<Piece>,
    /// Length in bytes of ASCII input.
    len: usize,
    /// Offset and (lowercase) value of the first literal byte, used to find candidates.
    anchor: Option<(usize, u8)>,
}

impl Segment {
    fn push(&mut self, piece: Piece) {
        let width = match &piece {
            Piece::Lit(bytes) => {
                if self.anchor.is_none() {
                    self.anchor = Some((self.len, bytes[0]));
                }
                bytes.len()
            }
            Piece::Any(n) => *n,
            Piece::Class(_) => 1,
        };
        self.len = self.len.saturating_add(width);
        self.pieces.push(piece);
    }

    /// Whether the segment matches at `at`; the caller guarantees `at + len <= h.len()`.
    /// A non-ASCII literal simply never equals ASCII input.
    fn matches_at(&self, h: &[u8], mut at: usize) -> bool {
        for piece in &self.pieces {
            match piece {
                Piece::Lit(bytes) => {
                    if !h[at..at + bytes.len()].eq_ignore_ascii_case(bytes) {
                        return false;
                    }
                    at += bytes.len();
                }
                Piece::Any(n) => at += n,
                Piece::Class(class) => {
                    if !class.matches_ascii(h[at]) {
                        return false;
                    }
                    at += 1;
                }
            }
        }
        true
    }

    /// The leftmost start in `from..` of an occurrence ending by `end`.
    fn find(&self, h: &[u8], from: usize, end: usize) -> Option<usize> {
        let last = end.checked_sub(self.len).filter(|&last| last >= from)?;
        match self.anchor {
            Some((offset, byte)) => {
                let window = &h[from + offset..=last + offset];
                let upper = byte.to_ascii_uppercase();
                let check = |k: usize| Some(from + k).filter(|&s| self.matches_at(h, s));
                if upper == byte {
                    memchr::memchr_iter(byte, window).find_map(check)
                } else {
                    memchr::memchr2_iter(byte, upper, window).find_map(check)
                }
            }
            None => (from..=last).find(|&s| self.matches_at(h, s)),
        }
    }
}

#[derive(Debug, Clone)]
struct Segments {
    head: Segment,
    middle: Vec<Segment>,
    /// `None` when the pattern has no `*`: then `head` must cover the whole haystack.
    tail: Option<Segment>,
}

impl Segments {
    fn new(tokens: &[Tok]) -> Option<Segments> {
        let mut parts = vec![Segment::default()];
        for token in tokens {
            let piece = match token {
                Tok::Star => {
                    parts.push(Segment::default());
                    continue;
                }
                Tok::Lit(lit) => Piece::Lit(lit.as_bytes().into()),
                Tok::Any(n) => Piece::Any(*n),
                Tok::Class(class) => Piece::Class(class.clone()),
                Tok::Alt(_) | Tok::Opt(_) => return None,
            };
            parts.last_mut()?.push(piece);
        }
        let head = parts.remove(0);
        let tail = parts.pop();
        Some(Segments {
            head,
            middle: parts,
            tail,
        })
    }

    fn is_match(&self, h: &[u8]) -> bool {
        let head = &self.head;
        let Some(tail) = &self.tail else {
            return h.len() == head.len && head.matches_at(h, 0);
        };
        if h.len() < head.len.saturating_add(tail.len) || !head.matches_at(h, 0) {
            return false;
        }
        let end = h.len() - tail.len;
        if !tail.matches_at(h, end) {
            return false;
        }
        let mut pos = head.len;
        for segment in &self.middle {
            match segment.find(h, pos, end) {
                Some(start) => pos = start + segment.len,
                None => return false,
            }
        }
        true
    }
}

// ------------------------------------------------------------------------------------------------
// NFA matcher (everything else)
//
// States sit on the haystack's char boundaries and live in a bitset; each haystack char advances
// every live state at once, so the cost is O(haystack chars × pattern states) with no
// backtracking. `?` and classes consume one original char; literal chars are compared with the
// char's lowercase expansion. For a char whose lowercase is several chars (`İ` → `i̇`) this
// reproduces Relay's bookkeeping: a literal ending inside the expansion leaves the position before
// that char, and a literal right after a `*` may begin inside it.

type Pc = u32;

#[derive(Debug, Clone, Copy)]
enum Inst {
    /// One lowercase literal char; `end` is the instruction after the whole literal.
    Char {
        c: char,
        end: Pc,
    },
    Any,
    Class(Pc),
    /// Loops on any char and falls through to the next instruction. `literal` is the literal that
    /// directly follows, the only place Relay searches inside a char's lowercase expansion.
    Star {
        literal: Option<Pc>,
    },
    Split(Pc, Pc),
    Jmp(Pc),
    /// The all-empty alternation `{,}`.
    Fail,
    Match,
}

/// Bitset words kept on the stack: programs of up to 256 instructions match without allocating.
const INLINE_WORDS: usize = 4;

#[derive(Debug, Clone)]
struct Nfa {
    insts: Vec<Inst>,
    classes: Vec<Class>,
    /// Bitset words per state set.
    words: usize,
    /// Stars from which the end is reachable without input: once live, the haystack matches.
    accepting_stars: Vec<u64>,
    /// For the bit-parallel path (programs of at most `INLINE_WORDS` words, else empty):
    /// `words` words per instruction, the states live after it consumes a char (a star stays
    /// live, the rest move on) with everything reachable from there without input.
    successors: Vec<u64>,
    /// `words` words: the states live before any input.
    initial: Vec<u64>,
    /// `words` words per ASCII byte, the states that consume that byte.
    ascii_moves: Vec<u64>,
}

impl Nfa {
    fn compile(tokens: &[Tok]) -> Nfa {
        let mut nfa = Nfa {
            insts: Vec::new(),
            classes: Vec::new(),
            words: 0,
            accepting_stars: Vec::new(),
            successors: Vec::new(),
            initial: Vec::new(),
            ascii_moves: Vec::new(),
        };
        nfa.emit(tokens);
        nfa.insts.push(Inst::Match);
        nfa.words = nfa.insts.len().div_ceil(64);
        nfa.link_stars();
        if nfa.words <= INLINE_WORDS {
            nfa.precompute_masks();
        }
        nfa
    }

    /// The next instruction index; a pattern would need billions of chars to overflow it.
    fn pc(&self) -> Pc {
        Pc::try_from(self.insts.len()).expect("glob pattern too large")
    }

    fn emit(&mut self, tokens: &[Tok]) {
        for token in tokens {
            match token {
                Tok::Lit(lit) => {
                    let start = self.insts.len();
                    self.insts
                        .extend(lit.chars().map(|c| Inst::Char { c, end: 0 }));
                    let end = self.pc();
                    for inst in &mut self.insts[start..] {
                        if let Inst::Char { end: slot, .. } = inst {
                            *slot = end;
                        }
                    }
                }
                Tok::Any(n) => self.insts.extend(std::iter::repeat_n(Inst::Any, *n)),
                Tok::Star => self.insts.push(Inst::Star { literal: None }),
                Tok::Class(class) => {
                    // Fewer classes than instructions, so the index fits.
                    self.insts.push(Inst::Class(self.classes.len() as Pc));
                    self.classes.push(class.clone());
                }
                Tok::Alt(branches) => self.emit_alternation(branches),
                Tok::Opt(inner) => {
                    let split = self.insts.len();
                    self.insts.push(Inst::Fail);
                    self.emit(inner);
                    self.insts[split] = Inst::Split(split as Pc + 1, self.pc());
                }
            }
        }
    }

    fn emit_alternation(&mut self, branches: &[Vec<Tok>]) {
        let Some((last, rest)) = branches.split_last() else {
            self.insts.push(Inst::Fail);
            return;
        };
        let mut exits = Vec::with_capacity(rest.len());
        for branch in rest {
            let split = self.insts.len();
            self.insts.push(Inst::Fail);
            self.emit(branch);
            exits.push(self.insts.len());
            self.insts.push(Inst::Fail);
            self.insts[split] = Inst::Split(split as Pc + 1, self.pc());
        }
        self.emit(last);
        let end = self.pc();
        for exit in exits {
            self.insts[exit] = Inst::Jmp(end);
        }
    }

    fn link_stars(&mut self) {
        let mut accepting = vec![0u64; self.words];
        for pc in 0..self.insts.len() {
            if !matches!(self.insts[pc], Inst::Star { .. }) {
                continue;
            }
            let mut next = pc + 1;
            while let Inst::Jmp(target) = self.insts[next] {
                next = target as usize;
            }
            let literal = matches!(self.insts[next], Inst::Char { .. }).then_some(next as Pc);
            self.insts[pc] = Inst::Star { literal };
            if self.reaches_match(pc + 1) {
                accepting[pc / 64] |= 1 << (pc % 64);
            }
        }
        self.accepting_stars = accepting;
    }

    /// Whether `Match` is reachable from `from` through moves that consume no input.
    fn reaches_match(&self, from: usize) -> bool {
        contains(&self.closure_of(from), self.insts.len() - 1)
    }

    /// The states reachable from `from` without input, leaving out the literal edges that
    /// depend on a multi-char lowercase expansion.
    fn closure_of(&self, from: usize) -> Vec<u64> {
        let mut set = vec![0u64; self.words];
        let mut todo = vec![from];
        while let Some(pc) = todo.pop() {
            if !insert(&mut set, pc) {
                continue;
            }
            match self.insts[pc] {
                Inst::Jmp(target) => todo.push(target as usize),
                Inst::Split(a, b) => todo.extend([a as usize, b as usize]),
                Inst::Star { .. } => todo.push(pc + 1),
                _ => {}
            }
        }
        set
    }

    fn precompute_masks(&mut self) {
        let words = self.words;
        self.initial = self.closure_of(0);
        self.successors = (0..self.insts.len())
            .flat_map(|pc| match self.insts[pc] {
                Inst::Star { .. } => self.closure_of(pc),
                Inst::Char { .. } | Inst::Any | Inst::Class(_) => self.closure_of(pc + 1),
                // These never consume a char.
                Inst::Split(..) | Inst::Jmp(_) | Inst::Fail | Inst::Match => vec![0; words],
            })
            .collect();
        let mut moves = vec![0u64; 128 * words];
        for b in 0..128u8 {
            let lower = char::from(b.to_ascii_lowercase());
            for (pc, inst) in self.insts.iter().enumerate() {
                let consumes = match *inst {
                    Inst::Char { c, .. } => c == lower,
                    Inst::Class(index) => self.classes[index as usize].matches_ascii(b),
                    Inst::Any | Inst::Star { .. } => true,
                    Inst::Split(..) | Inst::Jmp(_) | Inst::Fail | Inst::Match => false,
                };
                if consumes {
                    insert(&mut moves[usize::from(b) * words..][..words], pc);
                }
            }
        }
        self.ascii_moves = moves;
    }

    fn is_match(&self, haystack: &str) -> bool {
        if !self.successors.is_empty() {
            if let Some(matched) = self.run_masks(haystack) {
                return matched;
            }
        }
        self.run_stepwise(haystack)
    }

    /// The general simulation, computing closures as it goes.
    fn run_stepwise(&self, haystack: &str) -> bool {
        let words = self.words;
        if words <= INLINE_WORDS {
            let mut cur = [0u64; INLINE_WORDS];
            let mut next = [0u64; INLINE_WORDS];
            let mut stack = [0 as Pc; INLINE_WORDS * 64];
            self.run(haystack, &mut cur[..words], &mut next[..words], &mut stack)
        } else {
            self.run(
                haystack,
                &mut vec![0; words],
                &mut vec![0; words],
                &mut vec![0; self.insts.len()],
            )
        }
    }

    /// The bit-parallel simulation: a char advances the live states that consume it, each
    /// bringing its precomputed successor closure. Gives up (`None`) on a char whose lowercase
    /// is several chars, whose literal edges only the stepwise simulation handles.
    fn run_masks(&self, haystack: &str) -> Option<bool> {
        match self.words {
            1 => self.run_masks_in::<1>(haystack),
            2 => self.run_masks_in::<2>(haystack),
            3 => self.run_masks_in::<3>(haystack),
            _ => self.run_masks_in::<INLINE_WORDS>(haystack),
        }
    }

    /// `run_masks` with `W == self.words`, so the set operations compile to fixed-size code.
    fn run_masks_in<const W: usize>(&self, haystack: &str) -> Option<bool> {
        let load = |words: &[u64]| -> [u64; W] { words.try_into().unwrap_or([0; W]) };
        let successors = |pc: usize| load(&self.successors[pc * W..][..W]);
        let accepting = load(&self.accepting_stars);
        let mut cur = load(&self.initial);
        for c in haystack.chars() {
            let mut moving = [0u64; W];
            if c.is_ascii() {
                let consumes = load(&self.ascii_moves[usize::from(c as u8) * W..][..W]);
                for i in 0..W {
                    moving[i] = cur[i] & consumes[i];
                }
            } else {
                let fold = Fold::of(c);
                let [lower] = *fold.as_slice() else {
                    return None;
                };
                for pc in bits(&cur) {
                    let consumes = match self.insts[pc] {
                        Inst::Char { c: expected, .. } => expected == lower,
                        Inst::Class(index) => self.classes[index as usize].matches(c),
                        Inst::Any | Inst::Star { .. } => true,
                        Inst::Split(..) | Inst::Jmp(_) | Inst::Fail | Inst::Match => false,
                    };
                    if consumes {
                        insert(&mut moving, pc);
                    }
                }
            }
            cur = [0; W];
            for pc in bits(&moving) {
                let reached = successors(pc);
                for i in 0..W {
                    cur[i] |= reached[i];
                }
            }
            if cur == [0; W] {
                return Some(false);
            }
            if (0..W).any(|i| cur[i] & accepting[i] != 0) {
                return Some(true);
            }
        }
        Some(contains(&cur, self.insts.len() - 1))
    }

    fn run<'s>(
        &self,
        haystack: &str,
        mut cur: &'s mut [u64],
        mut next: &'s mut [u64],
        stack: &mut [Pc],
    ) -> bool {
        let mut chars = haystack.chars();
        let mut ahead = chars.next().map(|c| (c, Fold::of(c)));
        self.add(cur, stack, 0, ahead.as_ref().map(|(_, f)| f.as_slice()));
        while let Some((c, fold)) = ahead {
            if cur.iter().all(|&word| word == 0) {
                return false;
            }
            if cur
                .iter()
                .zip(&self.accepting_stars)
                .any(|(live, accepting)| live & accepting != 0)
            {
                return true;
            }
            ahead = chars.next().map(|c| (c, Fold::of(c)));
            let look = ahead.as_ref().map(|(_, f)| f.as_slice());
            next.fill(0);
            for pc in bits(cur) {
                self.step(pc, c, fold.as_slice(), next, stack, look);
            }
            std::mem::swap(&mut cur, &mut next);
        }
        contains(cur, self.insts.len() - 1)
    }

    /// Advances state `pc` over the char `c`, whose lowercase is `fold`, into `next`; `look` is
    /// the lowercase of the char after `c`.
    fn step(
        &self,
        pc: usize,
        c: char,
        fold: &[char],
        next: &mut [u64],
        stack: &mut [Pc],
        look: Option<&[char]>,
    ) {
        match self.insts[pc] {
            Inst::Char { end, .. } => {
                if pc + fold.len() <= end as usize && self.literal_matches(pc, fold) {
                    self.add(next, stack, pc + fold.len(), look);
                }
            }
            Inst::Any => self.add(next, stack, pc + 1, look),
            Inst::Class(index) => {
                if self.classes[index as usize].matches(c) {
                    self.add(next, stack, pc + 1, look);
                }
            }
            Inst::Star { literal } => {
                self.add(next, stack, pc, look);
                // The literal after a star may start inside `c`'s expansion.
                if let (Some(start), true) = (literal, fold.len() > 1) {
                    let start = start as usize;
                    let end = self.literal_end(start);
                    for rest in (1..fold.len()).map(|offset| &fold[offset..]) {
                        if start + rest.len() <= end && self.literal_matches(start, rest) {
                            self.add(next, stack, start + rest.len(), look);
                        }
                    }
                }
            }
            Inst::Split(..) | Inst::Jmp(_) | Inst::Fail | Inst::Match => {}
        }
    }

    /// Adds `pc` and every state reachable from it without consuming input to `set`. Whether a
    /// literal ends inside the next char's expansion depends on that char, hence `look`.
    fn add(&self, set: &mut [u64], stack: &mut [Pc], pc: usize, look: Option<&[char]>) {
        if !insert(set, pc) {
            return;
        }
        // Each state enters the stack at most once, so `stack` (one slot per state) suffices.
        stack[0] = pc as Pc;
        let mut len = 1;
        macro_rules! follow {
            ($target:expr) => {{
                let target = $target as usize;
                if insert(set, target) {
                    stack[len] = target as Pc;
                    len += 1;
                }
            }};
        }
        while len > 0 {
            len -= 1;
            let pc = stack[len] as usize;
            match self.insts[pc] {
                Inst::Jmp(target) => follow!(target),
                Inst::Split(a, b) => {
                    follow!(a);
                    follow!(b);
                }
                Inst::Star { literal } => {
                    follow!(pc + 1);
                    // A literal starting and ending strictly inside the next char's expansion
                    // leaves the position before that char. Needs an expansion of three chars,
                    // which current Unicode data lacks; kept so the rule does not hinge on it.
                    if let (Some(start), Some(fold)) = (literal, look) {
                        let start = start as usize;
                        let end = self.literal_end(start);
                        let n = end - start;
                        for offset in 1..fold.len() {
                            if offset + n < fold.len()
                                && self.literal_matches(start, &fold[offset..offset + n])
                            {
                                follow!(end);
                            }
                        }
                    }
                }
                Inst::Char { end, .. } => {
                    // The rest of the literal ends inside the next char's expansion: Relay counts
                    // only whole chars as consumed, so what follows starts before that char.
                    if let Some(fold) = look.filter(|fold| fold.len() > 1) {
                        let rest = end as usize - pc;
                        if rest < fold.len() && self.literal_matches(pc, &fold[..rest]) {
                            follow!(end);
                        }
                    }
                }
                Inst::Any | Inst::Class(_) | Inst::Fail | Inst::Match => {}
            }
        }
    }

    /// Whether the literal chars from `pc` on equal `chars`; the caller keeps within the literal.
    #[inline]
    fn literal_matches(&self, pc: usize, chars: &[char]) -> bool {
        chars
            .iter()
            .enumerate()
            .all(|(i, &x)| matches!(self.insts.get(pc + i), Some(Inst::Char { c, .. }) if *c == x))
    }

    fn literal_end(&self, pc: usize) -> usize {
        match self.insts[pc] {
            Inst::Char { end, .. } => end as usize,
            _ => pc,
        }
    }
}

#[inline]
fn insert(set: &mut [u64], pc: usize) -> bool {
    let (word, bit) = (pc / 64, 1u64 << (pc % 64));
    let fresh = set[word] & bit == 0;
    set[word] |= bit;
    fresh
}

#[inline]
fn contains(set: &[u64], pc: usize) -> bool {
    set[pc / 64] & (1u64 << (pc % 64)) != 0
}

/// The members of a state set, in order.
fn bits(set: &[u64]) -> impl Iterator<Item = usize> + '_ {
    set.iter().enumerate().flat_map(|(index, &word)| {
        let mut word = word;
        std::iter::from_fn(move || {
            (word != 0).then(|| {
                let bit = word.trailing_zeros() as usize;
                word &= word - 1;
                index * 64 + bit
            })
        })
    })
}

/// The lowercase expansion of one haystack char (at most three chars).
#[derive(Debug, Clone, Copy)]
struct Fold {
    chars: [char; 3],
    len: u8,
}

impl Fold {
    #[inline]
    fn of(c: char) -> Fold {
        if c.is_ascii() {
            return Fold {
                chars: [c.to_ascii_lowercase(), '\0', '\0'],
                len: 1,
            };
        }
        let mut fold = Fold {
            chars: ['\0'; 3],
            len: 0,
        };
        for (slot, l) in fold.chars.iter_mut().zip(c.to_lowercase()) {
            *slot = l;
            fold.len += 1;
        }
        fold
    }

    #[inline]
    fn as_slice(&self) -> &[char] {
        &self.chars[..usize::from(self.len)]
    }
}

// ------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn glob(pattern: &str) -> Glob {
        Glob::new(pattern).unwrap_or_else(|e| panic!("{e}"))
    }

    #[track_caller]
    fn assert_matches(pattern: &str, haystack: &str) {
        assert!(
            glob(pattern).is_match(haystack),
            "`{pattern}` should match {haystack:?}"
        );
    }

    #[track_caller]
    fn assert_no_match(pattern: &str, haystack: &str) {
        assert!(
            !glob(pattern).is_match(haystack),
            "`{pattern}` should not match {haystack:?}"
        );
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
            assert_eq!(
                masks, stepwise,
                "simulations disagree: {pattern:?} vs {haystack:?}"
            );
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
                let split = expanded
                    .iter()
                    .position(|t| matches!(t, Tok::Alt(_) | Tok::Opt(_)))
                    .unwrap_or(expanded.len());
                next_prefix.extend_from_slice(&expanded[..split]);
                flatten(&expanded[split..], next_prefix, out);
            }
        }
        fn flat(tokens: &[Tok], h: &[char]) -> bool {
            match tokens.split_first() {
                None => h.is_empty(),
                Some((Tok::Lit(lit), rest)) => {
                    let lit: Vec<char> = lit.chars().collect();
                    h.len() >= lit.len()
                        && h.iter()
                            .zip(&lit)
                            .all(|(c, l)| single(c.to_lowercase()) == Some(*l))
                        && flat(rest, &h[lit.len()..])
                }
                Some((Tok::Any(n), rest)) => h.len() >= *n && flat(rest, &h[*n..]),
                Some((Tok::Class(class), rest)) => {
                    !h.is_empty() && class.matches(h[0]) && flat(rest, &h[1..])
                }
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
        assert_matches(
            r"/api/0/organizations/\{organization_slug\}/event*",
            "/api/0/organizations/{organization_slug}/event/foobar",
        );
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
        assert_eq!(
            err.to_string(),
            "invalid glob pattern `[b-a]`: invalid character range `b-a`"
        );
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
        for pattern in [
            "*a*a*a*a*a*b",
            "*a*a*a*a*a*a*a*a*a*a*a*a*b*",
            "*a?a?a?a?a*b",
            "{x,y,}*a*a*a*a*a*b",
            "*{a,b}*{a,b}*{a,b}*{a,b}*c",
        ] {
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
            assert_eq!(
                list.is_match(haystack),
                expected,
                "{patterns:?} vs {haystack:?}"
            );
        }
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
        prop::sample::select(vec![
            "a", "b", "A", "ab", "Ba", "/", "*", "?", "[ab]", "[!a]", "[a-b]", "[B]",
        ])
    }

    fn braced_piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a", "b", "B", "*", "?", "[ab]", "[!a]", "{a,b}", "{a,}", "{,b}", "{ab,b*}", "{*,a}",
            "{,}", "{}", "{a?,[b]}", "{a,,b}", "ä",
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
}
