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
        && bytes.iter().enumerate().all(|(i, &b)| {
            matches!((hex_digit(t[2 * i]), hex_digit(t[2 * i + 1])), (Some(h), Some(l)) if (h << 4 | l) == b)
        })
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
    fn uuids_parse_in_both_spellings() {
        let simple = parse_uuid("67e5504410b1426f9247bb680e5fe0c8").unwrap();
        let hyphenated = parse_uuid("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap();
        assert_eq!(simple, hyphenated);
        assert_eq!(simple, 0x67e5504410b1426f9247bb680e5fe0c8);
        assert!(parse_uuid("67e5504410b1426f9247bb680e5fe0c").is_none());
        assert!(parse_uuid("67e55044-10b1-426f-9247-bb680e5fe0cg").is_none());
    }

    #[test]
    fn hex_ids_compare_case_insensitively() {
        assert!(hex_matches(&[0xde, 0xad], "DeAd"));
        assert!(!hex_matches(&[0xde, 0xad], "dead00"));
    }
}
