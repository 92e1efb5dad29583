//! Sentry envelopes read in place: the header (with the DSC under `trace`) and the items, each
//! with its header and payload, without copying or building a tree.

use std::borrow::Cow;
use std::fmt;

use crate::json::{self, RawValue};

/// Why an envelope could not be read. The numeric codes are stable (they cross the binding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeError {
    Empty,
    InvalidHeader,
    InvalidItemHeader,
    MissingItemType,
    LengthExceeded,
    MissingNewline,
}

impl EnvelopeError {
    pub fn code(self) -> u32 {
        match self {
            EnvelopeError::Empty => 1,
            EnvelopeError::InvalidHeader => 2,
            EnvelopeError::InvalidItemHeader => 3,
            EnvelopeError::MissingItemType => 4,
            EnvelopeError::LengthExceeded => 5,
            EnvelopeError::MissingNewline => 6,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            EnvelopeError::Empty => "empty envelope",
            EnvelopeError::InvalidHeader => "the envelope header is not a JSON object",
            EnvelopeError::InvalidItemHeader => "an item header is not a JSON object",
            EnvelopeError::MissingItemType => "an item header has no string `type`",
            EnvelopeError::LengthExceeded => "an item's `length` runs past the end of the envelope",
            EnvelopeError::MissingNewline => "an item payload is not followed by a newline",
        }
    }
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for EnvelopeError {}

/// One item: its header (with the fields sampling reads) and payload bytes.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub header: RawValue<'a>,
    pub item_type: Cow<'a, str>,
    pub content_type: Option<Cow<'a, str>>,
    /// `item_count` of span containers.
    pub item_count: Option<u64>,
    pub payload: &'a [u8],
    /// Where the item lies in the envelope: `[start, end)` with its header line, payload and
    /// trailing newline (offsets from the envelope's first byte).
    pub span: ItemSpan,
}

/// Byte offsets of one item in its envelope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemSpan {
    pub start: usize,
    pub header_end: usize,
    pub payload_start: usize,
    pub payload_end: usize,
    pub end: usize,
    /// The `length` value in the item header (`[start, end)`), when it has one.
    pub length_value: Option<(usize, usize)>,
}

impl<'a> Item<'a> {
    pub fn item_type(&self) -> Option<Cow<'a, str>> {
        Some(self.item_type.clone())
    }

    pub fn content_type(&self) -> Option<Cow<'a, str>> {
        self.content_type.clone()
    }
}

/// An envelope: header plus the raw item section.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub header: RawValue<'a>,
    trace: Option<RawValue<'a>>,
    dsn: Option<RawValue<'a>>,
    event_id: Option<RawValue<'a>>,
    sent_at: Option<RawValue<'a>>,
    /// Offset of the newline ending the header line (or the envelope's length).
    header_end: usize,
    body: &'a [u8],
}

/// Finds the end of a line: the offset of its `\n`, or the end of input.
fn line_end(b: &[u8], from: usize) -> usize {
    memchr::memchr(b'\n', &b[from..]).map_or(b.len(), |p| from + p)
}

/// Reads a header line in one pass, handing each entry to `f`; the line must be one valid JSON
/// object, all of it (Relay rejects the envelope when any part of a header does not parse).
fn read_header_line<'a>(line: &'a [u8], f: impl FnMut(json::RawKey<'a>, RawValue<'a>)) -> Option<RawValue<'a>> {
    let start = json::skip_ws(line, 0);
    let end = start + json::for_each_entry_validated(&line[start..], f).ok()?;
    (json::skip_ws(line, end) == line.len()).then_some(RawValue(&line[start..end]))
}

