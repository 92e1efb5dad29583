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

pub use self::list::GlobList;
use self::{matcher::*, parse::*, strategy::*};

mod list;
mod matcher;
mod parse;
mod strategy;
#[cfg(test)]
mod tests;

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
        let tokens = Parser::parse(pattern).map_err(|kind| GlobError { pattern: pattern.to_owned(), kind })?;
        let required = tokens
            .iter()
            .filter_map(|t| match t {
                Tok::Lit(lit) if lit.is_ascii() && !lit.is_empty() => Some(lit.as_str()),
                _ => None,
            })
            .max_by_key(|lit| lit.len())
            .map(Into::into);
        Ok(Glob { pattern: pattern.to_owned(), strategy: MatchStrategy::new(tokens), required })
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
