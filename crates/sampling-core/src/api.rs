//! JSON-in, JSON-out entry points for everything off the hot path: evaluate one item from plain
//! inputs, match one condition, parse and report a config, show the evaluation order.

use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, TimeZone, Utc};
use rustc_hash::FxHashMap;
use serde_json::{json, Map, Value};

use crate::compiled::CompiledConfig;
use crate::condition::Condition;
use crate::config::{ConfigError, ParseOptions, SamplingRule};
use crate::decision::{decide, evaluation_order, is_trace_fully_sampled, DecisionInput, ItemType, RootConfig, Scratch};
use crate::dsc::Dsc;
use crate::event::EventView;
use crate::instance::Instance;
use crate::reservoir::ReservoirCounters;
use crate::value::Getter;

/// A request that cannot be answered, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RequestError {}

fn request_error(field: &str, message: impl Into<String>) -> RequestError {
    RequestError { field: field.into(), message: message.into() }
}

pub fn config_error_json(e: &ConfigError) -> Value {
    json!({"path": e.path, "ruleId": e.rule_id, "message": e.message})
}

/// Reads `now` as an RFC 3339 string or epoch milliseconds; absent means the system clock.
pub fn parse_now(value: Option<&Value>) -> Result<DateTime<Utc>, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(Utc::now()),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| request_error("now", format!("not an RFC 3339 timestamp: {e}"))),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms as i64).single())
            .ok_or_else(|| request_error("now", "not a valid epoch milliseconds value")),
        Some(_) => Err(request_error("now", "expected an RFC 3339 string or epoch milliseconds")),
    }
}

/// A config from a request: absent, rejected (with its error) or compiled.
enum RequestConfig {
    Absent,
    Rejected(ConfigError),
    Compiled(Arc<CompiledConfig>),
}

/// Compiled configs by JSON text and whether reservoir rules were accepted.
type CompiledCache = Mutex<FxHashMap<(String, bool), Arc<CompiledConfig>>>;

/// Recently compiled request configs by their JSON text: callers of the convenient API tend to
/// evaluate many items against the same few configs, and compiling costs far more than looking up.
fn compiled_for(text: &str, value: Option<&Value>, options: ParseOptions) -> Result<Arc<CompiledConfig>, ConfigError> {
    static CACHE: OnceLock<CompiledCache> = OnceLock::new();
    const CAPACITY: usize = 64;
    let cache = CACHE.get_or_init(Default::default);
    let key = (text.to_owned(), options.reservoir);
    if let Some(found) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(found.clone());
    }
    let config = match value {
        Some(v) => crate::config::SamplingConfig::parse_with(v, options)?,
        None => crate::config::SamplingConfig::parse_str_with(text, options)?,
    };
    let compiled = Arc::new(CompiledConfig::new(config));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    cache.insert(key, compiled.clone());
    Ok(compiled)
}

impl RequestConfig {
    fn read(value: Option<&Value>, options: ParseOptions) -> Self {
        match value {
            None | Some(Value::Null) => RequestConfig::Absent,
            Some(v) => match compiled_for(&v.to_string(), Some(v), options) {
                Ok(c) => RequestConfig::Compiled(c),
                Err(e) => RequestConfig::Rejected(e),
            },
        }
    }

    fn read_text(text: &str, options: ParseOptions) -> Self {
        if text.trim() == "null" {
            return RequestConfig::Absent;
        }
        match compiled_for(text, None, options) {
            Ok(c) => RequestConfig::Compiled(c),
            Err(e) => RequestConfig::Rejected(e),
        }
    }

    fn compiled(&self) -> Option<&CompiledConfig> {
        match self {
            RequestConfig::Compiled(c) => Some(c),
            _ => None,
        }
    }

    fn note(&self, name: &str, notes: &mut Vec<Value>) {
        match self {
            RequestConfig::Rejected(e) => notes.push(json!({"config": name, "rejected": config_error_json(e)})),
            RequestConfig::Compiled(c) if c.is_unsupported() => notes.push(json!({"config": name, "unsupported": true})),
            _ => {}
        }
    }
}

/// Request options: read from `options` when present there, else from the top level.
struct Options<'a> {
    top: &'a Map<String, Value>,
    nested: Option<&'a Map<String, Value>>,
}

