//! A condition's list of patterns, with a literal prefilter (one Aho-Corasick search rejects
//! most haystacks for all patterns at once).

use super::*;

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
