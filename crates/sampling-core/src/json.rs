//! A small validating JSON reader over borrowed bytes: finds fields without building a tree,
//! so events and envelope headers are read without allocating (strings borrow unless escaped).

use std::borrow::Cow;
use std::fmt;

/// Malformed JSON, with the byte offset where reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for JsonError {}

type Result<T> = std::result::Result<T, JsonError>;

fn err<T>(offset: usize, reason: &'static str) -> Result<T> {
    Err(JsonError { offset, reason })
}

/// Nesting deeper than this is rejected rather than risking unbounded work.
const MAX_DEPTH: u32 = 128;

#[inline]
pub fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        // JSON's whitespace is at most a space: one compare for the common case (no whitespace).
        if c <= b' ' && (c == b' ' || c == b'\n' || c == b'\r' || c == b'\t') {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Marks (high bit of each byte) the bytes of `word` that are `"`, `\\` or below 0x20.
#[inline]
fn swar_special(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = has_zero(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(word ^ (ONES * u64::from(b'\\')));
    // Bytes below 0x20: subtracting 0x20 borrows into the high bit (for bytes < 0x80).
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control
}

/// The offset of the first quote, backslash or control character at or after `i` (or the end),
/// sixteen bytes at a time (SSE2), then eight.
#[inline]
fn find_special(b: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= b.len() {
        let special = simd::special16(b[i..i + 16].try_into().expect("16 bytes"));
        if special != 0 {
            return i + special.trailing_zeros() as usize;
        }
        i += 16;
    }
    while i + 8 <= b.len() {
        let word = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let special = swar_special(word);
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

/// Skips a string starting at the opening quote; returns the offset after the closing quote.
fn skip_string(b: &[u8], i: usize) -> Result<usize> {
    if b.get(i) != Some(&b'"') {
        return err(i, "expected a string");
    }
    let mut i = i + 1;
    loop {
        i = find_special(b, i);
        if i >= b.len() {
            return err(b.len(), "unterminated string");
        }
        match b[i] {
            b'"' => return Ok(i + 1),
            b'\\' => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = b.get(i + 2..i + 6).ok_or(JsonError { offset: i, reason: "short unicode escape" })?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return err(i, "invalid unicode escape");
                    }
                    i += 6;
                }
                _ => return err(i, "invalid escape"),
            },
            // Raw control characters are not allowed in JSON strings (memchr only looks for
            // newlines past the short loop, the commonest one).
            _ => return err(i, "control character in string"),
        }
    }
}

/// Skips a key string like `skip_string`, and tells whether it holds a backslash.
#[inline]
fn skip_key_string(b: &[u8], i: usize) -> Result<(usize, bool)> {
    if b.get(i) != Some(&b'"') {
        return err(i, "expected a string");
    }
    let at = find_special(b, i + 1);
    if b.get(at) == Some(&b'"') {
        return Ok((at + 1, false));
    }
    // A backslash or a control character: the full check (rare).
    Ok((skip_string(b, i)?, true))
}

fn skip_literal(b: &[u8], i: usize, literal: &[u8]) -> Result<usize> {
    if b.get(i..i + literal.len()) == Some(literal) {
        Ok(i + literal.len())
    } else {
        err(i, "invalid literal")
    }
}

fn skip_number(b: &[u8], start: usize) -> Result<usize> {
    let mut i = start;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let digits_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == digits_start {
        return err(start, "invalid number");
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac {
            return err(start, "invalid number");
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp {
            return err(start, "invalid number");
        }
    }
    Ok(i)
}

/// Skips (and validates) one value starting at `i` (after whitespace); returns the offset after it.
pub fn skip_value(b: &[u8], i: usize) -> Result<usize> {
    // Containers are tracked as a bit stack: 1 = object, 0 = array.
    let mut stack: u128 = 0;
    let mut depth: u32 = 0;
    let mut i = skip_ws(b, i);
    loop {
        // A value starts at `i`.
        match b.get(i) {
            Some(b'"') => i = skip_string(b, i)?,
            Some(b'{') => {
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    i += 1;
                } else {
                    if depth >= MAX_DEPTH {
                        return err(i, "nesting too deep");
                    }
                    stack = (stack << 1) | 1;
                    depth += 1;
                    i = skip_key(b, i)?;
                    continue;
                }
            }
            Some(b'[') => {
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    i += 1;
                } else {
                    if depth >= MAX_DEPTH {
                        return err(i, "nesting too deep");
                    }
                    stack <<= 1;
                    depth += 1;
                    continue;
                }
            }
            Some(b't') => i = skip_literal(b, i, b"true")?,
            Some(b'f') => i = skip_literal(b, i, b"false")?,
            Some(b'n') => i = skip_literal(b, i, b"null")?,
            Some(b'-' | b'0'..=b'9') => i = skip_number(b, i)?,
            Some(_) => return err(i, "expected a value"),
            None => return err(i, "unexpected end of input"),
        }
        // After a value: close finished containers, or move to the next element.
        loop {
            if depth == 0 {
                return Ok(i);
            }
            i = skip_ws(b, i);
            let in_object = stack & 1 == 1;
            match b.get(i) {
                Some(b',') => {
                    i = skip_ws(b, i + 1);
                    if in_object {
                        i = skip_key(b, i)?;
                    }
                    break;
                }
                Some(b'}') if in_object => {
                    stack >>= 1;
                    depth -= 1;
                    i += 1;
                }
                Some(b']') if !in_object => {
                    stack >>= 1;
                    depth -= 1;
                    i += 1;
                }
                _ => return err(i, "expected ',' or a closing bracket"),
            }
        }
    }
}

