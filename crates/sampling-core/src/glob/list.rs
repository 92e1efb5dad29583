//! A condition's list of patterns, with a literal prefilter (one Aho-Corasick search rejects
//! most haystacks for all patterns at once), itself behind a cheaper one: bit sets of pairs of
//! adjacent bytes, two pairs taken from each literal.

use super::*;

/// A list of patterns from one condition: invalid patterns are dropped silently; matches if any
/// matches.
#[derive(Debug, Clone, Default)]
pub struct GlobList {
    globs: Vec<Glob>,
    /// When every pattern needs some literal: one search for all of them rejects most
    /// haystacks at once (ASCII haystacks only).
    prefilter: Option<aho_corasick::AhoCorasick>,
    /// With the prefilter: two byte pairs of each literal (its two rarest), hashed into two bit
    /// sets. A haystack holding a literal holds both its pairs, so one without a pair of each
    /// set holds no literal: a short name is rejected in a few instructions per byte instead of
    /// a search.
    pairs: Option<Box<PairSets>>,
}

/// Byte pairs hashed into 4,096 bits, twice (collisions only cost a search).
#[derive(Debug, Clone)]
struct PairSets {
    first: [u64; 64],
    second: [u64; 64],
}

impl PairSets {
    #[inline]
    fn slot(a: u8, b: u8) -> usize {
        ((usize::from(a) << 5) ^ usize::from(b)) & 0xFFF
    }

    fn insert(set: &mut [u64; 64], pair: &[u8]) {
        let slot = Self::slot(pair[0].to_ascii_lowercase(), pair[1].to_ascii_lowercase());
        set[slot / 64] |= 1 << (slot % 64);
    }

    /// Whether `haystack` holds a pair of each set.
    #[inline]
    fn both_in(&self, haystack: &[u8]) -> bool {
        let (mut first, mut second) = (false, false);
        for w in haystack.windows(2) {
            let slot = Self::slot(w[0], w[1]);
            let bit = 1 << (slot % 64);
            first |= self.first[slot / 64] & bit != 0;
            second |= self.second[slot / 64] & bit != 0;
        }
        first && second
    }

    /// The two pairs of each literal made of the bytes least common in names (its only pair, in
    /// both sets, for a two-byte literal); `None` when a literal is a single byte.
    fn of(literals: &[&str]) -> Option<PairSets> {
        // How often a byte shows up in transaction names and environments, roughly.
        let commonness = |w: &[u8]| -> u32 {
            w.iter()
                .map(|c| match c.to_ascii_lowercase() {
                    b'/' => 100,
                    b'e' => 60,
                    b't' | b'a' => 50,
                    b'o' | b'i' | b'n' | b's' | b'r' | b'p' => 40,
                    b'h' | b'l' | b'd' | b'c' | b'u' | b'_' | b'-' | b'.' => 30,
                    b'm' | b'g' | b'y' | b'w' | b'f' | b'b' | b'0'..=b'9' => 20,
                    _ => 10,
                })
                .sum()
        };
        let mut sets = PairSets { first: [0; 64], second: [0; 64] };
        for literal in literals {
            let mut pairs: Vec<&[u8]> = literal.as_bytes().windows(2).collect();
            pairs.sort_by_key(|w| commonness(w));
            let (&first, &second) = (pairs.first()?, pairs.get(1).unwrap_or(pairs.first()?));
            Self::insert(&mut sets.first, first);
            Self::insert(&mut sets.second, second);
        }
        Some(sets)
    }
}

/// Below this many patterns a prefilter does not pay for itself.
const PREFILTER_MIN_PATTERNS: usize = 4;

impl GlobList {
    /// Compiles every pattern, keeping the valid ones.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> GlobList {
        let globs: Vec<Glob> = patterns.into_iter().filter_map(|pattern| Glob::new(pattern).ok()).collect();
        let literals: Option<Vec<&str>> = globs.iter().map(|g| g.required.as_deref()).collect();
        let literals = literals.filter(|l| l.len() >= PREFILTER_MIN_PATTERNS);
        let prefilter = literals.as_ref().and_then(|l| aho_corasick::AhoCorasick::new(l).ok());
        let pairs = literals.filter(|_| prefilter.is_some()).and_then(|l| PairSets::of(&l)).map(Box::new);
        GlobList { globs, prefilter, pairs }
    }

    /// Whether any pattern matches `haystack`.
    pub fn is_match(&self, haystack: &str) -> bool {
        // Lowercase a short ASCII haystack once for the whole list rather than once per pattern.
        if self.globs.len() > 1 && haystack.len() <= LOWERED_MAX && haystack.is_ascii() {
            let mut buf = [0u8; LOWERED_MAX];
            let lowered = &mut buf[..haystack.len()];
            lowered.copy_from_slice(haystack.as_bytes());
            lowered.make_ascii_lowercase();
            if let Some(pairs) = &self.pairs {
                if !pairs.both_in(lowered) {
                    return false;
                }
            }
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
