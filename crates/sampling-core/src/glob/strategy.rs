//! The matching strategy chosen once per pattern: exact literal, prefix, suffix, contains (the
//! literal fast paths, with their case folding) or the general matcher.

use super::*;

#[derive(Debug, Clone)]
pub(super) enum MatchStrategy {
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
    pub(super) fn new(mut tokens: Vec<Tok>) -> MatchStrategy {
        match tokens.as_mut_slice() {
            [] => MatchStrategy::Never,
            [Tok::Star] => MatchStrategy::Always,
            [Tok::Lit(lit)] => MatchStrategy::Literal(Needle::new(std::mem::take(lit))),
            [Tok::Lit(lit), Tok::Star] => MatchStrategy::Prefix(Needle::new(std::mem::take(lit))),
            [Tok::Star, Tok::Lit(lit)] => MatchStrategy::Suffix(Needle::new(std::mem::take(lit))),
            [Tok::Star, Tok::Lit(lit), Tok::Star] => MatchStrategy::Contains(Box::new(Substring::new(lit))),
            _ => MatchStrategy::General(Box::new(General::new(&tokens))),
        }
    }
}

/// The haystack lowercased char by char.
pub(super) fn folded(haystack: &str) -> impl DoubleEndedIterator<Item = char> + '_ {
    haystack.chars().flat_map(char::to_lowercase)
}

/// A lowercase literal for the exact, prefix and suffix strategies.
#[derive(Debug, Clone)]
pub(super) struct Needle {
    pub(super) text: Box<str>,
    pub(super) ascii: bool,
}

impl Needle {
    pub(super) fn new(text: String) -> Needle {
        Needle { ascii: text.is_ascii(), text: text.into_boxed_str() }
    }

    pub(super) fn equals(&self, haystack: &str) -> bool {
        if haystack.is_ascii() {
            return self.ascii && haystack.len() == self.text.len() && haystack.as_bytes().eq_ignore_ascii_case(self.text.as_bytes());
        }
        folded(haystack).eq(self.text.chars())
    }

    pub(super) fn starts(&self, haystack: &str) -> bool {
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

    pub(super) fn ends(&self, haystack: &str) -> bool {
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
pub(super) const LOWERED_MAX: usize = 256;

/// Bytes of lowercased haystack searched at a time without allocating.
pub(super) const FOLD_BUF: usize = 512;
/// The most bytes one char can lowercase to (three chars of four bytes).
pub(super) const MAX_FOLD_BYTES: usize = 12;

/// A lowercase literal for the contains strategy.
#[derive(Debug, Clone)]
pub(super) struct Substring {
    pub(super) finder: memmem::Finder<'static>,
    pub(super) ascii: bool,
    /// Without ASCII letters an ASCII haystack can be searched as is.
    pub(super) has_letters: bool,
}

impl Substring {
    pub(super) fn new(text: &str) -> Substring {
        Substring {
            finder: memmem::Finder::new(text.as_bytes()).into_owned(),
            ascii: text.is_ascii(),
            has_letters: text.bytes().any(|b| b.is_ascii_alphabetic()),
        }
    }

    pub(super) fn found_in(&self, haystack: &str) -> bool {
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
            return self.finder.find(haystack.to_lowercase().as_bytes()).is_some();
        }
        folded_contains(&self.finder, haystack)
    }
}

/// Searches the ASCII-lowercased `haystack` through a stack buffer, chunk by chunk, keeping
/// `needle - 1` bytes between chunks so no occurrence is split.
pub(super) fn ascii_folded_contains(finder: &memmem::Finder<'_>, haystack: &[u8]) -> bool {
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
pub(super) fn folded_contains(finder: &memmem::Finder<'_>, haystack: &str) -> bool {
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