/// Skips `"key" :` and the whitespace after it.
fn skip_key(b: &[u8], i: usize) -> Result<usize> {
    let i = skip_string(b, i)?;
    let i = skip_ws(b, i);
    if b.get(i) != Some(&b':') {
        return err(i, "expected ':'");
    }
    Ok(skip_ws(b, i + 1))
}

#[cfg(target_arch = "x86_64")]
mod simd {
    //! Byte classification of 64-byte blocks: AVX2 where the CPU has it (checked at run time),
    //! else SSE2 (part of the x86_64 baseline).

    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
        _mm_clmulepi64_si128, _mm_cmpeq_epi8, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_set_epi64x,
    };

    /// `quote` and `bracket` are exact; `backslash` is only zero or not (`backslashes` gives the
    /// exact mask of the rare block that has one).
    pub struct Masks {
        pub quote: u64,
        pub backslash: u64,
        pub bracket: u64,
    }

    /// Whether `classify_avx2` may be called (one cached CPU feature check).
    #[cfg(test)]
    pub fn has_avx2() -> bool {
        std::is_x86_feature_detected!("avx2")
    }

    // Brackets: `[` and `]` differ from `{` and `}` by 0x20 only, so OR-ing 0x20 leaves two
    // compares (no other byte becomes `{` or `}` that way).

    #[inline]
    pub fn classify_sse2(block: &[u8; 64]) -> Masks {
        let mut masks = Masks { quote: 0, backslash: 0, bracket: 0 };
        // Safety: SSE2 is always available on x86_64; loads are unaligned and in bounds.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let case = _mm_set1_epi8(0x20);
            let (open, close) = (_mm_set1_epi8(b'{' as i8), _mm_set1_epi8(b'}' as i8));
            let mut any_backslash = _mm_set1_epi8(0);
            for lane in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(lane * 16) as *const __m128i);
                let bits = |m| u64::from(_mm_movemask_epi8(m) as u16) << (lane * 16);
                masks.quote |= bits(_mm_cmpeq_epi8(v, quote));
                any_backslash = _mm_or_si128(any_backslash, _mm_cmpeq_epi8(v, backslash));
                let folded = _mm_or_si128(v, case);
                masks.bracket |= bits(_mm_or_si128(_mm_cmpeq_epi8(folded, open), _mm_cmpeq_epi8(folded, close)));
            }
            masks.backslash = u64::from(_mm_movemask_epi8(any_backslash) as u16);
        }
        masks
    }

    /// The quotes, backslashes and control characters (below 0x20) of 16 bytes.
    #[inline]
    pub fn special16(bytes: &[u8; 16]) -> u32 {
        // Safety: SSE2 is always available on x86_64; the load is unaligned and in bounds.
        unsafe {
            let v = _mm_loadu_si128(bytes.as_ptr() as *const __m128i);
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned v <= 0x1F: min(v, 0x1F) == v.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }

    /// The exact backslash mask of a block (`Masks::backslash` only tells whether there is one).
    pub fn backslashes(block: &[u8; 64]) -> u64 {
        let mut mask = 0;
        // Safety: SSE2 is always available on x86_64; loads are unaligned and in bounds.
        unsafe {
            let backslash = _mm_set1_epi8(b'\\' as i8);
            for lane in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(lane * 16) as *const __m128i);
                mask |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)) as u16) << (lane * 16);
            }
        }
        mask
    }

    /// # Safety
    /// The CPU must support AVX2 (`has_avx2`).
    #[target_feature(enable = "avx2")]
    pub unsafe fn classify_avx2(block: &[u8; 64]) -> Masks {
        let mut masks = Masks { quote: 0, backslash: 0, bracket: 0 };
        let quote = _mm256_set1_epi8(b'"' as i8);
        let backslash = _mm256_set1_epi8(b'\\' as i8);
        let case = _mm256_set1_epi8(0x20);
        let (open, close) = (_mm256_set1_epi8(b'{' as i8), _mm256_set1_epi8(b'}' as i8));
        let mut any_backslash = _mm256_set1_epi8(0);
        for lane in 0..2 {
            // Safety: unaligned loads in bounds of the 64-byte block.
            let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(lane * 32) as *const __m256i) };
            let bits = |m| u64::from(_mm256_movemask_epi8(m) as u32) << (lane * 32);
            masks.quote |= bits(_mm256_cmpeq_epi8(v, quote));
            any_backslash = _mm256_or_si256(any_backslash, _mm256_cmpeq_epi8(v, backslash));
            let folded = _mm256_or_si256(v, case);
            masks.bracket |= bits(_mm256_or_si256(_mm256_cmpeq_epi8(folded, open), _mm256_cmpeq_epi8(folded, close)));
        }
        masks.backslash = u64::from(_mm256_movemask_epi8(any_backslash) as u32);
        masks
    }

    /// Whether `classify_avx2` and `prefix_xor_clmul` may be called (cached CPU feature checks).
    #[inline]
    pub fn has_avx2_clmul() -> bool {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("pclmulqdq")
    }

    /// `prefix_xor` in one carry-less multiply by all ones.
    ///
    /// # Safety
    /// The CPU must support PCLMULQDQ.
    #[target_feature(enable = "pclmulqdq")]
    #[inline]
    pub unsafe fn prefix_xor_clmul(m: u64) -> u64 {
        let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, m as i64), _mm_set1_epi8(-1), 0);
        _mm_cvtsi128_si64(product) as u64
    }

    /// Bit i is the parity of the set bits at positions 0..=i.
    #[inline]
    pub fn prefix_xor(mut m: u64) -> u64 {
        m ^= m << 1;
        m ^= m << 2;
        m ^= m << 4;
        m ^= m << 8;
        m ^= m << 16;
        m ^= m << 32;
        m
    }
}

