//! Typed values read from an event, a DSC or a flat instance, and the getter trait conditions use.

use std::borrow::Cow;
use std::net::IpAddr;

pub use crate::field::{FieldKey, FieldPath};

/// A field value as conditions see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    /// An id held as bytes (trace, span, replay ids): compared with its hex spelling.
    Hex(&'a [u8]),
    Ip(IpAddr),
}

impl Val<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Val::I64(v) => Some(v),
            Val::U64(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Val::I64(v) => u64::try_from(v).ok(),
            Val::U64(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Val::I64(v) => Some(v as f64),
            Val::U64(v) => Some(v as f64),
            Val::F64(v) => Some(v),
            _ => None,
        }
    }
}

/// Anything conditions can be matched against.
pub trait Getter {
    fn get_value(&self, field: &FieldPath) -> Option<Val<'_>>;

    /// Calls `visit` for each element of the array at `field` until it returns false.
    /// Returns false when there is no array at that path.
    fn for_each_element(&self, _field: &FieldPath, _visit: &mut dyn FnMut(&dyn Getter) -> bool) -> bool {
        false
    }
}

/// Parses a UUID written as 32 hex digits, with or without hyphens (and optional braces or a
/// `urn:uuid:` prefix, which the uuid crate also accepts), as a 128-bit big-endian integer.
pub fn parse_uuid(text: &str) -> Option<u128> {
    // The common spelling (32 digits, as SDKs send ids) without the general loop.
    if let Ok(digits) = <&[u8; 32]>::try_from(text.as_bytes()) {
        return hex_u128(digits);
    }
    let text = text.strip_prefix("urn:uuid:").unwrap_or(text);
    let text = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
    let bytes = text.as_bytes();
    let hyphenated = match bytes.len() {
        32 => false,
        36 => true,
        _ => return None,
    };
    if hyphenated && [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
        return None;
    }
    let mut value: u128 = 0;
    let mut digits = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if hyphenated && matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        value = (value << 4) | u128::from(hex_digit(c)?);
        digits += 1;
    }
    (digits == 32).then_some(value)
}

/// Digit values, 0xFF for bytes that are not hex digits.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = match c as u8 {
            b'0'..=b'9' => c as u8 - b'0',
            b'a'..=b'f' => c as u8 - b'a' + 10,
            b'A'..=b'F' => c as u8 - b'A' + 10,
            _ => 0xFF,
        };
        c += 1;
    }
    table
};

/// 32 hex digits (either case) as a big-endian 128-bit integer.
#[inline]
pub fn hex_u128(digits: &[u8; 32]) -> Option<u128> {
    let (high, low) = digits.split_at(16);
    let half = |part: &[u8]| hex_u64(part.try_into().expect("16 digits"));
    Some(u128::from(half(high)?) << 64 | u128::from(half(low)?))
}

/// 16 hex digits (either case) as a big-endian 64-bit integer, all sixteen at once (SSE2).
#[cfg(target_arch = "x86_64")]
#[inline]
fn hex_u64(digits: &[u8; 16]) -> Option<u64> {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_movemask_epi8,
        _mm_or_si128, _mm_packus_epi16, _mm_set1_epi16, _mm_set1_epi8, _mm_slli_epi16, _mm_srli_epi16,
    };
    // Safety: SSE2 is always available on x86_64; the load is unaligned and in bounds.
    unsafe {
        let v = _mm_loadu_si128(digits.as_ptr() as *const __m128i);
        let within = |x, low: u8, high: u8| {
            _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(low as i8 - 1)), _mm_cmplt_epi8(x, _mm_set1_epi8(high as i8 + 1)))
        };
        // Bytes from 0x80 compare as negative: never in range.
        let digit = within(v, b'0', b'9');
        // Only `A`-`F` and `a`-`f` fold into `a`-`f`.
        let letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', b'f');
        if _mm_movemask_epi8(_mm_or_si128(digit, letter)) != 0xFFFF {
            return None;
        }
        let nibbles = _mm_add_epi8(_mm_and_si128(v, _mm_set1_epi8(0x0F)), _mm_and_si128(letter, _mm_set1_epi8(9)));
        // Each 16-bit lane holds two digits, the first (more significant) in its low byte.
        let pairs = _mm_and_si128(_mm_or_si128(_mm_slli_epi16(nibbles, 4), _mm_srli_epi16(nibbles, 8)), _mm_set1_epi16(0xFF));
        let bytes = _mm_cvtsi128_si64(_mm_packus_epi16(pairs, pairs)) as u64;
        Some(bytes.swap_bytes())
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn hex_u64(digits: &[u8; 16]) -> Option<u64> {
    hex_u64_by_table(digits)
}

