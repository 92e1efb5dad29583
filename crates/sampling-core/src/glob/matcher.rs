//! The general matcher: a greedy segment search for ASCII haystacks and brace-free patterns, a
//! Thompson NFA simulation otherwise (linear in the haystack for a fixed pattern).

use super::*;

/// Any pattern the simple strategies do not cover.
#[derive(Debug, Clone)]
pub(super) struct General {
    pub(super) nfa: Nfa,
    /// The greedy matcher, for brace-free patterns on ASCII haystacks.
    pub(super) segments: Option<Segments>,
}

impl General {
    pub(super) fn new(tokens: &[Tok]) -> General {
        General { nfa: Nfa::compile(tokens), segments: Segments::new(tokens) }
    }

    pub(super) fn is_match(&self, haystack: &str) -> bool {
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
pub(super) enum Piece {
    Lit(Box<[u8]>),
    Any(usize),
    Class(Class),
}

#[derive(Debug, Clone, Default)]
pub(super) struct Segment {
    pub(super) pieces: Vec<Piece>,
    /// Length in bytes of ASCII input.
    pub(super) len: usize,
    /// Offset and (lowercase) value of the first literal byte, used to find candidates.
    pub(super) anchor: Option<(usize, u8)>,
}

impl Segment {
    pub(super) fn push(&mut self, piece: Piece) {
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
    pub(super) fn matches_at(&self, h: &[u8], mut at: usize) -> bool {
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
    pub(super) fn find(&self, h: &[u8], from: usize, end: usize) -> Option<usize> {
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
pub(super) struct Segments {
    pub(super) head: Segment,
    pub(super) middle: Vec<Segment>,
    /// `None` when the pattern has no `*`: then `head` must cover the whole haystack.
    pub(super) tail: Option<Segment>,
}

impl Segments {
    pub(super) fn new(tokens: &[Tok]) -> Option<Segments> {
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
        Some(Segments { head, middle: parts, tail })
    }

    pub(super) fn is_match(&self, h: &[u8]) -> bool {
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

pub(super) type Pc = u32;

#[derive(Debug, Clone, Copy)]
pub(super) enum Inst {
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
pub(super) const INLINE_WORDS: usize = 4;

#[derive(Debug, Clone)]
pub(super) struct Nfa {
    pub(super) insts: Vec<Inst>,
    pub(super) classes: Vec<Class>,
    /// Bitset words per state set.
    pub(super) words: usize,
    /// Stars from which the end is reachable without input: once live, the haystack matches.
    pub(super) accepting_stars: Vec<u64>,
    /// For the bit-parallel path (programs of at most `INLINE_WORDS` words, else empty):
    /// `words` words per instruction, the states live after it consumes a char (a star stays
    /// live, the rest move on) with everything reachable from there without input.
    pub(super) successors: Vec<u64>,
    /// `words` words: the states live before any input.
    pub(super) initial: Vec<u64>,
    /// `words` words per ASCII byte, the states that consume that byte.
    pub(super) ascii_moves: Vec<u64>,
}

impl Nfa {
    pub(super) fn compile(tokens: &[Tok]) -> Nfa {
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
    pub(super) fn pc(&self) -> Pc {
        Pc::try_from(self.insts.len()).expect("glob pattern too large")
    }

    pub(super) fn emit(&mut self, tokens: &[Tok]) {
        for token in tokens {
            match token {
                Tok::Lit(lit) => {
                    let start = self.insts.len();
                    self.insts.extend(lit.chars().map(|c| Inst::Char { c, end: 0 }));
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

    pub(super) fn emit_alternation(&mut self, branches: &[Vec<Tok>]) {
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

    pub(super) fn link_stars(&mut self) {
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
    pub(super) fn reaches_match(&self, from: usize) -> bool {
        contains(&self.closure_of(from), self.insts.len() - 1)
    }

    /// The states reachable from `from` without input, leaving out the literal edges that
    /// depend on a multi-char lowercase expansion.
    pub(super) fn closure_of(&self, from: usize) -> Vec<u64> {
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

    pub(super) fn precompute_masks(&mut self) {
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

    pub(super) fn is_match(&self, haystack: &str) -> bool {
        if !self.successors.is_empty() {
            if let Some(matched) = self.run_masks(haystack) {
                return matched;
            }
        }
        self.run_stepwise(haystack)
    }

    /// The general simulation, computing closures as it goes.
    pub(super) fn run_stepwise(&self, haystack: &str) -> bool {
        let words = self.words;
        if words <= INLINE_WORDS {
            let mut cur = [0u64; INLINE_WORDS];
            let mut next = [0u64; INLINE_WORDS];
            let mut stack = [0 as Pc; INLINE_WORDS * 64];
            self.run(haystack, &mut cur[..words], &mut next[..words], &mut stack)
        } else {
            self.run(haystack, &mut vec![0; words], &mut vec![0; words], &mut vec![0; self.insts.len()])
        }
    }

    /// The bit-parallel simulation: a char advances the live states that consume it, each
    /// bringing its precomputed successor closure. Gives up (`None`) on a char whose lowercase
    /// is several chars, whose literal edges only the stepwise simulation handles.
    pub(super) fn run_masks(&self, haystack: &str) -> Option<bool> {
        match self.words {
            1 => self.run_masks_in::<1>(haystack),
            2 => self.run_masks_in::<2>(haystack),
            3 => self.run_masks_in::<3>(haystack),
            _ => self.run_masks_in::<INLINE_WORDS>(haystack),
        }
    }

    /// `run_masks` with `W == self.words`, so the set operations compile to fixed-size code.
    pub(super) fn run_masks_in<const W: usize>(&self, haystack: &str) -> Option<bool> {
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

    pub(super) fn run<'s>(&self, haystack: &str, mut cur: &'s mut [u64], mut next: &'s mut [u64], stack: &mut [Pc]) -> bool {
        let mut chars = haystack.chars();
        let mut ahead = chars.next().map(|c| (c, Fold::of(c)));
        self.add(cur, stack, 0, ahead.as_ref().map(|(_, f)| f.as_slice()));
        while let Some((c, fold)) = ahead {
            if cur.iter().all(|&word| word == 0) {
                return false;
            }
            if cur.iter().zip(&self.accepting_stars).any(|(live, accepting)| live & accepting != 0) {
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
    pub(super) fn step(&self, pc: usize, c: char, fold: &[char], next: &mut [u64], stack: &mut [Pc], look: Option<&[char]>) {
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
    pub(super) fn add(&self, set: &mut [u64], stack: &mut [Pc], pc: usize, look: Option<&[char]>) {
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
                            if offset + n < fold.len() && self.literal_matches(start, &fold[offset..offset + n]) {
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
    pub(super) fn literal_matches(&self, pc: usize, chars: &[char]) -> bool {
        chars.iter().enumerate().all(|(i, &x)| matches!(self.insts.get(pc + i), Some(Inst::Char { c, .. }) if *c == x))
    }

    pub(super) fn literal_end(&self, pc: usize) -> usize {
        match self.insts[pc] {
            Inst::Char { end, .. } => end as usize,
            _ => pc,
        }
    }
}

#[inline]
pub(super) fn insert(set: &mut [u64], pc: usize) -> bool {
    let (word, bit) = (pc / 64, 1u64 << (pc % 64));
    let fresh = set[word] & bit == 0;
    set[word] |= bit;
    fresh
}

#[inline]
pub(super) fn contains(set: &[u64], pc: usize) -> bool {
    set[pc / 64] & (1u64 << (pc % 64)) != 0
}

/// The members of a state set, in order.
pub(super) fn bits(set: &[u64]) -> impl Iterator<Item = usize> + '_ {
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
pub(super) struct Fold {
    pub(super) chars: [char; 3],
    pub(super) len: u8,
}

impl Fold {
    #[inline]
    pub(super) fn of(c: char) -> Fold {
        if c.is_ascii() {
            return Fold { chars: [c.to_ascii_lowercase(), '\0', '\0'], len: 1 };
        }
        let mut fold = Fold { chars: ['\0'; 3], len: 0 };
        for (slot, l) in fold.chars.iter_mut().zip(c.to_lowercase()) {
            *slot = l;
            fold.len += 1;
        }
        fold
    }

    #[inline]
    pub(super) fn as_slice(&self) -> &[char] {
        &self.chars[..usize::from(self.len)]
    }
}