/// Bytes that matter when skipping a container without validating it.
const STRUCTURAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'{' as usize] = true;
    table[b'}' as usize] = true;
    table[b'[' as usize] = true;
    table[b']' as usize] = true;
    table
};

/// Skips one value starting at `i` without validating scalars inside containers: brackets
/// are matched and strings jumped over, so a value can be located at memory speed. Used for
/// the parts of an event no rule reads; malformed brackets or strings are still errors.
pub fn skip_value_fast(b: &[u8], i: usize) -> Result<usize> {
    let i = skip_ws(b, i);
    match b.get(i) {
        Some(b'{' | b'[') => {}
        Some(b'"') => return skip_string(b, i),
        _ => return skip_value(b, i),
    }
    skip_container(b, i)
}

/// The bytes a run of backslashes escapes in a 64-byte block: each backslash that is not itself
/// escaped escapes the next byte. `pending`: the block's first byte is escaped (by the previous
/// block's last backslash). Returns the escaped bytes and whether the last byte escapes the next
/// block's first. Backslashes are rare: one step per escape.
#[cfg(target_arch = "x86_64")]
fn escaped_bytes(backslash: u64, pending: bool) -> (u64, bool) {
    let mut escaped = 0u64;
    let mut starts = backslash;
    if pending {
        escaped |= 1;
        starts &= !1;
    }
    while starts != 0 {
        let at = starts.trailing_zeros();
        if at == 63 {
            return (escaped, true);
        }
        starts &= starts - 1;
        escaped |= 1 << (at + 1);
        starts &= !(1 << (at + 1));
    }
    (escaped, false)
}

/// The string bytes of a block that holds a backslash (or starts escaped), and whether it ends
/// with a pending escape; `None` when a backslash lies outside strings.
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
fn escaped_block(block: &[u8; 64], quote: u64, in_string: bool, pending: bool) -> Option<(u64, bool)> {
    let backslash = simd::backslashes(block);
    let (escaped, next_pending) = escaped_bytes(backslash, pending);
    let mut inside = simd::prefix_xor(quote & !escaped);
    if in_string {
        inside = !inside;
    }
    (backslash & !inside == 0).then_some((inside, next_pending))
}

/// Where the block loop of a container stopped.
#[cfg(target_arch = "x86_64")]
enum BlockScan {
    /// The container ends (or is malformed) within the blocks.
    Done(Result<usize>),
    /// Fewer than 64 bytes are left, or a block holds a backslash outside strings: the byte loop
    /// goes on from `at` (outside strings) with `depth` brackets still open.
    Rest { at: usize, depth: u32, stack: u128 },
}

