//! The dynamic sampling context (envelope header `trace`), parsed as strictly as Relay does:
//! a DSC that does not parse counts as absent.

use std::borrow::Cow;
use std::fmt;

pub use crate::field::DscField;
use crate::field::{FieldKey, FieldPath};
use crate::json::{self, RawValue};
use crate::value::{parse_uuid, Getter, Val};

/// Why a DSC was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DscError {
    pub field: &'static str,
    pub reason: &'static str,
}

impl fmt::Display for DscError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid dynamic sampling context: {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for DscError {}

/// A parsed DSC borrowing its strings from the input where possible.
#[derive(Debug, Clone, PartialEq)]
pub struct Dsc<'a> {
    pub trace_id: u128,
    pub public_key: u128,
    pub release: Option<Cow<'a, str>>,
    pub environment: Option<Cow<'a, str>>,
    pub transaction: Option<Cow<'a, str>>,
    pub sample_rate: Option<f64>,
    pub sampled: Option<bool>,
    /// Empty when absent.
    pub user_id: Cow<'a, str>,
    /// Empty when absent.
    pub user_segment: Cow<'a, str>,
    pub replay_id: Option<[u8; 16]>,
}

fn fail<T>(field: &'static str, reason: &'static str) -> Result<T, DscError> {
    Err(DscError { field, reason })
}

fn optional_string<'a>(v: RawValue<'a>, field: &'static str) -> Result<Option<Cow<'a, str>>, DscError> {
    if v.is_null() {
        return Ok(None);
    }
    v.as_str().map(Some).ok_or(DscError { field, reason: "expected a string" })
}

/// Parses a 32-hex-digit project key.
pub fn parse_project_key(text: &str) -> Option<u128> {
    crate::value::hex_u128(<&[u8; 32]>::try_from(text.as_bytes()).ok()?)
}

