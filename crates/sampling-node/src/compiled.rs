//! Compiled sampling configs for the convenient API: compiled once into a handle (a native object
//! the JavaScript side holds, freed with it), then evaluated many times with the DSC and the event as bytes or text,
//! and the outcome written as numbers into arrays the caller owns.

use std::cell::RefCell;

use chrono::{DateTime, TimeZone, Utc};
use napi::bindgen_prelude::{Either, Float64ArraySlice, Uint32ArraySlice};
use napi::{Error, Result, Status};
use napi_derive::napi;
use sampling_core::api::{self, ItemOutcome, ItemRequest};
use sampling_core::config::{ParseOptions, SamplingConfig};
use sampling_core::decision::{ItemType, Scratch};
use sampling_core::dsc::DscError;
use sampling_core::CompiledConfig;

/// A sampling config compiled once, owned by the JavaScript object that holds it (only
/// `compileSamplingConfig` makes one).
#[napi]
pub struct CompiledConfigHandle {
    config: CompiledConfig,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Error::new(Status::GenericFailure, "internal error in the sampling engine")))
}

/// Compiles a sampling config (JSON text). Returns the compiled config, or the JSON error
/// `{path, ruleId, message}` when the config is rejected. `reservoir` accepts historical
/// reservoir rules.
#[napi]
pub fn compile_sampling_config(json: String, reservoir: bool) -> Result<Either<CompiledConfigHandle, String>> {
    guarded(|| {
        Ok(match SamplingConfig::parse_str_with(&json, ParseOptions { reservoir }) {
            Ok(config) => Either::A(CompiledConfigHandle { config: CompiledConfig::new(config) }),
            Err(e) => Either::B(api::config_error_json(&e).to_string()),
        })
    })
}

/// Whether the compiled config uses something this engine does not know (it then samples as absent).
#[napi]
pub fn compiled_config_unsupported(config: &CompiledConfigHandle) -> bool {
    config.config.is_unsupported()
}

/// The ids of the config's rules, in evaluation order.
#[napi]
pub fn compiled_config_rule_ids(config: &CompiledConfigHandle) -> Vec<u32> {
    config.config.rules().iter().map(|r| r.id).collect()
}

/// Slots of the numbers `evaluateCompiled` writes (the TypeScript side reads them by these names).
#[napi]
pub const EVALUATION_SLOTS: u32 = 6;
/// Decision code: 0 keep, 1 drop, 2 no match (with the trace-fully-sampled operation: 0 no tag, 1 false, 2 true).
#[napi]
pub const EVALUATION_SLOT_CODE: u32 = 0;
/// The applied sample rate (NaN: none).
#[napi]
pub const EVALUATION_SLOT_SAMPLE_RATE: u32 = 1;
/// The random value compared with the rate (NaN: none).
#[napi]
pub const EVALUATION_SLOT_RANDOM_VALUE: u32 = 2;
/// The stage whose rule terminated: 0 transaction, 1 project, 2 trace (NaN: none).
#[napi]
pub const EVALUATION_SLOT_STAGE: u32 = 3;
/// How many rules matched (more than the ids array holds: call again with a longer one).
#[napi]
pub const EVALUATION_SLOT_MATCHED_COUNT: u32 = 4;
/// 1 when the DSC could not be read and was ignored (`lastIgnoredDscReason()` says why).
#[napi]
pub const EVALUATION_SLOT_DSC_IGNORED: u32 = 5;

/// Bits of `evaluateCompiled`'s `flags`: the item type in the low two bits (0: a transaction),
/// span v2 containers here.
#[napi]
pub const EVALUATE_ITEM_SPAN: u32 = 1;
/// The item type of legacy `span` and `otel_span` items.
#[napi]
pub const EVALUATE_ITEM_LEGACY_SPAN: u32 = 2;
/// The DSC's project is unknown or of another organisation.
#[napi]
pub const EVALUATE_ROOT_UNKNOWN: u32 = 4;
/// Answer "is this trace fully sampled?" (error tagging) instead of deciding.
#[napi]
pub const EVALUATE_TRACE_FULLY_SAMPLED: u32 = 8;

thread_local! {
    // Reused between calls so that steady-state evaluation does not allocate in the engine.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
    static LAST_DSC_ERROR: RefCell<Option<DscError>> = const { RefCell::new(None) };
}

fn bytes_of<'a>(value: &'a Option<Either<&'a [u8], String>>) -> Option<&'a [u8]> {
    value.as_ref().map(|v| match v {
        Either::A(bytes) => *bytes,
        Either::B(text) => text.as_bytes(),
    })
}

fn time_of(now: Option<Either<f64, String>>) -> Result<DateTime<Utc>> {
    match now {
        None => Ok(Utc::now()),
        Some(Either::A(ms)) => {
            Utc.timestamp_millis_opt(ms as i64).single().ok_or_else(|| invalid("now: not a valid epoch milliseconds value"))
        }
        Some(Either::B(text)) => api::parse_now(Some(&serde_json::Value::String(text))).map_err(|e| invalid(e.to_string())),
    }
}