/// The block loop of `skip_container`, compiled twice (AVX2 + carry-less multiply, or SSE2): 64
/// bytes at a time, escapes inside strings included, every bracket outside strings checked
/// against its opener.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn skip_blocks<const AVX2: bool>(b: &[u8], mut i: usize) -> BlockScan {
    let mut depth: u32 = 0;
    // A closing bracket must match its opener; track the kinds in a bit stack (1 = object).
    let mut stack: u128 = 0;
    let mut in_string = false;
    // The next block's first byte is escaped (always inside a string).
    let mut escape_pending = false;
    while i + 64 <= b.len() {
        let block: &[u8; 64] = b[i..i + 64].try_into().expect("64 bytes");
        // Safety (AVX2): the caller detected AVX2 and PCLMULQDQ.
        let masks = if AVX2 { unsafe { simd::classify_avx2(block) } } else { simd::classify_sse2(block) };
        // Bytes inside strings: between an opening quote (included) and its closing quote.
        let inside = if masks.backslash == 0 && !escape_pending {
            let inside = if AVX2 { unsafe { simd::prefix_xor_clmul(masks.quote) } } else { simd::prefix_xor(masks.quote) };
            if in_string {
                !inside
            } else {
                inside
            }
        } else {
            match escaped_block(block, masks.quote, in_string, escape_pending) {
                Some((inside, pending)) => {
                    escape_pending = pending;
                    inside
                }
                // A backslash outside strings: the byte loop decides what it means (from the
                // block's start, inside the string crossing into it if there is one).
                None => break,
            }
        };
        in_string = (inside >> 63) & 1 == 1;
        let mut structural = masks.bracket & !inside;
        while structural != 0 {
            let bit = structural.trailing_zeros();
            structural &= structural - 1;
            let at = i + bit as usize;
            // `{`/`[` have bit 1 set, `}`/`]` clear; `{`/`}` have bit 5 set, `[`/`]` clear.
            let c = block[bit as usize];
            if c & 0x02 != 0 {
                if depth >= MAX_DEPTH {
                    return BlockScan::Done(err(at, "nesting too deep"));
                }
                stack = (stack << 1) | u128::from(c >> 5 & 1);
                depth += 1;
            } else {
                if depth == 0 || (stack & 1) as u8 != c >> 5 & 1 {
                    return BlockScan::Done(err(at, "mismatched bracket"));
                }
                stack >>= 1;
                depth -= 1;
                if depth == 0 {
                    return BlockScan::Done(Ok(at + 1));
                }
            }
        }
        i += 64;
    }
    if in_string {
        // Resume the byte loop inside the string that crosses the block boundary (past the byte
        // escaped by the previous block's last backslash).
        if escape_pending {
            i += 1;
        }
        i = match skip_string_fast_from(b, i) {
            Ok(end) => end,
            Err(e) => return BlockScan::Done(Err(e)),
        };
    }
    BlockScan::Rest { at: i, depth, stack }
}

/// # Safety
/// The CPU must support AVX2 and PCLMULQDQ (`simd::has_avx2_clmul`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
unsafe fn skip_blocks_avx2(b: &[u8], i: usize) -> BlockScan {
    skip_blocks::<true>(b, i)
}

/// Skips the container opening at `i` (a `{` or `[`): 64 bytes at a time, escapes inside strings
/// included; byte by byte from a block with a backslash outside strings (not JSON) and for the
/// tail.
fn skip_container(b: &[u8], i: usize) -> Result<usize> {
    #[cfg(target_arch = "x86_64")]
    let (mut i, mut depth, mut stack) = {
        // Safety: AVX2 and PCLMULQDQ were detected.
        let scan = if simd::has_avx2_clmul() { unsafe { skip_blocks_avx2(b, i) } } else { skip_blocks::<false>(b, i) };
        match scan {
            BlockScan::Done(result) => return result,
            BlockScan::Rest { at, depth, stack } => (at, depth, stack),
        }
    };
    // The kinds of the open brackets as a bit stack (1 = object).
    #[cfg(not(target_arch = "x86_64"))]
    let (mut i, mut depth, mut stack) = (i, 0u32, 0u128);
    while i < b.len() {
        let c = b[i];
        if !STRUCTURAL[c as usize] {
            i += 1;
            continue;
        }
        match c {
            b'"' => {
                i = skip_string_fast(b, i)?;
                continue;
            }
            b'{' | b'[' => {
                if depth >= MAX_DEPTH {
                    return err(i, "nesting too deep");
                }
                stack = (stack << 1) | u128::from(c == b'{');
                depth += 1;
            }
            _ => {
                let is_object = c == b'}';
                if depth == 0 || (stack & 1 == 1) != is_object {
                    return err(i, "mismatched bracket");
                }
                stack >>= 1;
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
        }
        i += 1;
    }
    err(b.len(), "unterminated container")
}

/// Jumps over a string without checking its escapes.
fn skip_string_fast(b: &[u8], i: usize) -> Result<usize> {
    skip_string_fast_from(b, i + 1)
}

/// Jumps to just after the closing quote of a string whose content starts at `i`.
fn skip_string_fast_from(b: &[u8], i: usize) -> Result<usize> {
    let mut i = i;
    loop {
        i = find_special(b, i);
        match b.get(i) {
            None => return err(b.len(), "unterminated string"),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => i += 2,
            // Control characters are not ours to check here.
            Some(_) => i += 1,
        }
    }
}

/// Iterates the entries of the object at the start of `b` in one pass, skipping values with
/// `skip_value_fast`; stops at the first malformed entry with an error.
pub fn for_each_entry<'a>(b: &'a [u8], mut f: impl FnMut(RawKey<'a>, RawValue<'a>)) -> Result<usize> {
    for_each_entry_until(b, |k, v| {
        f(k, v);
        true
    })
    .map(|end| end.expect("never stopped early"))
}

/// Like [`for_each_entry`], but stops as soon as `f` returns false (then `Ok(None)`).
pub fn for_each_entry_until<'a>(b: &'a [u8], f: impl FnMut(RawKey<'a>, RawValue<'a>) -> bool) -> Result<Option<usize>> {
    entries_until(b, skip_value_fast, f)
}

/// Like [`for_each_entry`], but every value is validated as `JSON.parse` (and Relay's serde) would:
/// for small documents that must be rejected whole when any part is malformed (envelope headers).
pub fn for_each_entry_validated<'a>(b: &'a [u8], f: impl FnMut(RawKey<'a>, RawValue<'a>)) -> Result<usize> {
    let mut f = f;
    entries_until(b, skip_value, |k, v| {
        f(k, v);
        true
    })
    .map(|end| end.expect("never stopped early"))
}

