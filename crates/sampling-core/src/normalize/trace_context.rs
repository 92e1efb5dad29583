//! The trace context as normalization leaves it: a status is always present (`unknown` when
//! missing or not one of the known span statuses; numeric gRPC codes are accepted), and a
//! transaction's `op` defaults to `default`.

use crate::json::{Number, RawValue};

/// Span statuses by their gRPC code.
const BY_CODE: [&str; 17] = [
    "ok",
    "cancelled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal_error",
    "unavailable",
    "data_loss",
    "unauthenticated",
];

/// The canonical spelling of a status name, with the legacy aliases (as sentry-relay 0.10.1 reads them).
fn canonical(name: &str) -> Option<&'static str> {
    Some(match name {
        "success" => "ok",
        "failure" => "internal_error",
        "unknown_error" => "internal_error",
        _ => BY_CODE.iter().copied().find(|s| *s == name)?,
    })
}

/// The normalized `contexts.trace.status` for the raw value found (if any).
pub fn status(raw: Option<RawValue<'_>>) -> &'static str {
    let Some(raw) = raw else { return "unknown" };
    if let Some(s) = raw.as_str() {
        return canonical(&s).unwrap_or("unknown");
    }
    let code = match raw.as_number() {
        Some(Number::I64(n)) => usize::try_from(n).ok(),
        Some(Number::U64(n)) => usize::try_from(n).ok(),
        _ => None,
    };
    code.and_then(|c| BY_CODE.get(c).copied()).unwrap_or("unknown")
}

/// The op a transaction's trace context gets when it has none.
pub const DEFAULT_OP: &str = "default";

#[cfg(test)]
mod tests {
    use super::*;

    fn of(json: &str) -> &'static str {
        status(Some(RawValue(json.as_bytes())))
    }

    #[test]
    fn statuses() {
        assert_eq!(status(None), "unknown");
        assert_eq!(of(r#""ok""#), "ok");
        assert_eq!(of(r#""success""#), "ok");
        assert_eq!(of(r#""OK""#), "unknown");
        assert_eq!(of(r#""unknown_error""#), "internal_error");
        assert_eq!(of(r#""failure""#), "internal_error");
        assert_eq!(of("16"), "unauthenticated");
        assert_eq!(of("17"), "unknown");
        assert_eq!(of("true"), "unknown");
    }
}
