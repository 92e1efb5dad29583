//! Which transaction names are treated as URLs, and the name and source normalization leaves.
//!
//! For transactions: surrounding whitespace is trimmed; an empty or missing name becomes
//! `<unlabeled transaction>`. A missing source becomes `unknown`, unless the name holds a `/`
//! and comes from an SDK known to send raw URLs (then it stays missing). Names whose source is
//! `url` or `sanitized`, or missing (after that default), are URL-like: identifiers are scrubbed,
//! then the project's `txNameRules` apply, and the source becomes `sanitized` (even when the
//! name did not change).

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::scrub::{scrub_identifiers_into, ScrubBuffers};
use super::tx_name_rules::TxNameRules;
use crate::event::EventView;
use crate::json::RawValue;

pub const UNLABELED: &str = "<unlabeled transaction>";

/// SDKs that name transactions after raw URLs.
const RAW_URL_SDKS: &[&str] = &[
    "sentry.javascript.angular",
    "sentry.javascript.browser",
    "sentry.javascript.ember",
    "sentry.javascript.gatsby",
    "sentry.javascript.react",
    "sentry.javascript.remix",
    "sentry.javascript.vue",
    "sentry.javascript.nextjs",
    "sentry.php.laravel",
    "sentry.php.symfony",
];

fn has_integration(sdk: crate::json::RawValue<'_>, name: &str) -> bool {
    sdk.get("integrations").is_some_and(|list| list.elements().any(|i| i.as_str().is_some_and(|s| s == name)))
}

/// Whether the event's SDK is known to send unparameterized names when it sends no source.
/// (The Ruby/Rack case, which needs the event's `modules`, is not covered.)
pub fn is_high_cardinality_sdk(view: &EventView<'_>) -> bool {
    let Some(sdk) = view.raw_field("sdk").filter(|s| s.is_object()) else { return false };
    let name = sdk.get("name").and_then(|n| n.as_str()).unwrap_or(Cow::Borrowed("unknown"));
    if RAW_URL_SDKS.contains(&&*name) {
        return true;
    }
    if name == "sentry.python" && view.tag_str("http.status_code").as_deref() == Some("404") && has_integration(sdk, "django") {
        return true;
    }
    if name == "sentry.javascript.node" {
        let method = view.raw_field("request").and_then(|r| r.get("method")).and_then(|m| m.as_str());
        if method.is_some_and(|m| m.eq_ignore_ascii_case("options")) && has_integration(sdk, "Express") {
            return true;
        }
    }
    false
}

/// Whether normalizing the name of an event with this `type`, `transaction` and
/// `transaction_info` reads its SDK (`is_high_cardinality_sdk`, which reads `sdk`, `tags` and
/// `request`): only a transaction sent without a source whose name holds a `/`, as in
/// `normalize_event_name`.
pub(crate) fn name_reads_sdk(event_type: Option<RawValue<'_>>, name: Option<RawValue<'_>>, info: Option<RawValue<'_>>) -> bool {
    event_type.and_then(|t| t.as_str()).is_some_and(|t| t == "transaction")
        && info.and_then(|i| i.get("source")).and_then(|s| s.as_str()).is_none()
        && name.and_then(|n| n.as_str()).is_some_and(|n| n.trim().contains('/'))
}

/// Reusable buffers for name normalization.
#[derive(Debug, Default)]
pub struct NameBuffers {
    scrubbed: String,
    work: String,
    result: String,
    scrub: ScrubBuffers,
}

/// Scrubs identifiers from `name` and applies `rules`, writing the result into `out`.
/// Returns false (with `out` unspecified) when the name stays as it is.
pub fn normalize_url_name(name: &str, rules: &TxNameRules, now: DateTime<Utc>, out: &mut String, buffers: &mut NameBuffers) -> bool {
    buffers.scrubbed.clear();
    let scrubbed = scrub_identifiers_into(name, &mut buffers.scrubbed, &mut buffers.scrub);
    let base: &str = if scrubbed { &buffers.scrubbed } else { name };
    if rules.apply_into(base, now, out, &mut buffers.work) {
        return true;
    }
    if scrubbed {
        out.clear();
        out.push_str(&buffers.scrubbed);
    }
    scrubbed
}

/// The DSC's `transaction` as Relay parametrizes it: names with a `/` are normalized like URLs.
pub fn parametrize_dsc_name(name: &str, rules: &TxNameRules, now: DateTime<Utc>, out: &mut String, buffers: &mut NameBuffers) -> bool {
    name.contains('/') && normalize_url_name(name, rules, now, out, buffers)
}

/// What normalization does to an event's name and source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameOutcome {
    /// The name as sent.
    Unchanged,
    /// The name is in the caller's buffer.
    Replaced,
}

/// Normalizes the event's transaction name into `out`; returns what happened to the name and
/// the source to report instead of the event's (if any).
pub fn normalize_event_name(
    view: &EventView<'_>,
    rules: &TxNameRules,
    now: DateTime<Utc>,
    out: &mut String,
    buffers: &mut NameBuffers,
) -> (NameOutcome, Option<&'static str>) {
    out.clear();
    let raw = view.transaction();
    let trimmed = raw.as_deref().map(str::trim);
    let mut outcome = match (&raw, trimmed) {
        (Some(r), Some(t)) if t.len() != r.len() => {
            out.push_str(t);
            NameOutcome::Replaced
        }
        _ => NameOutcome::Unchanged,
    };
    if !view.is_transaction() {
        return (outcome, None);
    }
    if trimmed.is_none_or(str::is_empty) {
        out.clear();
        out.push_str(UNLABELED);
        outcome = NameOutcome::Replaced;
    }
    let source = view.raw_field("transaction_info").and_then(|i| i.get("source")).and_then(|s| s.as_str());
    // Work on a copy of the current name: `out` receives the result.
    let current: Cow<'_, str> = match outcome {
        NameOutcome::Replaced => Cow::Owned(out.clone()),
        NameOutcome::Unchanged => Cow::Borrowed(trimmed.unwrap_or_default()),
    };
    let mut new_source = None;
    let missing_source = source.is_none();
    if missing_source && !(current.contains('/') && is_high_cardinality_sdk(view)) {
        new_source = Some("unknown");
    }
    let url_like = matches!(source.as_deref(), Some("url" | "sanitized")) || (new_source.is_none() && missing_source);
    if url_like {
        let mut result = std::mem::take(&mut buffers.result);
        if normalize_url_name(&current, rules, now, &mut result, buffers) {
            out.clear();
            out.push_str(&result);
            outcome = NameOutcome::Replaced;
        }
        buffers.result = result;
        new_source = Some("sanitized");
    }
    (outcome, new_source)
}
