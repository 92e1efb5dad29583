//! Parsing a pattern into tokens, normalised the way Relay normalises them, and character classes.

use super::*;

/// A parsed, normalised pattern element. Literals are already lowercased.
#[derive(Debug, Clone)]
pub(super) enum Tok {
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

pub(super) struct Parser<'a> {
    pub(super) chars: std::str::Chars<'a>,
    pub(super) tokens: Vec<Tok>,
    /// Branches of the open `{`, if any.
    pub(super) group: Option<Vec<Vec<Tok>>>,
    /// The literal run being read, still in its original case.
    pub(super) literal: String,
}

impl Parser<'_> {
    pub(super) fn parse(pattern: &str) -> Result<Vec<Tok>, GlobErrorKind> {
        let mut parser = Parser { chars: pattern.chars(), tokens: Vec::new(), group: None, literal: String::new() };
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
                    let branches = parser.group.take().ok_or(GlobErrorKind::UnbalancedAlternation)?;
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
    pub(super) fn class(&mut self) -> Result<Class, GlobErrorKind> {
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
                    let c = if c == '\\' { self.chars.next().ok_or(GlobErrorKind::DanglingEscape)? } else { c };
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
    pub(super) fn flush(&mut self) {
        if !self.literal.is_empty() {
            let lowered = self.literal.to_lowercase();
            self.literal.clear();
            self.push_raw(Tok::Lit(lowered));
        }
    }

    pub(super) fn push(&mut self, token: Tok) {
        self.flush();
        self.push_raw(token);
    }

    pub(super) fn push_raw(&mut self, token: Tok) {
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
pub(super) fn close_range(ranges: &mut [(char, char)], end: char) -> Result<(), GlobErrorKind> {
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
pub(super) fn push_normalized(list: &mut Vec<Tok>, token: Tok) {
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
pub(super) struct Class {
    pub(super) negated: bool,
    /// Inclusive code point ranges, as written (not case-folded).
    pub(super) ranges: Box<[(char, char)]>,
    /// The answer for every ASCII character, bit `b` for byte `b`, so the hot path is a shift.
    pub(super) ascii: u128,
}

impl Class {
    pub(super) fn new(negated: bool, ranges: Vec<(char, char)>) -> Class {
        let mut class = Class { negated, ranges: ranges.into_boxed_slice(), ascii: 0 };
        for b in 0..128u8 {
            if class.matches_char(char::from(b)) {
                class.ascii |= 1 << b;
            }
        }
        class
    }

    pub(super) fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
    }

    /// Relay's case-insensitive rule: a character is in the class when its lowercase or its
    /// uppercase, if a single character, lies in a range (the character itself is not tested).
    pub(super) fn matches_char(&self, c: char) -> bool {
        let hit = single(c.to_lowercase()).is_some_and(|l| self.contains(l)) || single(c.to_uppercase()).is_some_and(|u| self.contains(u));
        hit != self.negated
    }

    #[inline]
    pub(super) fn matches(&self, c: char) -> bool {
        if c.is_ascii() {
            self.matches_ascii(c as u8)
        } else {
            self.matches_char(c)
        }
    }

    /// `b` must be ASCII.
    #[inline]
    pub(super) fn matches_ascii(&self, b: u8) -> bool {
        (self.ascii >> b) & 1 == 1
    }
}

pub(super) fn single(mut chars: impl Iterator<Item = char>) -> Option<char> {
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}