/// 16 hex digits through the digit table (the portable path, and the reference of the tests).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn hex_u64_by_table(digits: &[u8; 16]) -> Option<u64> {
    let mut value = 0u64;
    let mut invalid = 0u8;
    for &c in digits {
        let d = HEX_VALUES[c as usize];
        invalid |= d;
        value = value << 4 | u64::from(d & 0x0F);
    }
    // Only the 0xFF of a non-digit sets the high bits.
    (invalid & 0xF0 == 0).then_some(value)
}

pub fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Whether `text` is the hex spelling of `bytes` (either case).
pub fn hex_matches(bytes: &[u8], text: &str) -> bool {
    let t = text.as_bytes();
    t.len() == bytes.len() * 2
        && bytes
            .iter()
            .enumerate()
            .all(|(i, &b)| matches!((hex_digit(t[2 * i]), hex_digit(t[2 * i + 1])), (Some(h), Some(l)) if (h << 4 | l) == b))
}

/// Decodes an even-length hex string.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let t = text.as_bytes();
    if t.len() % 2 != 0 {
        return None;
    }
    t.chunks(2).map(|p| Some(hex_digit(p[0])? << 4 | hex_digit(p[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_read_sixteen_at_once_as_by_the_table() {
        // Every byte value at every position, among digits of both cases.
        let base = *b"0123456789abcdefABCDEF0123456789";
        for value in 0..=255u8 {
            for at in 0..16 {
                let mut digits: [u8; 16] = base[at..at + 16].try_into().unwrap();
                digits[at] = value;
                assert_eq!(hex_u64(&digits), hex_u64_by_table(&digits), "byte {value:#x} at {at}");
            }
        }
        assert_eq!(hex_u128(b"0123456789abcdefABCDEF0123456789"), Some(0x0123456789abcdefABCDEF0123456789));
        assert_eq!(hex_u128(b"0123456789abcdefABCDEF012345678g"), None);
    }

    #[test]
    fn uuids_parse_in_both_spellings() {
        let simple = parse_uuid("67e5504410b1426f9247bb680e5fe0c8").unwrap();
        let hyphenated = parse_uuid("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap();
        assert_eq!(simple, hyphenated);
        assert_eq!(simple, 0x67e5504410b1426f9247bb680e5fe0c8);
        assert!(parse_uuid("67e5504410b1426f9247bb680e5fe0c").is_none());
        assert!(parse_uuid("67e55044-10b1-426f-9247-bb680e5fe0cg").is_none());
        assert_eq!(parse_uuid("67E5504410B1426F9247BB680E5FE0C8"), Some(simple));
        for bad in [
            "67e5504410b1426f9247bb680e5fe0cg",
            "g7e5504410b1426f9247bb680e5fe0c8",
            "67e5504410b1426f 247bb680e5fe0c8",
            "{7e5504410b1426f9247bb680e5fe0c}",
        ] {
            assert!(parse_uuid(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn hex_ids_compare_case_insensitively() {
        assert!(hex_matches(&[0xde, 0xad], "DeAd"));
        assert!(!hex_matches(&[0xde, 0xad], "dead00"));
    }
}