/// Evaluates one item against compiled configs (absent: null). `dsc` and `event` are JSON (bytes
/// or text); `now` is epoch milliseconds or RFC 3339 text (absent: the system clock); `flags`
/// combine `EVALUATE_*`. Writes `EVALUATION_SLOTS` numbers into `out` and the matched rule ids
/// into `ids`; returns the code slot. An event that is not a JSON object throws, naming `event`.
#[napi]
#[allow(clippy::too_many_arguments)]
pub fn evaluate_compiled(
    config: Option<&CompiledConfigHandle>,
    root_config: Option<&CompiledConfigHandle>,
    dsc: Option<Either<&[u8], String>>,
    event: Option<Either<&[u8], String>>,
    now: Option<Either<f64, String>>,
    flags: u32,
    envelope_event_id: Option<String>,
    mut out: Float64ArraySlice,
    mut ids: Uint32ArraySlice,
) -> Result<u32> {
    // Safety: the call is synchronous on the JavaScript thread, which cannot touch the arrays meanwhile.
    let (out, ids) = unsafe { (out.as_mut(), ids.as_mut()) };
    if out.len() < EVALUATION_SLOTS as usize {
        return Err(invalid("the output array is too short"));
    }
    let envelope_event_id = match envelope_event_id {
        None => None,
        Some(text) => {
            Some(sampling_core::value::parse_uuid(&text).ok_or_else(|| invalid(format!("envelopeEventId: `{text}` is not a UUID")))?)
        }
    };
    let item = match flags & 3 {
        0 => ItemType::Transaction,
        EVALUATE_ITEM_SPAN => ItemType::Span,
        EVALUATE_ITEM_LEGACY_SPAN => ItemType::LegacySpan,
        _ => return Err(invalid("flags: unknown item type")),
    };
    let request = ItemRequest {
        item,
        config: config.map(|c| &c.config),
        root_config: root_config.map(|c| &c.config),
        root_known: flags & EVALUATE_ROOT_UNKNOWN == 0,
        dsc: bytes_of(&dsc),
        event: bytes_of(&event),
        envelope_event_id,
        now: time_of(now)?,
        reservoir: None,
    };
    guarded(|| {
        SCRATCH.with(|scratch| {
            let scratch = &mut scratch.borrow_mut();
            out[..EVALUATION_SLOTS as usize].fill(f64::NAN);
            let dsc_error = if flags & EVALUATE_TRACE_FULLY_SAMPLED != 0 {
                scratch.matched_ids.clear();
                let (answer, dsc_error) = api::item_trace_fully_sampled(&request, scratch);
                out[EVALUATION_SLOT_CODE as usize] = match answer {
                    None => 0.0,
                    Some(false) => 1.0,
                    Some(true) => 2.0,
                };
                dsc_error
            } else {
                let ItemOutcome { outcome, dsc_error } =
                    api::evaluate_item(&request, scratch, false).map_err(|e| invalid(e.to_string()))?;
                out[EVALUATION_SLOT_CODE as usize] = f64::from(outcome.decision as u8);
                out[EVALUATION_SLOT_SAMPLE_RATE as usize] = outcome.sample_rate.unwrap_or(f64::NAN);
                out[EVALUATION_SLOT_RANDOM_VALUE as usize] = outcome.random_value.unwrap_or(f64::NAN);
                out[EVALUATION_SLOT_STAGE as usize] = outcome.stage.map_or(f64::NAN, |s| f64::from(s as u8));
                dsc_error
            };
            let matched = &scratch.matched_ids;
            let n = matched.len().min(ids.len());
            ids[..n].copy_from_slice(&matched[..n]);
            out[EVALUATION_SLOT_MATCHED_COUNT as usize] = matched.len() as f64;
            out[EVALUATION_SLOT_DSC_IGNORED as usize] = f64::from(u8::from(dsc_error.is_some()));
            LAST_DSC_ERROR.with(|last| *last.borrow_mut() = dsc_error);
            Ok(out[EVALUATION_SLOT_CODE as usize] as u32)
        })
    })
}

/// Why the last `evaluateCompiled` on this thread ignored its DSC (null when it did not).
#[napi]
pub fn last_ignored_dsc_reason() -> Option<String> {
    LAST_DSC_ERROR.with(|last| last.borrow().as_ref().map(ToString::to_string))
}

/// `evaluateJson` with compiled configs (absent: null): for explanations and reservoir counters,
/// off the hot path. The request's `config`/`rootConfig` are ignored.
#[napi]
pub fn evaluate_compiled_json(
    config: Option<&CompiledConfigHandle>,
    root_config: Option<&CompiledConfigHandle>,
    request: String,
) -> Result<String> {
    guarded(|| {
        let request: serde_json::Value =
            serde_json::from_str(&request).map_err(|e| invalid(format!("the request is not valid JSON: {e}")))?;
        api::evaluate_request_compiled(&request, config.map(|c| &c.config), root_config.map(|c| &c.config), Vec::new())
            .map(|v| v.to_string())
            .map_err(|e| invalid(e.to_string()))
    })
}

/// The stages and rule ids an item goes through with compiled configs (absent: null), as JSON;
/// `flags` as for `evaluateCompiled` (the item type).
#[napi]
pub fn evaluation_order_compiled(
    config: Option<&CompiledConfigHandle>,
    root_config: Option<&CompiledConfigHandle>,
    flags: u32,
) -> Result<String> {
    let item = match flags & 3 {
        0 => ItemType::Transaction,
        EVALUATE_ITEM_SPAN => ItemType::Span,
        EVALUATE_ITEM_LEGACY_SPAN => ItemType::LegacySpan,
        _ => return Err(invalid("flags: unknown item type")),
    };
    guarded(|| Ok(api::order_json(config.map(|c| &c.config), root_config.map(|c| &c.config), item).to_string()))
}
