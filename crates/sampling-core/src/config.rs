//! The sampling config wire format (`ProjectConfig.sampling`): parsed with the JSON path and rule
//! id of any error, normalised as Relay does, and classified as supported or unsupported.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::condition::Condition;
use crate::shape::{self, Body};

/// The highest config version this engine understands.
pub const SUPPORTED_VERSION: u64 = 2;

/// A config that was rejected: where, in which rule, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// JSON path inside the sampling config, e.g. `rules[3].samplingValue.type`.
    pub path: String,
    /// The `id` of the rule the error is in, when it could be read.
    pub rule_id: Option<u32>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule_id {
            Some(id) => write!(f, "invalid sampling config at {} (rule {}): {}", self.path, id, self.message),
            None => write!(f, "invalid sampling config at {}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleType {
    /// Matched on the DSC, from the trace root's config.
    Trace,
    /// Matched on the transaction event, from the event's own project config.
    Transaction,
    /// Matched on the DSC, from the event's own project config.
    Project,
    /// A type this engine does not know: never selected, and the config is unsupported.
    Unsupported,
}

impl RuleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::Trace => "trace",
            RuleType::Transaction => "transaction",
            RuleType::Project => "project",
            RuleType::Unsupported => "unsupported",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplingValue {
    SampleRate(f64),
    Factor(f64),
    MinimumSampleRate(f64),
    /// Historical: keep the first `limit` matches (counted by the engine), then fall through.
    Reservoir(i64),
}

impl SamplingValue {
    pub fn value(self) -> f64 {
        match self {
            SamplingValue::SampleRate(v) | SamplingValue::Factor(v) | SamplingValue::MinimumSampleRate(v) => v,
            SamplingValue::Reservoir(limit) => limit as f64,
        }
    }

    pub fn with_value(self, v: f64) -> Self {
        match self {
            SamplingValue::SampleRate(_) => SamplingValue::SampleRate(v),
            SamplingValue::Factor(_) => SamplingValue::Factor(v),
            SamplingValue::MinimumSampleRate(_) => SamplingValue::MinimumSampleRate(v),
            SamplingValue::Reservoir(l) => SamplingValue::Reservoir(l),
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            SamplingValue::SampleRate(_) => "sampleRate",
            SamplingValue::Factor(_) => "factor",
            SamplingValue::MinimumSampleRate(_) => "minimumSampleRate",
            SamplingValue::Reservoir(_) => "reservoir",
        }
    }

    pub fn to_json(self) -> Value {
        match self {
            SamplingValue::Reservoir(limit) => serde_json::json!({"type": "reservoir", "limit": limit}),
            other => serde_json::json!({"type": other.kind(), "value": other.value()}),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum DecayingFn {
    #[default]
    Constant,
    Linear {
        decayed_value: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

impl TimeRange {
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| s <= now) && self.end.is_none_or(|e| now < e)
    }

    pub fn is_empty(&self) -> bool {
        self.start.is_none() && self.end.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct SamplingRule {
    pub id: u32,
    pub rule_type: RuleType,
    pub condition: Condition,
    pub value: SamplingValue,
    pub time_range: TimeRange,
    pub decaying_fn: DecayingFn,
    /// The condition as written (JSON text: far smaller than a value tree), for serialising
    /// the config back.
    pub condition_json: Box<str>,
}

impl SamplingRule {
    pub fn is_unsupported(&self) -> bool {
        self.rule_type == RuleType::Unsupported || self.condition.is_unsupported()
    }

    /// The rule's value at `now` after its time range and decaying function, or `None` when the
    /// rule does not apply at this time.
    pub fn value_at(&self, now: DateTime<Utc>) -> Option<SamplingValue> {
        if !self.time_range.contains(now) {
            return None;
        }
        match self.decaying_fn {
            DecayingFn::Constant => Some(self.value),
            DecayingFn::Linear { decayed_value } => {
                let (Some(start), Some(end)) = (self.time_range.start, self.time_range.end) else { return None };
                let base = self.value.value();
                if base < decayed_value {
                    return None;
                }
                // Relay computes progress on whole seconds.
                let now_s = now.timestamp() as f64;
                let start_s = start.timestamp() as f64;
                let end_s = end.timestamp() as f64;
                let progress = ((now_s - start_s) / (end_s - start_s)).clamp(0.0, 1.0);
                Some(self.value.with_value(base + (decayed_value - base) * progress))
            }
        }
    }

    pub fn to_json(&self) -> Value {
        let mut rule = Map::new();
        rule.insert("condition".into(), serde_json::from_str(&self.condition_json).unwrap_or(Value::Null));
        rule.insert("samplingValue".into(), self.value.to_json());
        rule.insert("type".into(), Value::String(self.rule_type_text().into()));
        rule.insert("id".into(), self.id.into());
        if !self.time_range.is_empty() {
            let mut range = Map::new();
            if let Some(s) = self.time_range.start {
                range.insert("start".into(), Value::String(s.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
            }
            if let Some(e) = self.time_range.end {
                range.insert("end".into(), Value::String(e.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)));
            }
            rule.insert("timeRange".into(), Value::Object(range));
        }
        if let DecayingFn::Linear { decayed_value } = self.decaying_fn {
            rule.insert("decayingFn".into(), serde_json::json!({"type": "linear", "decayedValue": decayed_value}));
        }
        Value::Object(rule)
    }

    fn rule_type_text(&self) -> &'static str {
        self.rule_type.as_str()
    }
}

/// What the parser accepts beyond current Relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Accept the historical `{"type":"reservoir","limit":n}` sampling value (spec §9). Off by
    /// default: current Relay rejects a config holding one.
    pub reservoir: bool,
}

impl ParseOptions {
    pub const RELAY: ParseOptions = ParseOptions { reservoir: false };
    pub const WITH_RESERVOIR: ParseOptions = ParseOptions { reservoir: true };
}

/// A parsed, normalised sampling config.
#[derive(Debug, Clone)]
pub struct SamplingConfig {
    /// The version after normalisation (a legacy version 1 config becomes 2).
    pub version: u64,
    pub rules: Vec<SamplingRule>,
    /// The version as written (1 when absent).
    pub declared_version: u64,
    /// How many rules a legacy `rulesV2` list held, and whether they were appended to `rules`.
    pub legacy_rules: usize,
    pub legacy_appended: bool,
}

impl SamplingConfig {
    /// Parses a sampling config from JSON text, as current Relay does.
    pub fn parse_str(text: &str) -> Result<SamplingConfig, ConfigError> {
        Self::parse_str_with(text, ParseOptions::RELAY)
    }

    /// Parses a sampling config from JSON text with the engine's extensions.
    pub fn parse_str_with(text: &str, options: ParseOptions) -> Result<SamplingConfig, ConfigError> {
        // Repeated keys are marked: Relay rejects a repeated known field.
        let value: Value = shape::parse_marked(text).map_err(|e| ConfigError {
            path: String::new(),
            rule_id: None,
            message: format!("not valid JSON: {e}"),
        })?;
        Self::parse_with(&value, options)
    }

    /// Parses a sampling config from a JSON value, as current Relay does.
    pub fn parse(value: &Value) -> Result<SamplingConfig, ConfigError> {
        Self::parse_with(value, ParseOptions::RELAY)
    }

    /// Parses a sampling config from a JSON value with the engine's extensions.
    pub fn parse_with(value: &Value, options: ParseOptions) -> Result<SamplingConfig, ConfigError> {
        let top = |message: String| ConfigError { path: String::new(), rule_id: None, message };
        // A struct: a map, or (as serde reads structs) a sequence of its fields in order.
        let body = Body::of(value, "a sampling config (an object)").map_err(top)?;
        let [version, rules, rules_v2] = body.fields(["version", "rules", "rulesV2"], 0).map_err(top)?;
        let version = match version {
            None => 1,
            Some(v) => v.as_u64().filter(|v| *v <= u64::from(u16::MAX)).ok_or_else(|| ConfigError {
                path: "version".into(),
                rule_id: None,
                message: "must be an unsigned 16-bit integer".into(),
            })?,
        };
        let mut rules = parse_rules(rules, "rules", options)?;
        // Legacy rules are always deserialised (a bad one rejects the config), but only used by
        // version 1 configs, which they upgrade to version 2.
        let legacy = parse_rules(rules_v2, "rulesV2", options)?;
        let legacy_rules = legacy.len();
        let declared_version = version;
        let legacy_appended = version == 1;
        let version = if legacy_appended {
            rules.extend(legacy);
            SUPPORTED_VERSION
        } else {
            version
        };
        Ok(SamplingConfig { version, rules, declared_version, legacy_rules, legacy_appended })
    }

    /// Unsupported configs parse, but the production contract treats them as absent.
    pub fn is_unsupported(&self) -> bool {
        self.version > SUPPORTED_VERSION || self.rules.iter().any(SamplingRule::is_unsupported)
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "version": self.version,
            "rules": self.rules.iter().map(SamplingRule::to_json).collect::<Vec<_>>(),
        })
    }
}

fn parse_rules(list: Option<&Value>, key: &str, options: ParseOptions) -> Result<Vec<SamplingRule>, ConfigError> {
    match list {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(i, rule)| SamplingRule::parse_at(rule, &format!("{key}[{i}]"), options)).collect()
        }
        Some(_) => Err(ConfigError { path: key.into(), rule_id: None, message: "must be a list of rules".into() }),
    }
}

fn parse_time(value: &Value, path: &str, rule_id: Option<u32>) -> Result<Option<DateTime<Utc>>, ConfigError> {
    match value {
        Value::Null => Ok(None),
        // Relay deserialises `DateTime<Utc>` through chrono's `FromStr`: relaxed RFC 3339 (a space
        // or `t` as separator, lowercase `z`, leap seconds).
        Value::String(s) => s.parse::<DateTime<Utc>>().map(Some).map_err(|e| ConfigError {
            path: path.into(),
            rule_id,
            message: format!("not an RFC 3339 timestamp: {e}"),
        }),
        _ => Err(ConfigError { path: path.into(), rule_id, message: "must be an RFC 3339 timestamp string".into() }),
    }
}

impl SamplingRule {
    /// Parses one rule on its own (as the `samplingRule` conformance target does).
    pub fn parse(value: &Value) -> Result<SamplingRule, ConfigError> {
        Self::parse_at(value, "", ParseOptions::RELAY)
    }

    /// Parses one rule with the engine's extensions.
    pub fn parse_with(value: &Value, options: ParseOptions) -> Result<SamplingRule, ConfigError> {
        Self::parse_at(value, "", options)
    }

    fn parse_at(value: &Value, path: &str, options: ParseOptions) -> Result<SamplingRule, ConfigError> {
        let body = Body::of(value, "a rule (an object)").map_err(|message| ConfigError { path: path.into(), rule_id: None, message })?;
        let [condition_json, sampling_value, rule_type, id_value, time_range, decaying_fn] = body
            .fields(["condition", "samplingValue", "type", "id", "timeRange", "decayingFn"], 4)
            .map_err(|message| ConfigError { path: path.into(), rule_id: None, message })?;
        let join = |field: &str| if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") };
        // Read the id first so that every later error can name the rule.
        let rule_id = id_value.and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
        let error = |at: String, message: String| ConfigError { path: at, rule_id, message };
        let id = match id_value {
            None => return Err(error(path.into(), "missing field `id`".into())),
            Some(_) => rule_id.ok_or_else(|| error(join("id"), "must be an unsigned 32-bit integer".into()))?,
        };
        let type_of = |name: &str| match name {
            "trace" => RuleType::Trace,
            "transaction" => RuleType::Transaction,
            "project" => RuleType::Project,
            _ => RuleType::Unsupported,
        };
        let rule_type = match rule_type {
            None => return Err(error(path.into(), "missing field `type`".into())),
            Some(Value::String(t)) => type_of(t),
            // A unit variant may also be written as `{"trace": null}` (serde's map form of an
            // externally tagged enum): exactly one entry, whose value is null.
            Some(Value::Object(map)) if map.len() == 1 && map.values().all(Value::is_null) => {
                type_of(map.keys().next().map_or("", String::as_str))
            }
            Some(_) => return Err(error(join("type"), "must be a string".into())),
        };
        let condition_json = condition_json.ok_or_else(|| error(path.into(), "missing field `condition`".into()))?;
        let condition = Condition::parse(condition_json).map_err(|e| error(format!("{}{}", join("condition"), e.path), e.message))?;
        let value = parse_sampling_value(sampling_value, &join("samplingValue"), path, rule_id, options)?;
        // Absent fields take their defaults; `null` is not absent (serde expects an object).
        let time_range = match time_range {
            None => TimeRange::default(),
            Some(range) => {
                let at = |message: String| error(join("timeRange"), message);
                // Both ends are `Option`s: absent from a map, but required in the sequence form.
                let [start, end] = Body::of(range, "a time range (an object)").and_then(|b| b.fields(["start", "end"], 2)).map_err(at)?;
                TimeRange {
                    start: parse_time(start.unwrap_or(&Value::Null), &join("timeRange.start"), rule_id)?,
                    end: parse_time(end.unwrap_or(&Value::Null), &join("timeRange.end"), rule_id)?,
                }
            }
        };
        let decaying_fn = match decaying_fn {
            None => DecayingFn::Constant,
            Some(f) => {
                let at = |message: String| error(join("decayingFn"), message);
                let (tag, body) = shape::tagged(f, "type", "a decaying function (an object)").map_err(at)?;
                match tag.as_str() {
                    Some("constant") => {
                        body.unit().map_err(at)?;
                        DecayingFn::Constant
                    }
                    Some("linear") => {
                        let [decayed] = body.fields(["decayedValue"], 1).map_err(at)?;
                        DecayingFn::Linear {
                            decayed_value: decayed.and_then(Value::as_f64).ok_or_else(|| {
                                error(join("decayingFn.decayedValue"), "a linear decaying function needs a number".into())
                            })?,
                        }
                    }
                    Some(other) => return Err(error(join("decayingFn.type"), format!("unknown decaying function `{other}`"))),
                    None => return Err(error(join("decayingFn.type"), format!("invalid type: {}, expected a string", shape::kind(tag)))),
                }
            }
        };
        let mut condition_text = condition_json.to_string();
        if shape::has_marks(&condition_text) {
            condition_text = shape::without_marks(condition_json).to_string();
        }
        Ok(SamplingRule { id, rule_type, condition, value, time_range, decaying_fn, condition_json: condition_text.into_boxed_str() })
    }
}

fn parse_sampling_value(
    value: Option<&Value>,
    path: &str,
    rule_path: &str,
    rule_id: Option<u32>,
    options: ParseOptions,
) -> Result<SamplingValue, ConfigError> {
    let error = |at: &str, message: String| ConfigError { path: at.into(), rule_id, message };
    let Some(value) = value else { return Err(error(rule_path, "missing field `samplingValue`".into())) };
    // Internally tagged by `type`: a map, or a sequence whose first element is the tag.
    let (tag, body) = shape::tagged(value, "type", "a sampling value (an object)").map_err(|e| error(path, e))?;
    let kind = match tag {
        Value::String(t) => t.as_str(),
        other => return Err(error(&format!("{path}.type"), format!("invalid type: {}, expected a string", shape::kind(other)))),
    };
    let field = |name: &'static str| -> Result<Option<&Value>, ConfigError> {
        let [v] = body.fields([name], 1).map_err(|e| error(path, e))?;
        Ok(v)
    };
    let number = || {
        field("value")?.and_then(Value::as_f64).ok_or_else(|| error(&format!("{path}.value"), format!("a `{kind}` value must be a number")))
    };
    Ok(match kind {
        "sampleRate" => SamplingValue::SampleRate(number()?),
        "factor" => SamplingValue::Factor(number()?),
        "minimumSampleRate" => SamplingValue::MinimumSampleRate(number()?),
        "reservoir" if options.reservoir => SamplingValue::Reservoir(
            field("limit")?
                .and_then(Value::as_i64)
                .ok_or_else(|| error(&format!("{path}.limit"), "a reservoir limit must be an integer".into()))?,
        ),
        "reservoir" => {
            return Err(error(
                &format!("{path}.type"),
                "reservoir rules are not supported by current Relay (enable the engine's reservoir option)".into(),
            ))
        }
        other => return Err(error(&format!("{path}.type"), format!("unknown sampling value type `{other}`"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(id: u32, kind: &str) -> Value {
        json!({"id": id, "type": kind, "condition": {"op": "and", "inner": []},
               "samplingValue": {"type": "sampleRate", "value": 0.5}})
    }

    #[test]
    fn errors_name_the_path_and_rule() {
        let config = json!({"version": 2, "rules": [rule(1, "trace"), {
            "id": 7, "type": "trace", "condition": {"op": "and", "inner": []},
            "samplingValue": {"type": "bogus", "value": 1.0}}]});
        let err = SamplingConfig::parse(&config).unwrap_err();
        assert_eq!(err.path, "rules[1].samplingValue.type");
        assert_eq!(err.rule_id, Some(7));
    }

    #[test]
    fn legacy_rules_are_appended_for_version_one() {
        let config = json!({"rules": [rule(1, "trace")], "rulesV2": [rule(2, "trace")]});
        let parsed = SamplingConfig::parse(&config).unwrap();
        assert_eq!(parsed.version, 2);
        assert_eq!(parsed.rules.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn malformed_legacy_rules_reject_any_version() {
        let config = json!({"version": 2, "rules": [], "rulesV2": [{"id": 1}]});
        assert!(SamplingConfig::parse(&config).is_err());
    }

    #[test]
    fn unknown_rule_types_and_versions_are_unsupported() {
        assert!(SamplingConfig::parse(&json!({"version": 2, "rules": [rule(1, "future")]})).unwrap().is_unsupported());
        assert!(SamplingConfig::parse(&json!({"version": 3, "rules": []})).unwrap().is_unsupported());
        assert!(!SamplingConfig::parse(&json!({"version": 2, "rules": [rule(1, "trace")]})).unwrap().is_unsupported());
    }

    #[test]
    fn ids_must_fit_u32() {
        let mut r = rule(1, "trace");
        r["id"] = json!(1u64 << 33);
        let err = SamplingRule::parse(&r).unwrap_err();
        assert_eq!(err.path, "id");
    }

    #[test]
    fn linear_decay_interpolates_on_whole_seconds() {
        let r = SamplingRule::parse(&json!({"id": 1, "type": "trace", "condition": {"op": "and", "inner": []},
            "samplingValue": {"type": "sampleRate", "value": 0.5},
            "timeRange": {"start": "2022-10-21T18:50:25Z", "end": "2022-10-21T19:50:25Z"},
            "decayingFn": {"type": "linear", "decayedValue": 0.2}}))
        .unwrap();
        let now = DateTime::parse_from_rfc3339("2022-10-21T19:20:25.9Z").unwrap().with_timezone(&Utc);
        let v = r.value_at(now).unwrap().value();
        assert!((v - 0.35).abs() < 1e-12);
    }
}