impl<'a> Options<'a> {
    fn new(top: &'a Map<String, Value>) -> Self {
        Options { top, nested: top.get("options").and_then(Value::as_object) }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.nested.and_then(|n| n.get(key)).or_else(|| self.top.get(key))
    }
}

fn item_type(options: &Options<'_>) -> Result<ItemType, RequestError> {
    match options.get("itemType") {
        None | Some(Value::Null) => Ok(ItemType::Transaction),
        Some(Value::String(s)) if s == "transaction" => Ok(ItemType::Transaction),
        Some(Value::String(s)) if s == "span" => Ok(ItemType::Span),
        Some(Value::String(s)) if s == "legacySpan" => Ok(ItemType::LegacySpan),
        Some(other) => Err(request_error("itemType", format!("expected \"transaction\", \"span\" or \"legacySpan\", got {other}"))),
    }
}

/// The `reservoir` option: accept historical reservoir rules (off by default, as current Relay).
fn parse_options(options: &Options<'_>) -> Result<ParseOptions, RequestError> {
    match options.get("reservoir") {
        None | Some(Value::Null) => Ok(ParseOptions::RELAY),
        Some(Value::Bool(b)) => Ok(ParseOptions { reservoir: *b }),
        Some(other) => Err(request_error("reservoir", format!("expected a boolean, got {other}"))),
    }
}

/// One item to evaluate against configs compiled beforehand, with the DSC and the event as
/// JSON bytes: what both the JSON route and the binding's compiled-config route evaluate.
pub struct ItemRequest<'a> {
    pub item: ItemType,
    /// The own project's config (`None`: absent or rejected, which decide alike).
    pub config: Option<&'a CompiledConfig>,
    pub root_config: Option<&'a CompiledConfig>,
    /// False when the DSC's project is unknown or belongs to another organisation.
    pub root_known: bool,
    pub dsc: Option<&'a [u8]>,
    pub event: Option<&'a [u8]>,
    /// The envelope header's `event_id`, which seeds the transaction stage before the event's own.
    pub envelope_event_id: Option<u128>,
    pub now: DateTime<Utc>,
    pub reservoir: Option<&'a dyn crate::reservoir::Reservoir>,
}

/// The outcome of an `ItemRequest`, and why its DSC was ignored when it was.
pub struct ItemOutcome {
    pub outcome: crate::decision::Outcome,
    pub dsc_error: Option<crate::dsc::DscError>,
}

fn parse_item_dsc(bytes: Option<&[u8]>) -> (Option<Dsc<'_>>, Option<crate::dsc::DscError>) {
    match bytes.map(Dsc::parse) {
        None => (None, None),
        Some(Ok(d)) => (Some(d), None),
        Some(Err(e)) => (None, Some(e)),
    }
}

/// Decides one item; the matched rule ids (and the explanation, with `explain`) are in `scratch`.
/// An event that is not a JSON object is an error naming `event`; a DSC that cannot be read is
/// ignored and reported.
pub fn evaluate_item(request: &ItemRequest<'_>, scratch: &mut Scratch, explain: bool) -> Result<ItemOutcome, RequestError> {
    let (dsc, dsc_error) = parse_item_dsc(request.dsc);
    let event = match request.event {
        None => None,
        Some(bytes) => Some(EventView::parse(bytes).map_err(|e| request_error("event", e.to_string()))?),
    };
    let input = DecisionInput {
        item: request.item,
        own_config: request.config,
        own_key: dsc.as_ref().map_or(0, |d| d.public_key),
        root_known: request.root_known,
        root_config: request.root_config,
        dsc: dsc.as_ref(),
        event: event.as_ref(),
        // As in an envelope: the header's id, else the payload's (with neither, the stage does
        // not run: Relay's decision function skips it for an event without an id).
        event_id: event.as_ref().and_then(|e| request.envelope_event_id.or_else(|| e.event_id())),
        now: request.now,
        reservoir: request.reservoir,
    };
    Ok(ItemOutcome { outcome: decide(&input, scratch, explain), dsc_error })
}