impl<'a> Dsc<'a> {
    /// Parses the DSC object from JSON text.
    pub fn parse(bytes: &'a [u8]) -> Result<Dsc<'a>, DscError> {
        let value = json::validate(bytes).map_err(|_| DscError { field: "", reason: "not valid JSON" })?;
        Self::from_raw(value)
    }

    /// Reads a DSC from an already validated JSON value.
    pub fn from_raw(value: RawValue<'a>) -> Result<Dsc<'a>, DscError> {
        if !value.is_object() {
            return fail("", "expected an object");
        }
        let mut trace_id = None;
        let mut public_key = None;
        let mut dsc = Dsc {
            trace_id: 0,
            public_key: 0,
            release: None,
            environment: None,
            transaction: None,
            sample_rate: None,
            sampled: None,
            user_id: Cow::Borrowed(""),
            user_segment: Cow::Borrowed(""),
            replay_id: None,
        };
        let mut flat_user_id = None;
        let mut flat_user_segment = None;
        let mut nested_user = None;
        let mut error = None;
        let scan = json::for_each_entry(value.bytes(), |key, v| {
            if error.is_none() {
                if let Err(e) =
                    dsc.read_field(key, v, &mut trace_id, &mut public_key, &mut flat_user_id, &mut flat_user_segment, &mut nested_user)
                {
                    error = Some(e);
                }
            }
        });
        if scan.is_err() {
            return fail("", "not valid JSON");
        }
        if let Some(e) = error {
            return Err(e);
        }
        dsc.trace_id = trace_id.ok_or(DscError { field: "trace_id", reason: "missing" })?;
        dsc.public_key = public_key.ok_or(DscError { field: "public_key", reason: "missing" })?;

        // A non-empty flat field means the flat pair wins entirely; otherwise the nested object.
        let flat_set =
            flat_user_id.as_deref().is_some_and(|s| !s.is_empty()) || flat_user_segment.as_deref().is_some_and(|s| !s.is_empty());
        if flat_set {
            dsc.user_id = flat_user_id.unwrap_or(Cow::Borrowed(""));
            dsc.user_segment = flat_user_segment.unwrap_or(Cow::Borrowed(""));
        } else if let Some(user) = nested_user {
            for (key, v) in user.entries() {
                let target = if key.eq_str("id") {
                    &mut dsc.user_id
                } else if key.eq_str("segment") {
                    &mut dsc.user_segment
                } else {
                    continue;
                };
                if !v.is_null() {
                    *target = v.as_str().ok_or(DscError { field: "user", reason: "expected string id and segment" })?;
                }
            }
        }
        Ok(dsc)
    }

    #[allow(clippy::too_many_arguments)]
    fn read_field(
        &mut self,
        key: json::RawKey<'a>,
        v: RawValue<'a>,
        trace_id: &mut Option<u128>,
        public_key: &mut Option<u128>,
        flat_user_id: &mut Option<Cow<'a, str>>,
        flat_user_segment: &mut Option<Cow<'a, str>>,
        nested_user: &mut Option<RawValue<'a>>,
    ) -> Result<(), DscError> {
        // Keys are matched as written; an escaped key is decoded first (rare).
        let decoded;
        let name: &[u8] = if key.has_escape() {
            decoded = key.decode().ok_or(DscError { field: "", reason: "invalid key" })?;
            decoded.as_bytes()
        } else {
            key.raw()
        };
        match name {
            b"trace_id" => {
                let text = v.as_str().ok_or(DscError { field: "trace_id", reason: "expected a string" })?;
                *trace_id = Some(parse_uuid(&text).ok_or(DscError { field: "trace_id", reason: "not a UUID" })?);
            }
            b"public_key" => {
                let text = v.as_str().ok_or(DscError { field: "public_key", reason: "expected a string" })?;
                *public_key = Some(parse_project_key(&text).ok_or(DscError { field: "public_key", reason: "not a 32-digit hex key" })?);
            }
            b"release" => self.release = optional_string(v, "release")?,
            b"environment" => self.environment = optional_string(v, "environment")?,
            b"transaction" | b"segment_name" => {
                if let Some(t) = optional_string(v, "transaction")? {
                    self.transaction = Some(t);
                }
            }
            b"sample_rate" => self.sample_rate = parse_sample_rate(v)?,
            b"sampled" => {
                self.sampled = match v.as_bool() {
                    Some(b) => Some(b),
                    None if v.is_null() => None,
                    None => match v.as_str() {
                        Some(s) if s == "true" => Some(true),
                        Some(s) if s == "false" => Some(false),
                        Some(_) => None,
                        None => return fail("sampled", "expected a boolean or a string"),
                    },
                }
            }
            b"user_id" => *flat_user_id = Some(v.as_str().ok_or(DscError { field: "user_id", reason: "expected a string" })?),
            b"user_segment" => {
                *flat_user_segment = Some(v.as_str().ok_or(DscError { field: "user_segment", reason: "expected a string" })?)
            }
            b"user" => {
                if !v.is_null() {
                    if !v.is_object() {
                        return fail("user", "expected an object");
                    }
                    *nested_user = Some(v);
                }
            }
            b"replay_id" => {
                if !v.is_null() {
                    let text = v.as_str().ok_or(DscError { field: "replay_id", reason: "expected a string" })?;
                    let id = parse_uuid(&text).ok_or(DscError { field: "replay_id", reason: "not a UUID" })?;
                    self.replay_id = Some(id.to_be_bytes());
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The DSC with everything but the trace id, sample rate and key cleared: what spans are
    /// matched with when their trace's root project is unknown.
    pub fn reduced_to(&self, public_key: u128) -> Dsc<'a> {
        Dsc {
            trace_id: self.trace_id,
            public_key,
            release: None,
            environment: None,
            transaction: None,
            sample_rate: self.sample_rate,
            sampled: self.sampled,
            user_id: Cow::Borrowed(""),
            user_segment: Cow::Borrowed(""),
            replay_id: None,
        }
    }
}

/// `sample_rate` is a string holding a non-negative JSON number.
fn parse_sample_rate(v: RawValue<'_>) -> Result<Option<f64>, DscError> {
    if v.is_null() {
        return Ok(None);
    }
    let text = v.as_str().ok_or(DscError { field: "sample_rate", reason: "expected a string" })?;
    let rate = crate::json::parse_json_number(text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')))
        .ok_or(DscError { field: "sample_rate", reason: "not a number" })?;
    if rate < 0.0 {
        return fail("sample_rate", "negative");
    }
    Ok(Some(rate))
}

fn borrowed<'s>(s: &'s Option<Cow<'_, str>>) -> Option<Val<'s>> {
    s.as_deref().map(|s| Val::Str(Cow::Borrowed(s)))
}

impl Getter for Dsc<'_> {
    fn get_value(&self, field: &FieldPath) -> Option<Val<'_>> {
        let FieldKey::Dsc(field) = field.key else { return None };
        match field {
            DscField::Release => borrowed(&self.release),
            DscField::Environment => borrowed(&self.environment),
            DscField::Transaction => borrowed(&self.transaction),
            DscField::UserId => (!self.user_id.is_empty()).then(|| Val::Str(Cow::Borrowed(&*self.user_id))),
            DscField::UserSegment => (!self.user_segment.is_empty()).then(|| Val::Str(Cow::Borrowed(&*self.user_segment))),
            DscField::ReplayId => self.replay_id.as_ref().map(|id| Val::Hex(id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#""trace_id":"67e5504410b1426f9247bb680e5fe0c8","public_key":"abd0f232775f45feab79864e580d160b""#;

    fn parse(extra: &str) -> Result<Dsc<'static>, DscError> {
        let text: &'static str = Box::leak(format!("{{{BASE}{extra}}}").into_boxed_str());
        Dsc::parse(text.as_bytes())
    }

    #[test]
    fn sample_rate_must_be_a_string_number() {
        assert_eq!(parse(r#","sample_rate":"1e-5""#).unwrap().sample_rate, Some(1e-5));
        assert!(parse(r#","sample_rate":0.5"#).is_err());
        assert!(parse(r#","sample_rate":"abc""#).is_err());
        assert!(parse(r#","sample_rate":"-0.1""#).is_err());
    }

    #[test]
    fn sampled_accepts_bool_and_bool_strings() {
        assert_eq!(parse(r#","sampled":"true""#).unwrap().sampled, Some(true));
        assert_eq!(parse(r#","sampled":false"#).unwrap().sampled, Some(false));
        assert_eq!(parse(r#","sampled":"yes""#).unwrap().sampled, None);
        assert_eq!(parse(r#","sampled":null"#).unwrap().sampled, None);
        assert!(parse(r#","sampled":1"#).is_err());
    }

    #[test]
    fn flat_user_fields_win_over_nested() {
        let dsc = parse(r#","user_id":"hello","user":{"segment":"all"}"#).unwrap();
        assert_eq!((&*dsc.user_id, &*dsc.user_segment), ("hello", ""));
        let dsc = parse(r#","user":{"id":"n","segment":"s"}"#).unwrap();
        assert_eq!((&*dsc.user_id, &*dsc.user_segment), ("n", "s"));
    }

    #[test]
    fn strict_types_reject_the_whole_dsc() {
        assert!(parse(r#","user_id":null"#).is_err());
        assert!(parse(r#","release":12"#).is_err());
        assert!(Dsc::parse(br#"{"trace_id":"67e5504410b1426f9247bb680e5fe0c8","public_key":"abc"}"#).is_err());
        assert!(Dsc::parse(br#"{"public_key":"abd0f232775f45feab79864e580d160b"}"#).is_err());
    }

    #[test]
    fn segment_name_is_the_transaction() {
        assert_eq!(parse(r#","segment_name":"/a""#).unwrap().transaction.as_deref(), Some("/a"));
    }
}