#[inline(always)]
fn entries_until<'a>(
    b: &'a [u8],
    skip: impl Fn(&[u8], usize) -> Result<usize>,
    mut f: impl FnMut(RawKey<'a>, RawValue<'a>) -> bool,
) -> Result<Option<usize>> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return err(i, "expected an object");
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Ok(Some(i + 1));
    }
    loop {
        let (key_end, escaped) = skip_key_string(b, i)?;
        let key = RawKey { raw: &b[i + 1..key_end - 1], escaped };
        let colon = skip_ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            return err(colon, "expected ':'");
        }
        let start = skip_ws(b, colon + 1);
        let end = skip(b, start)?;
        if !f(key, RawValue(&b[start..end])) {
            return Ok(None);
        }
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return Ok(Some(i + 1)),
            _ => return err(i, "expected ',' or '}'"),
        }
    }
}

/// Validates that `b` holds exactly one JSON value (surrounding whitespace allowed).
pub fn validate(b: &[u8]) -> Result<RawValue<'_>> {
    let start = skip_ws(b, 0);
    let end = skip_value(b, start)?;
    if skip_ws(b, end) != b.len() {
        return err(end, "trailing characters");
    }
    Ok(RawValue(&b[start..end]))
}

/// Whether `raw` is ASCII without a backslash: then it is its own decoded text, and valid UTF-8.
/// (Eight bytes at a time, the last word overlapping the one before, and short strings in two
/// overlapping four-byte loads: most strings rules read are short and plain.)
#[inline]
fn plain_ascii(raw: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte from 0x80, or a backslash (a zero byte of `word ^ '\\'...`: exact as to whether
    // there is one).
    let bad = |word: u64| {
        let backslash = word ^ (ONES * u64::from(b'\\'));
        (word | (backslash.wrapping_sub(ONES) & !backslash)) & HIGHS != 0
    };
    let n = raw.len();
    let word = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u64::from(u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes")));
    if n >= 8 {
        let mut at = 0;
        while at + 8 < n {
            if bad(word(at)) {
                return false;
            }
            at += 8;
        }
        return !bad(word(n - 8));
    }
    if n >= 4 {
        return !bad(half(0) | half(n - 4) << 32);
    }
    raw.iter().all(|&c| c < 0x80 && c != b'\\')
}

/// Decodes the content of a string token (without quotes); borrows when nothing is escaped.
pub fn unescape(raw: &[u8]) -> Option<Cow<'_, str>> {
    if plain_ascii(raw) {
        // Safety: ASCII is valid UTF-8.
        return Some(Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(raw) }));
    }
    let escaped = if raw.len() < 64 { raw.contains(&b'\\') } else { memchr::memchr(b'\\', raw).is_some() };
    if !escaped {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let next = memchr::memchr(b'\\', &raw[i..]).map_or(raw.len(), |p| i + p);
        out.push_str(std::str::from_utf8(&raw[i..next]).ok()?);
        if next == raw.len() {
            break;
        }
        let c = *raw.get(next + 1)?;
        i = next + 2;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let unit = parse_hex4(raw.get(i..i + 4)?)?;
                i += 4;
                let ch = if (0xD800..0xDC00).contains(&unit) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if raw.get(i..i + 2) != Some(b"\\u") {
                        return None;
                    }
                    let low = parse_hex4(raw.get(i + 2..i + 6)?)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return None;
                    }
                    i += 6;
                    char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                } else {
                    char::from_u32(unit)?
                };
                out.push(ch);
            }
            _ => return None,
        }
    }
    Some(Cow::Owned(out))
}

fn parse_hex4(b: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(b).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Parses text that is exactly one JSON number (no `inf`, `NaN` or hex, which Rust would accept).
pub fn parse_json_number(text: &str) -> Option<f64> {
    let end = skip_number(text.as_bytes(), 0).ok()?;
    if end != text.len() {
        return None;
    }
    text.parse::<f64>().ok()
}

/// A number as JSON wrote it: integers stay integers when they fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    I64(i64),
    U64(u64),
    F64(f64),
}

impl Number {
    pub fn parse(text: &str) -> Option<Number> {
        if !text.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')) {
            if let Ok(v) = text.parse::<i64>() {
                return Some(Number::I64(v));
            }
            if let Ok(v) = text.parse::<u64>() {
                return Some(Number::U64(v));
            }
        }
        text.parse::<f64>().ok().map(Number::F64)
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Number::I64(v) => v as f64,
            Number::U64(v) => v as f64,
            Number::F64(v) => v,
        }
    }
}

/// The text of one already validated JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawValue<'a>(pub &'a [u8]);