/// Whether an error's trace was kept (`None`: no tag), and why the DSC was ignored when it was.
pub fn item_trace_fully_sampled(request: &ItemRequest<'_>, scratch: &mut Scratch) -> (Option<bool>, Option<crate::dsc::DscError>) {
    let (dsc, dsc_error) = parse_item_dsc(request.dsc);
    let root = match (request.root_known, request.root_config) {
        (false, _) => RootConfig::Unknown,
        // A rejected root config answers as an absent one: no tag.
        (true, None) => RootConfig::Absent,
        (true, Some(c)) => RootConfig::Present(c),
    };
    let answer = dsc.as_ref().and_then(|d| is_trace_fully_sampled(root, d, request.now, scratch));
    (answer, dsc_error)
}

/// Evaluates one item. The request holds `config`, `rootConfig`, `dsc`, `event`, `now`, and
/// optionally `itemType`, `rootProjectKnown`, `operation`, `reservoirCounters`, `explain`
/// (top level, or inside `options`).
pub fn evaluate_request(request: &Value) -> Result<Value, RequestError> {
    evaluate_request_with(request, None, None)
}

/// `evaluate_request` with the configs given as JSON text (`config`/`rootConfig` of the
/// request are then ignored): compiled configs are cached by their text, so a caller that
/// evaluates many items against the same configs skips both parsing and compiling them.
pub fn evaluate_request_with(request: &Value, config_text: Option<&str>, root_config_text: Option<&str>) -> Result<Value, RequestError> {
    let Value::Object(req) = request else { return Err(request_error("", "the request must be an object")) };
    let parse = parse_options(&Options::new(req))?;
    let own = match config_text {
        Some(text) => RequestConfig::read_text(text, parse),
        None => RequestConfig::read(req.get("config"), parse),
    };
    let root = match root_config_text {
        Some(text) => RequestConfig::read_text(text, parse),
        None => RequestConfig::read(req.get("rootConfig"), parse),
    };
    let mut notes = Vec::new();
    own.note("config", &mut notes);
    root.note("rootConfig", &mut notes);
    evaluate_request_compiled(request, own.compiled(), root.compiled(), notes)
}

/// `evaluate_request` with configs compiled beforehand (`config`/`rootConfig` of the request are
/// ignored); `notes` holds what the caller noticed about them.
pub fn evaluate_request_compiled(
    request: &Value,
    own: Option<&CompiledConfig>,
    root: Option<&CompiledConfig>,
    mut notes: Vec<Value>,
) -> Result<Value, RequestError> {
    let Value::Object(req) = request else { return Err(request_error("", "the request must be an object")) };
    let options = Options::new(req);
    let now = parse_now(req.get("now"))?;
    let item = item_type(&options)?;
    let root_known = options.get("rootProjectKnown").and_then(Value::as_bool).unwrap_or(true);
    let explain = options.get("explain").and_then(Value::as_bool).unwrap_or(false);
    let parse = parse_options(&options)?;
    let envelope_event_id = match options.get("envelopeEventId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(crate::value::parse_uuid(s).ok_or_else(|| request_error("envelopeEventId", format!("`{s}` is not a UUID")))?)
        }
        Some(other) => return Err(request_error("envelopeEventId", format!("expected a UUID string, got {other}"))),
    };
    let text_of = |key: &str| match req.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.to_string()),
    };
    let (dsc_text, event_text) = (text_of("dsc"), text_of("event"));
    let counters = match options.get("reservoirCounters") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => {
            Some(ReservoirCounters::from_counts(map.iter().filter_map(|(k, v)| Some((k.parse::<u32>().ok()?, v.as_i64()?)))))
        }
        Some(_) => return Err(request_error("reservoirCounters", "expected an object of rule id → count")),
    };
    let request = ItemRequest {
        item,
        config: own,
        root_config: root,
        root_known,
        dsc: dsc_text.as_deref().map(str::as_bytes),
        event: event_text.as_deref().map(str::as_bytes),
        envelope_event_id,
        now,
        reservoir: if parse.reservoir { counters.as_ref().map(|c| c as &dyn crate::reservoir::Reservoir) } else { None },
    };
    let mut scratch = Scratch::new();
    let dsc_note = |notes: &mut Vec<Value>, e: Option<crate::dsc::DscError>| {
        if let Some(e) = e {
            notes.push(json!({"dsc": "ignored", "reason": e.to_string()}));
        }
    };

    if options.get("operation").and_then(Value::as_str) == Some("isTraceFullySampled") {
        let (answer, dsc_error) = item_trace_fully_sampled(&request, &mut scratch);
        dsc_note(&mut notes, dsc_error);
        return Ok(json!({"traceFullySampled": answer, "notes": notes}));
    }

    let ItemOutcome { outcome, dsc_error } = evaluate_item(&request, &mut scratch, explain)?;
    dsc_note(&mut notes, dsc_error);
    let mut result = json!({
        "decision": outcome.decision.as_str(),
        "sampleRate": outcome.sample_rate,
        "matchedRuleIds": scratch.matched_ids,
        "randomValue": outcome.random_value,
        "stage": outcome.stage.map(|s| s.as_str()),
        "notes": notes,
    });
    if explain {
        result["explain"] = scratch
            .explain
            .iter()
            .map(|s| {
                json!({"stage": s.stage.as_str(), "ruleId": s.rule_id, "type": s.value.kind(),
                       "value": s.value.value(), "factor": s.factor, "applied": s.applied})
            })
            .collect();
        result["evaluationOrder"] = order_json(own, root, item);
    }
    if let Some(c) = counters {
        result["reservoirCounters"] = c.snapshot().into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    }
    Ok(result)
}