impl<'a> Envelope<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(EnvelopeError::Empty);
        }
        let end = line_end(bytes, 0);
        let (mut trace, mut dsn, mut event_id, mut sent_at) = (None, None, None, None);
        let header = read_header_line(&bytes[..end], |key, value| {
            if key.eq_str("trace") {
                trace = (!value.is_null()).then_some(value);
            } else if key.eq_str("dsn") {
                dsn = Some(value);
            } else if key.eq_str("event_id") {
                event_id = Some(value);
            } else if key.eq_str("sent_at") {
                sent_at = Some(value);
            }
        })
        .ok_or(EnvelopeError::InvalidHeader)?;
        let body = if end < bytes.len() { &bytes[end + 1..] } else { &[] };
        Ok(Envelope { header, trace, dsn, event_id, sent_at, header_end: end, body })
    }

    /// Offset of the newline ending the header line (the envelope's length when there is none).
    pub fn header_end(&self) -> usize {
        self.header_end
    }

    /// The header's `dsn` value as written.
    pub fn dsn_value(&self) -> Option<RawValue<'a>> {
        self.dsn
    }

    /// The header's `sent_at` value as written.
    pub fn sent_at(&self) -> Option<RawValue<'a>> {
        self.sent_at
    }

    /// The header's `event_id` as a 128-bit id (hyphenated or 32-hex UUID).
    pub fn event_id(&self) -> Option<u128> {
        crate::value::parse_uuid(&self.event_id?.as_str()?)
    }

    /// The DSC as written (unparsed).
    pub fn trace(&self) -> Option<RawValue<'a>> {
        self.trace
    }

    pub fn dsn(&self) -> Option<Cow<'a, str>> {
        self.dsn?.as_str()
    }

    pub fn items(&self) -> Items<'a> {
        Items { b: self.body, base: self.header_end + 1, i: 0, failed: false }
    }
}

/// Items of an envelope; yields an error once and then stops.
pub struct Items<'a> {
    b: &'a [u8],
    /// Offset of `b` in the envelope.
    base: usize,
    i: usize,
    failed: bool,
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, EnvelopeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let b = self.b;
        // Blank lines between items are tolerated, as Relay does at the end of an envelope.
        while self.i < b.len() && b[self.i] == b'\n' {
            self.i += 1;
        }
        if self.i >= b.len() {
            return None;
        }
        let result = self.read_item();
        if result.is_err() {
            self.failed = true;
        }
        Some(result)
    }
}

impl<'a> Items<'a> {
    fn read_item(&mut self) -> Result<Item<'a>, EnvelopeError> {
        let b = self.b;
        let header_end = line_end(b, self.i);
        let (mut item_type, mut content_type, mut length, mut item_count) = (None, None, None, None);
        let mut length_value = None;
        let mut bad_length = false;
        let header = read_header_line(&b[self.i..header_end], |key, value| {
            if key.eq_str("type") {
                item_type = value.as_str();
            } else if key.eq_str("length") {
                let at = value.0.as_ptr() as usize - b.as_ptr() as usize;
                length_value = Some((at, at + value.0.len()));
                match value.as_number() {
                    Some(json::Number::I64(n)) if n >= 0 => length = Some(n as u64),
                    Some(json::Number::U64(n)) => length = Some(n),
                    None if value.is_null() => {}
                    _ => bad_length = true,
                }
            } else if key.eq_str("content_type") {
                content_type = value.as_str();
            } else if key.eq_str("item_count") {
                item_count = match value.as_number() {
                    Some(json::Number::I64(n)) if n >= 0 => Some(n as u64),
                    Some(json::Number::U64(n)) => Some(n),
                    _ => None,
                };
            }
        })
        .ok_or(EnvelopeError::InvalidItemHeader)?;
        if bad_length {
            return Err(EnvelopeError::InvalidItemHeader);
        }
        let item_type = item_type.ok_or(EnvelopeError::MissingItemType)?;
        let start = (header_end + 1).min(b.len());
        let item_start = self.i;
        let (payload, next) = match length {
            Some(len) => {
                let end = usize::try_from(len)
                    .ok()
                    .and_then(|len| start.checked_add(len))
                    .filter(|&e| e <= b.len())
                    .ok_or(EnvelopeError::LengthExceeded)?;
                match b.get(end) {
                    None => (&b[start..end], end),
                    Some(b'\n') => (&b[start..end], end + 1),
                    Some(_) => return Err(EnvelopeError::MissingNewline),
                }
            }
            None => {
                let end = line_end(b, start);
                (&b[start..end], (end + 1).min(b.len()))
            }
        };
        self.i = next;
        let base = self.base;
        let span = ItemSpan {
            start: base + item_start,
            header_end: base + header_end,
            payload_start: base + start,
            payload_end: base + start + payload.len(),
            end: base + next,
            length_value: length_value.filter(|_| length.is_some()).map(|(s, e)| (base + s, base + e)),
        };
        Ok(Item { header, item_type, content_type, item_count, payload, span })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_a_header_malformed_anywhere_as_json_parsers_do() {
        // Malformed inside a nested value the reader does not need: still not a JSON header.
        for header in [
            &br#"{"sdk":{"name":"x",,"version":"1"},"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}"#[..],
            br#"{"trace":{"list":[1 2]},"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}"#,
            b"{\"sdk\":{\"name\":\"a\tb\"},\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}",
        ] {
            let mut envelope = header.to_vec();
            envelope.extend_from_slice(b"\n{\"type\":\"event\"}\n{}\n");
            assert_eq!(Envelope::parse(&envelope).unwrap_err(), EnvelopeError::InvalidHeader, "{}", String::from_utf8_lossy(header));
        }
    }