impl<'a> RawValue<'a> {
    pub fn bytes(&self) -> &'a [u8] {
        self.0
    }

    pub fn is_null(&self) -> bool {
        self.0 == b"null"
    }

    pub fn is_object(&self) -> bool {
        self.0.first() == Some(&b'{')
    }

    pub fn is_array(&self) -> bool {
        self.0.first() == Some(&b'[')
    }

    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        if self.0.len() >= 2 && self.0[0] == b'"' {
            unescape(&self.0[1..self.0.len() - 1])
        } else {
            None
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.0 {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<Number> {
        match self.0.first() {
            Some(b'-' | b'0'..=b'9') => Number::parse(std::str::from_utf8(self.0).ok()?),
            _ => None,
        }
    }

    /// The value of `key` in this object (the last one if a key repeats, as serde_json's map does).
    pub fn get(&self, key: &str) -> Option<RawValue<'a>> {
        let mut found = None;
        for (k, v) in self.entries() {
            if k.eq_str(key) {
                found = Some(v);
            }
        }
        found
    }

    /// The values of `keys` in one pass over the object (as `get` of each: the last of a
    /// repeated key; all `None` when it is not an object).
    pub fn members<const N: usize>(&self, keys: [&str; N]) -> [Option<RawValue<'a>>; N] {
        let mut found = [None; N];
        for (k, v) in self.entries() {
            if let Some(i) = keys.iter().position(|key| k.eq_str(key)) {
                found[i] = Some(v);
            }
        }
        found
    }

    pub fn entries(&self) -> Entries<'a> {
        let start = if self.is_object() { skip_ws(self.0, 1) } else { self.0.len() };
        Entries { b: self.0, i: start }
    }

    pub fn elements(&self) -> Elements<'a> {
        let start = if self.is_array() { skip_ws(self.0, 1) } else { self.0.len() };
        Elements { b: self.0, i: start }
    }
}

/// An object key as written (escapes undecoded).
#[derive(Debug, Clone, Copy)]
pub struct RawKey<'a> {
    raw: &'a [u8],
    /// Whether the key holds a backslash (known from skipping it).
    escaped: bool,
}

impl<'a> RawKey<'a> {
    /// Length as written (escapes count as written, so compare with care).
    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }

    /// The key's bytes as written, without quotes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    pub fn has_escape(&self) -> bool {
        self.escaped
    }

    pub fn eq_str(&self, key: &str) -> bool {
        if self.raw == key.as_bytes() {
            return true;
        }
        // Only an escaped spelling of the same key can still be equal (rare).
        self.escaped && unescape(self.raw).is_some_and(|k| k == key)
    }

    pub fn decode(&self) -> Option<Cow<'a, str>> {
        unescape(self.raw)
    }
}

/// Entries of a validated object.
pub struct Entries<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (RawKey<'a>, RawValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.b;
        if b.get(self.i) != Some(&b'"') {
            self.i = b.len();
            return None;
        }
        let (key_end, escaped) = skip_key_string(b, self.i).ok()?;
        let key = RawKey { raw: &b[self.i + 1..key_end - 1], escaped };
        let colon = skip_ws(b, key_end);
        let value_start = skip_ws(b, colon + 1);
        let value_end = skip_value_fast(b, value_start).ok()?;
        let after = skip_ws(b, value_end);
        self.i = if b.get(after) == Some(&b',') { skip_ws(b, after + 1) } else { b.len() };
        Some((key, RawValue(&b[value_start..value_end])))
    }
}