pub fn order_json(own: Option<&CompiledConfig>, root: Option<&CompiledConfig>, item: ItemType) -> Value {
    evaluation_order(own, root, item).into_iter().map(|(stage, ids)| json!({"stage": stage.as_str(), "ids": ids})).collect()
}

/// The stages and rule ids an item of `itemType` goes through with these configs.
pub fn evaluation_order_request(request: &Value) -> Result<Value, RequestError> {
    let Value::Object(req) = request else { return Err(request_error("", "the request must be an object")) };
    let options = Options::new(req);
    let item = item_type(&options)?;
    let parse = parse_options(&options)?;
    let own = RequestConfig::read(req.get("config"), parse);
    let root = RequestConfig::read(req.get("rootConfig"), parse);
    Ok(order_json(own.compiled(), root.compiled(), item))
}

/// What a condition is matched against.
pub enum Target {
    Event,
    Dsc,
    Instance,
}

/// Matches one condition against an event, a DSC or a flat typed instance.
pub fn match_condition(condition: &Value, target: Target, value: &Value) -> Result<bool, RequestError> {
    let condition = Condition::parse(condition).map_err(|e| request_error(&format!("condition{}", e.path), e.message))?;
    let text = value.to_string();
    let getter_result = |g: &dyn Getter| condition.matches(g);
    Ok(match target {
        Target::Event => getter_result(&EventView::parse(text.as_bytes()).map_err(|e| request_error("event", e.to_string()))?),
        Target::Dsc => match Dsc::parse(text.as_bytes()) {
            Ok(dsc) => getter_result(&dsc),
            Err(e) => return Err(request_error("dsc", e.to_string())),
        },
        Target::Instance => getter_result(&Instance::from_json(value).map_err(|e| request_error("instance", e))?),
    })
}

fn rule_json(rule: &SamplingRule) -> Value {
    let mut v = rule.to_json();
    v["ruleType"] = json!(rule.rule_type.as_str());
    v
}

fn time_json(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
}

fn decaying_fn_json(f: crate::config::DecayingFn) -> Value {
    match f {
        crate::config::DecayingFn::Constant => json!({"type": "constant"}),
        crate::config::DecayingFn::Linear { decayed_value } => json!({"type": "linear", "decayedValue": decayed_value}),
    }
}

/// One rule as the engine holds it after normalisation.
fn rule_report(rule: &SamplingRule) -> Value {
    let unsupported = if rule.rule_type == crate::config::RuleType::Unsupported {
        Some("ruleType")
    } else if rule.condition.is_unsupported() {
        Some("condition")
    } else {
        None
    };
    json!({
        "id": rule.id,
        "type": rule.rule_type.as_str(),
        "condition": serde_json::from_str::<Value>(&rule.condition_json).unwrap_or(Value::Null),
        "samplingValue": rule.value.to_json(),
        "timeRange": {"start": time_json(rule.time_range.start), "end": time_json(rule.time_range.end)},
        "decayingFn": decaying_fn_json(rule.decaying_fn),
        "unsupported": unsupported.is_some(),
        "unsupportedReason": unsupported,
        "typeUnsupported": rule.rule_type == crate::config::RuleType::Unsupported,
        "conditionUnsupported": rule.condition.is_unsupported(),
    })
}