    #[test]
    fn reads_items_with_and_without_length() {
        let env = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"attachment\",\"length\":10}\nhelloworld\n{\"type\":\"event\"}\n{\"message\":\"x\"}\n";
        let envelope = Envelope::parse(env).unwrap();
        let items: Vec<_> = envelope.items().collect::<Result<_, _>>().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].payload, b"helloworld");
        assert_eq!(items[1].item_type().unwrap(), "event");
        assert_eq!(items[1].payload, b"{\"message\":\"x\"}");
    }

    #[test]
    fn length_may_end_the_envelope_without_newline() {
        let env = b"{}\n{\"type\":\"attachment\",\"length\":3}\nabc";
        let items: Vec<_> = Envelope::parse(env).unwrap().items().collect::<Result<_, _>>().unwrap();
        assert_eq!(items[0].payload, b"abc");
    }

    #[test]
    fn rejects_bad_lengths_and_headers() {
        let long = b"{}\n{\"type\":\"attachment\",\"length\":30}\nabc";
        assert_eq!(Envelope::parse(long).unwrap().items().next().unwrap().unwrap_err(), EnvelopeError::LengthExceeded);
        assert_eq!(Envelope::parse(b"nope\n").unwrap_err(), EnvelopeError::InvalidHeader);
        assert_eq!(Envelope::parse(b"").unwrap_err(), EnvelopeError::Empty);
        let bad = b"{}\n{\"length\":3}\nabc";
        assert_eq!(Envelope::parse(bad).unwrap().items().next().unwrap().unwrap_err(), EnvelopeError::MissingItemType);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(envelope) = Envelope::parse(&bytes) {
                let _ = envelope.trace().map(crate::dsc::Dsc::from_raw);
                for item in envelope.items() {
                    if let Ok(item) = item {
                        let _ = crate::event::EventView::parse(item.payload);
                    }
                }
            }
        }

        #[test]
        fn json_like_input_never_panics(text in r#"[{}\[\]",:0-9a-z\\ \n-]{0,200}"#) {
            let bytes = text.as_bytes();
            let _ = crate::json::validate(bytes);
            let _ = crate::json::skip_value_fast(bytes, 0);
            let _ = crate::event::EventView::parse(bytes);
            let _ = crate::dsc::Dsc::parse(bytes);
            if let Ok(envelope) = Envelope::parse(bytes) {
                for item in envelope.items() {
                    let _ = item;
                }
            }
        }
    }
}