/// Elements of a validated array.
pub struct Elements<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = RawValue<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.b;
        if self.i >= b.len() || b[self.i] == b']' {
            self.i = b.len();
            return None;
        }
        let end = skip_value_fast(b, self.i).ok()?;
        let value = RawValue(&b[self.i..end]);
        let after = skip_ws(b, end);
        self.i = if b.get(after) == Some(&b',') { skip_ws(b, after + 1) } else { b.len() };
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_nested_documents() {
        let doc = br#" {"a": [1, -2.5e3, true, null, {"b": "c\"d"}], "e": {}} "#;
        let v = validate(doc).unwrap();
        assert_eq!(v.get("e").unwrap().bytes(), b"{}");
        let a: Vec<_> = v.get("a").unwrap().elements().collect();
        assert_eq!(a.len(), 5);
        assert_eq!(a[4].get("b").unwrap().as_str().unwrap(), "c\"d");
        assert_eq!(a[1].as_number(), Some(Number::F64(-2500.0)));
    }

    #[test]
    fn rejects_malformed_documents() {
        for doc in [&b"{"[..], b"{\"a\"}", b"[1,]", b"{\"a\":1,}", b"\"abc", b"01x", b"tru", b"{} x", b"[1 2]"] {
            assert!(validate(doc).is_err(), "{:?}", std::str::from_utf8(doc));
        }
    }

    #[test]
    fn rejects_excessive_nesting_without_recursion() {
        let doc = "[".repeat(100_000);
        assert!(validate(doc.as_bytes()).is_err());
    }

    #[test]
    fn unescapes_surrogate_pairs_and_borrows_plain_strings() {
        assert_eq!(unescape(br"\ud83d\ude00x").unwrap(), "\u{1F600}x");
        assert!(matches!(unescape(b"plain").unwrap(), Cow::Borrowed("plain")));
        assert!(unescape(br"\ud83d").is_none());
    }

    #[test]
    fn fast_skip_matches_brackets_and_strings() {
        let doc = br#"{"a": ["}", {"b": "\"]"}], "c": 1} tail"#;
        assert_eq!(skip_value_fast(doc, 0).unwrap(), doc.len() - 5);
        assert!(skip_value_fast(b"[}", 0).is_err());
        assert!(skip_value_fast(b"[\"abc", 0).is_err());
    }

    #[test]
    fn block_skipping_agrees_with_the_byte_loop() {
        // Long containers cross 64-byte blocks, with strings spanning block boundaries,
        // brackets inside strings, and an escaped quote forcing the byte loop.
        let item = r#"{"description":"SELECT [a] FROM {b} WHERE x = '}]'","n":[1,2,{"k":"v"}]}"#;
        let doc = format!("[{}] tail", vec![item; 20].join(","));
        let end = doc.len() - 5;
        assert_eq!(skip_value_fast(doc.as_bytes(), 0).unwrap(), end);
        assert_eq!(skip_value(doc.as_bytes(), 0).unwrap(), end);
        let escaped = doc.replacen("WHERE", r#"W\"ERE"#, 7);
        assert_eq!(skip_value_fast(escaped.as_bytes(), 0).unwrap(), escaped.len() - 5);
        let broken = format!("[{}}}", vec![item; 20].join(","));
        assert!(skip_value_fast(broken.as_bytes(), 0).is_err());
        for cut in (1..doc.len() - 6).step_by(7) {
            assert!(skip_value_fast(&doc.as_bytes()[..cut], 0).is_err(), "cut at {cut}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_sse2_classify_blocks_alike() {
        if !simd::has_avx2() {
            return;
        }
        // Every byte value at every position, next to each structural byte.
        let mut block = [0u8; 64];
        for round in 0..256usize {
            for (k, byte) in block.iter_mut().enumerate() {
                *byte = [(round + k * 37) as u8, b'"', b'\\', b'{', b'}', b'[', b']', b'Y', b'y', b'_'][(round + k) % 10];
            }
            let (a, b) = (simd::classify_sse2(&block), unsafe { simd::classify_avx2(&block) });
            assert_eq!((a.quote, a.bracket, a.backslash != 0), (b.quote, b.bracket, b.backslash != 0), "round {round}");
            let brackets = block.iter().enumerate().filter(|(_, c)| b"{}[]".contains(c)).fold(0u64, |m, (i, _)| m | 1 << i);
            assert_eq!(a.bracket, brackets, "round {round}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn both_block_loops_agree_and_clmul_is_prefix_xor() {
        if !simd::has_avx2_clmul() {
            return;
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state
        };
        for _ in 0..2_000 {
            let m = next();
            assert_eq!(unsafe { simd::prefix_xor_clmul(m) }, simd::prefix_xor(m));
        }
        let outcome = |scan: BlockScan| match scan {
            BlockScan::Done(result) => (0, result.map_err(|e| e.offset), 0, 0),
            BlockScan::Rest { at, depth, stack } => (1, Ok(at), depth, stack),
        };
        let alphabet = b"{}[]\"\\\\aa  ,";
        for _ in 0..5_000 {
            let len = 60 + (next() >> 33) as usize % 300;
            let mut doc = vec![b'['];
            for _ in 1..len {
                doc.push(alphabet[(next() >> 40) as usize % alphabet.len()]);
            }
            let avx2 = outcome(unsafe { skip_blocks_avx2(&doc, 0) });
            assert_eq!(avx2, outcome(skip_blocks::<false>(&doc, 0)), "{}", String::from_utf8_lossy(&doc));
        }
    }

    /// What skipping a container means, byte by byte (strings with escapes, bracket kinds).
    fn skip_container_reference(b: &[u8]) -> Option<usize> {
        let mut stack = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    i += 1;
                    loop {
                        match b.get(i) {
                            None => return None,
                            Some(b'"') => break,
                            Some(b'\\') => i += 2,
                            Some(_) => i += 1,
                        }
                    }
                }
                c @ (b'{' | b'[') => stack.push(c),
                c @ (b'}' | b']') => {
                    let open = stack.pop()?;
                    if (open == b'{') != (c == b'}') {
                        return None;
                    }
                    if stack.is_empty() {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }

    #[test]
    fn escapes_are_skipped_in_blocks_as_byte_by_byte() {
        // Escaped quotes and backslashes at every offset around block boundaries.
        for offset in 0..130 {
            for escape in [r#"\""#, r#"\\"#, r#"\\\""#, r#"\\\\"#] {
                let doc = format!(r#"[{{"a":"{}{}x"}},["]"],{{"b":"{}"}}] tail"#, "p".repeat(offset), escape, escape.repeat(3));
                let expected = doc.len() - 5;
                assert_eq!(skip_value_fast(doc.as_bytes(), 0).ok(), Some(expected), "{doc}");
                assert_eq!(skip_value(doc.as_bytes(), 0).ok(), Some(expected), "{doc}");
            }
        }
        // Random documents of brackets, quotes, backslashes and letters (most not JSON): the
        // block loop ends where the byte-by-byte reading ends, or fails where it fails.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let alphabet = b"{}[]\"\\\\aa  ,";
        for _ in 0..20_000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 60 + (state >> 33) as usize % 200;
            let mut doc = vec![b'['];
            for _ in 1..len {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                doc.push(alphabet[(state >> 40) as usize % alphabet.len()]);
            }
            let reference = skip_container_reference(&doc);
            let depth_ok = doc.iter().filter(|c| matches!(c, b'{' | b'[')).count() < 100;
            if depth_ok {
                assert_eq!(skip_value_fast(&doc, 0).ok(), reference, "{}", String::from_utf8_lossy(&doc));
            }
        }
    }

    #[test]
    fn special_bytes_are_found_sixteen_at_a_time_as_one_by_one() {
        // Every byte value at every offset of a 40-byte run (both loops and the tail).
        for value in 0..=255u8 {
            for at in 0..40 {
                let mut text = vec![b'a'; 40];
                text[at] = value;
                let special = |c: &u8| matches!(c, b'"' | b'\\' | 0..=0x1f);
                let expected = text.iter().position(special).unwrap_or(text.len());
                assert_eq!(find_special(&text, 0), expected, "byte {value:#x} at {at}");
                let from_3 = text[3..].iter().position(special).map_or(text.len(), |p| p + 3);
                assert_eq!(find_special(&text, 3), from_3, "byte {value:#x} at {at}, from 3");
            }
        }
    }

    #[test]
    fn keys_know_whether_they_are_escaped() {
        let doc = br#"{"tr\u0061ce":1,"trace":2,"a\"b":3}"#;
        let mut keys = Vec::new();
        for_each_entry(doc, |k, _| keys.push((k.has_escape(), k.eq_str("trace"), k.decode().unwrap().into_owned()))).unwrap();
        assert_eq!(keys, [(true, true, "trace".into()), (false, true, "trace".into()), (true, false, "a\"b".into())]);
        let entries: Vec<_> = RawValue(doc).entries().map(|(k, _)| k.has_escape()).collect();
        assert_eq!(entries, [true, false, true]);
        assert!(for_each_entry(b"{\"a\x01\":1}", |_, _| {}).is_err());
    }

    #[test]
    fn plain_ascii_is_exactly_ascii_without_backslashes() {
        for text in ["", "a", "/api/checkout/{id}", "exactly8", "sixteen-bytes-ab", "a\\b", "caf\u{e9}", "0123456789abcdef\\"] {
            let expected = text.bytes().all(|c| c < 0x80 && c != b'\\');
            assert_eq!(plain_ascii(text.as_bytes()), expected, "{text:?}");
        }
        assert!(!plain_ascii(b"01234567\x80"));
        // Every length up to 40, a bad byte at every offset.
        for n in 0..40 {
            assert!(plain_ascii(&vec![b'a'; n]));
            for at in 0..n {
                for bad in [b'\\', 0x80, 0xff, 0xc3] {
                    let mut text = vec![b'a'; n];
                    text[at] = bad;
                    assert!(!plain_ascii(&text), "{bad:#x} at {at} of {n}");
                }
            }
        }
        assert_eq!(unescape(b"plain/ascii").as_deref(), Some("plain/ascii"));
        assert_eq!(unescape(b"\xff"), None);
    }

    #[test]
    fn for_each_entry_reports_malformed_objects() {
        let mut keys = Vec::new();
        for_each_entry(br#"{"a": 1, "b": {"c": [2]}}"#, |k, _| keys.push(k.decode().unwrap().into_owned())).unwrap();
        assert_eq!(keys, ["a", "b"]);
        assert!(for_each_entry(br#"{"a": 1 "b": 2}"#, |_, _| {}).is_err());
        assert!(for_each_entry(br#"{"a": [1}"#, |_, _| {}).is_err());
    }

    #[test]
    fn swar_finds_the_first_special_byte() {
        for (text, at) in
            [(&b"abcdefgh"[..], None), (b"abc\"efgh", Some(3)), (b"a\\bcdefg", Some(1)), (b"abcdefg\n", Some(7)), (b"\xffbcdefgh", None)]
        {
            let word = u64::from_le_bytes(text.try_into().unwrap());
            let special = swar_special(word);
            assert_eq!((special != 0).then(|| special.trailing_zeros() / 8), at, "{text:?}");
        }
        // Strings with escapes and long runs still skip exactly.
        let doc = br#""0123456789abcdef0123456789\"abc\\def0123456789" tail"#;
        assert_eq!(skip_string(doc, 0).unwrap(), doc.len() - 5);
        assert_eq!(skip_string_fast(doc, 0).unwrap(), doc.len() - 5);
        assert!(skip_string(b"\"abc\x01def\"", 0).is_err());
    }

    #[test]
    fn json_numbers_only() {
        assert_eq!(parse_json_number("1e-5"), Some(1e-5));
        assert_eq!(parse_json_number("-0.25"), Some(-0.25));
        for bad in ["inf", "NaN", "0x10", "1.", ".5", "+1", "1e", ""] {
            assert_eq!(parse_json_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_keep_integer_kinds() {
        assert_eq!(Number::parse("5"), Some(Number::I64(5)));
        assert_eq!(Number::parse("18446744073709551615"), Some(Number::U64(u64::MAX)));
        assert_eq!(Number::parse("5.0"), Some(Number::F64(5.0)));
    }
}