/// A parsed config, in full: what the engine will evaluate.
fn config_report(c: &crate::config::SamplingConfig) -> Value {
    json!({
        "accepted": true,
        "unsupported": c.is_unsupported(),
        "unsupportedVersion": c.version > crate::config::SUPPORTED_VERSION,
        "declaredVersion": c.declared_version,
        "normalizedVersion": c.version,
        "ruleIds": c.rules.iter().map(|r| r.id).collect::<Vec<_>>(),
        "unsupportedRuleIds": c.rules.iter().filter(|r| r.is_unsupported()).map(|r| r.id).collect::<Vec<_>>(),
        "legacyRules": {"count": c.legacy_rules, "appended": c.legacy_appended},
        "rules": c.rules.iter().map(rule_report).collect::<Vec<_>>(),
        "serialized": c.to_json(),
    })
}

/// Parses a config, rule, condition or DSC and reports the outcome:
/// `{accepted, unsupported?, error?, ...details}`.
pub fn parse_request(target: &str, input: &Value) -> Result<Value, RequestError> {
    parse_request_with(target, input, ParseOptions::RELAY)
}

/// `parse_request` with the engine's parse options (reservoir rules).
pub fn parse_request_with(target: &str, input: &Value, options: ParseOptions) -> Result<Value, RequestError> {
    Ok(match target {
        "samplingConfig" => match crate::config::SamplingConfig::parse_with(input, options) {
            Ok(c) => config_report(&c),
            Err(e) => json!({"accepted": false, "error": config_error_json(&e)}),
        },
        "samplingRule" => match SamplingRule::parse_with(input, options) {
            Ok(r) => {
                let mut out = rule_report(&r);
                out["accepted"] = json!(true);
                out["rule"] = rule_json(&r);
                out["ruleType"] = json!(r.rule_type.as_str());
                out
            }
            Err(e) => json!({"accepted": false, "error": config_error_json(&e)}),
        },
        "ruleCondition" => match Condition::parse(input) {
            Ok(c) => json!({
                "accepted": true,
                "unsupported": c.is_unsupported(),
                "cidrNormalized": c.networks().iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
            Err(e) => json!({"accepted": false, "error": {"path": e.path, "message": e.message}}),
        },
        "dsc" => {
            let text = input.to_string();
            match Dsc::parse(text.as_bytes()) {
                Ok(d) => json!({
                    "accepted": true,
                    "trace_id": format!("{:032x}", d.trace_id),
                    "public_key": format!("{:032x}", d.public_key),
                    "release": d.release, "environment": d.environment, "transaction": d.transaction,
                    "sample_rate": d.sample_rate, "sampled": d.sampled,
                    "user_id": d.user_id, "user_segment": d.user_segment,
                    "replay_id": d.replay_id.map(|b| format!("{:032x}", u128::from_be_bytes(b))),
                }),
                Err(e) => json!({"accepted": false, "error": {"path": e.field, "message": e.reason}}),
            }
        }
        "projectConfig" => {
            let config = input.get("config");
            let (key, sampling) = match config.and_then(|c| c.get("sampling")) {
                Some(s) => ("sampling", Some(s)),
                None => ("dynamicSampling", config.and_then(|c| c.get("dynamicSampling"))),
            };
            match sampling {
                None | Some(Value::Null) => {
                    json!({"accepted": true, "projectAccepted": true, "unsupported": false, "sampling": null, "ruleIds": []})
                }
                Some(s) => {
                    let mut out = parse_request_with("samplingConfig", s, options)?;
                    // A rejected sampling config leaves the rest of the project config intact.
                    out["projectAccepted"] = json!(true);
                    out["samplingKey"] = json!(key);
                    out
                }
            }
        }
        other => return Err(request_error("target", format!("unknown parse target `{other}`"))),
    })
}
