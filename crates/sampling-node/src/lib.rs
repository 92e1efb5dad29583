//! Node.js binding for `sampling-core`: conversions and error mapping only. Per-event calls take
//! bytes and typed arrays and return numbers; everything else crosses as JSON strings.

use std::panic::{catch_unwind, AssertUnwindSafe};

mod compiled;

use chrono::{TimeZone, Utc};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use napi::bindgen_prelude::{Float64Array, Float64ArraySlice, Uint32Array, Uint32ArraySlice};
use napi::{Error, Result, Status};
use napi_derive::napi;
use sampling_core::api;
use sampling_core::decision::Scratch;
use sampling_core::config::ParseOptions;
use sampling_core::store::{parse_key, EnvelopeDecision, Store};
use serde_json::Value;

/// Numbers written per envelope into the output array (see `OUT_*` in the TypeScript layer).
pub const STRIDE: usize = 16;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

fn parse_json(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| invalid(format!("{what} is not valid JSON: {e}")))
}

/// Runs `f`, turning a panic into a JavaScript error instead of aborting the process.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(Error::new(Status::GenericFailure, "internal error in the sampling engine")))
}

fn write_decision(out: &mut [f64], d: &EnvelopeDecision, matched: usize) {
    out[0] = f64::from(d.outcome.decision as u8);
    out[1] = d.outcome.sample_rate.unwrap_or(f64::NAN);
    out[2] = d.outcome.random_value.unwrap_or(f64::NAN);
    out[3] = f64::from(d.kind as u8);
    out[4] = f64::from(d.keep_reason as u8);
    out[5] = match d.trace_fully_sampled {
        None => 0.0,
        Some(false) => 1.0,
        Some(true) => 2.0,
    };
    out[6] = matched as f64;
    out[7] = f64::from(d.span_count);
    out[8] = f64::from(u8::from(d.invalid_dsc));
    // The unknown root key as four 32-bit words (NaN when there is none).
    for (i, slot) in out[9..13].iter_mut().enumerate() {
        *slot = d.unknown_root_key.map_or(f64::NAN, |k| f64::from((k >> (96 - 32 * i)) as u32));
    }
    // The spans' own decision when the envelope also holds a transaction (NaN otherwise).
    out[13] = d.span_outcome.map_or(f64::NAN, |o| f64::from(o.decision as u8));
    out[14] = d.span_outcome.and_then(|o| o.sample_rate).unwrap_or(f64::NAN);
    out[15] = f64::from(d.span_rejection as u8);
}

/// Matched rule ids the single-envelope result holds.
pub const RESULT_IDS: usize = 64;

/// Result memory owned by the engine and shared with JavaScript as typed arrays, so a decision
/// is written in place instead of passing arrays on every call.
struct ResultMemory {
    out: *mut f64,
    ids: *mut u32,
}

// Safety: only ever touched from the JavaScript thread that owns the engine and its views.
unsafe impl Send for ResultMemory {}
unsafe impl Sync for ResultMemory {}

impl ResultMemory {
    fn new() -> Self {
        let out = Box::into_raw(vec![f64::NAN; STRIDE].into_boxed_slice()) as *mut f64;
        let ids = Box::into_raw(vec![0u32; RESULT_IDS].into_boxed_slice()) as *mut u32;
        ResultMemory { out, ids }
    }

    /// Safety: the JavaScript thread is blocked in the current call, so nothing reads meanwhile.
    unsafe fn slices(&self) -> (&mut [f64], &mut [u32]) {
        unsafe { (std::slice::from_raw_parts_mut(self.out, STRIDE), std::slice::from_raw_parts_mut(self.ids, RESULT_IDS)) }
    }
}

impl Drop for ResultMemory {
    fn drop(&mut self) {
        // Safety: allocated in `new` as boxed slices of exactly these lengths.
        unsafe {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.out, STRIDE)));
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ids, RESULT_IDS)));
        }
    }
}

/// One engine's state, kept in a per-thread registry so the hot path can be a plain function:
/// a napi-rs class method costs about ten times a function call to enter.
struct EngineState {
    store: Store,
    scratch: Scratch,
    /// Project keys by handle: a number crosses the boundary far cheaper than a string.
    keys: Vec<u128>,
    handles: HashMap<u128, u32>,
    /// Freed when the engine and every view of it are gone.
    result: Arc<ResultMemory>,
}

thread_local! {
    // Each JavaScript thread (main or worker) has its own engines.
    static ENGINES: RefCell<Vec<Option<EngineState>>> = const { RefCell::new(Vec::new()) };
}

/// Status codes of the fast path beyond the envelope error codes (1..=6).
const UNKNOWN_ENGINE: u32 = 100;
const UNKNOWN_HANDLE: u32 = 101;
const INTERNAL_ERROR: u32 = 102;

fn with_engine<T>(id: u32, f: impl FnOnce(&mut EngineState) -> Result<T>) -> Result<T> {
    ENGINES.with(|engines| {
        let mut engines = engines.borrow_mut();
        let state = engines.get_mut(id as usize).and_then(Option::as_mut).ok_or_else(|| invalid("the engine was released"))?;
        f(state)
    })
}

/// The native project store. Decisions go through `sampleEnvelope(engineId, ...)`.
#[napi]
pub struct BindingEngine {
    id: u32,
}

#[napi]
impl BindingEngine {
    /// `reservoir`: accept historical reservoir rules (off by default: such configs are rejected,
    /// as current Relay does).
    #[napi(constructor)]
    pub fn new(reservoir: Option<bool>) -> Self {
        let options = ParseOptions { reservoir: reservoir.unwrap_or(false) };
        let state = EngineState {
            store: Store::with_options(options),
            scratch: Scratch::new(),
            keys: Vec::new(),
            handles: HashMap::new(),
            result: Arc::new(ResultMemory::new()),
        };
        let id = ENGINES.with(|engines| {
            let mut engines = engines.borrow_mut();
            match engines.iter().position(Option::is_none) {
                Some(free) => {
                    engines[free] = Some(state);
                    free
                }
                None => {
                    engines.push(Some(state));
                    engines.len() - 1
                }
            }
        });
        BindingEngine { id: id as u32 }
    }

    /// The id the engine's fast-path functions take.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Installs or replaces a project's sampling config (JSON text, or null for none), with the
    /// project's transaction-name rules (`txNameRules`, a JSON array) when it has any.
    /// Returns null on success, or a JSON error `{path, ruleId, message}`; the previous config
    /// then stays in force.
    #[napi]
    pub fn put_project(
        &self,
        public_key: String,
        project_id: f64,
        organization_id: f64,
        sampling_json: Option<String>,
        tx_name_rules_json: Option<String>,
    ) -> Result<Option<String>> {
        let key = parse_key(&public_key).map_err(|e| invalid(e.to_string()))?;
        let id = |v: f64, what: &str| {
            (v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0)
                .then_some(v as u64)
                .ok_or_else(|| invalid(format!("{what} must be a non-negative integer")))
        };
        let (project_id, organization_id) = (id(project_id, "projectId")?, id(organization_id, "organizationId")?);
        with_engine(self.id, |state| {
            guarded(|| {
                let result = state.store.put_with_tx_name_rules(
                    key,
                    project_id,
                    organization_id,
                    sampling_json.as_deref(),
                    tx_name_rules_json.as_deref(),
                );
                Ok(result.err().map(|e| api::config_error_json(&e).to_string()))
            })
        })
    }

    #[napi]
    pub fn remove_project(&self, public_key: String) -> Result<bool> {
        let key = parse_key(&public_key).map_err(|e| invalid(e.to_string()))?;
        with_engine(self.id, |state| Ok(state.store.remove(key)))
    }

    #[napi]
    pub fn project_count(&self) -> Result<u32> {
        with_engine(self.id, |state| Ok(state.store.len() as u32))
    }

    /// Pins the engine's clock to epoch milliseconds; null returns to the system clock.
    #[napi]
    pub fn set_now(&self, epoch_ms: Option<f64>) -> Result<()> {
        let now = match epoch_ms {
            None => None,
            Some(ms) => Some(Utc.timestamp_millis_opt(ms as i64).single().ok_or_else(|| invalid("invalid time"))?),
        };
        with_engine(self.id, |state| {
            state.store.set_now(now);
            Ok(())
        })
    }

    /// A small number standing for a project key in `sampleEnvelope` (stable for the engine's life).
    #[napi]
    pub fn key_handle(&self, public_key: String) -> Result<u32> {
        let key = parse_key(&public_key).map_err(|e| invalid(e.to_string()))?;
        with_engine(self.id, |state| {
            if let Some(&handle) = state.handles.get(&key) {
                return Ok(handle);
            }
            let handle = u32::try_from(state.keys.len()).map_err(|_| invalid("too many project keys"))?;
            state.keys.push(key);
            state.handles.insert(key, handle);
            Ok(handle)
        })
    }

    /// The result of the last `sampleEnvelope` (`STRIDE` numbers), as a view of engine memory.
    #[napi]
    pub fn result_view(&self) -> Result<Float64Array> {
        with_engine(self.id, |state| {
            let keep = state.result.clone();
            let ptr = keep.out;
            // Safety: the memory lives as long as `keep`, which the view's finalizer drops.
            Ok(unsafe { Float64Array::with_external_data(ptr, STRIDE, move |_, _| drop(keep)) })
        })
    }

    /// The matched rule ids of the last `sampleEnvelope`, as a view of engine memory.
    #[napi]
    pub fn matched_ids_view(&self) -> Result<Uint32Array> {
        with_engine(self.id, |state| {
            let keep = state.result.clone();
            let ptr = keep.ids;
            // Safety: as for `result_view`.
            Ok(unsafe { Uint32Array::with_external_data(ptr, RESULT_IDS, move |_, _| drop(keep)) })
        })
    }
}

impl Drop for BindingEngine {
    fn drop(&mut self) {
        // Runs in the finalizer, on the engine's JavaScript thread.
        let _ = ENGINES.try_with(|engines| {
            if let Some(slot) = engines.borrow_mut().get_mut(self.id as usize) {
                *slot = None;
            }
        });
    }
}

impl Default for BindingEngine {
    fn default() -> Self {
        Self::new(None)
    }
}

/// Decides for one envelope sent to the project of `keyHandle`. Writes the decision into the
/// engine's result view and the matched rule ids into its ids view; returns 0, an envelope error
/// code (1-6) when the envelope cannot be read, or 100+ for a released engine or unknown handle.
#[napi]
pub fn sample_envelope(engine_id: u32, envelope: &[u8], key_handle: u32) -> u32 {
    ENGINES.with(|engines| {
        let mut engines = engines.borrow_mut();
        let Some(Some(state)) = engines.get_mut(engine_id as usize) else { return UNKNOWN_ENGINE };
        let Some(&key) = state.keys.get(key_handle as usize) else { return UNKNOWN_HANDLE };
        // Safety: see `ResultMemory::slices`.
        let (out, ids) = unsafe { state.result.slices() };
        let (store, scratch) = (&state.store, &mut state.scratch);
        let status = catch_unwind(AssertUnwindSafe(|| {
            let now = store.now();
            match store.sample_envelope(key, envelope, now, scratch) {
                Ok(d) => {
                    let matched = &scratch.matched_ids;
                    let n = matched.len().min(ids.len());
                    ids[..n].copy_from_slice(&matched[..n]);
                    write_decision(out, &d, matched.len());
                    0
                }
                Err(e) => e.code(),
            }
        }));
        status.unwrap_or(INTERNAL_ERROR)
    })
}

/// Decides for many envelopes in one call. `data` holds the envelopes back to back,
/// `offsets` their n+1 boundaries, `keys` the 16-byte public keys of their projects.
/// Per envelope, `out` receives `STRIDE` numbers (an envelope error code is written as
/// `-code` in the first slot) and `ids` the matched rule ids, `idsPerEnvelope` each.
#[napi]
pub fn sample_envelopes(
    engine_id: u32,
    data: &[u8],
    offsets: &[u32],
    keys: &[u8],
    mut out: Float64ArraySlice,
    mut ids: Uint32ArraySlice,
    ids_per_envelope: u32,
) -> Result<()> {
    // Safety: the call is synchronous on the JavaScript thread, which cannot touch the arrays meanwhile.
    let (out, ids) = unsafe { (out.as_mut(), ids.as_mut()) };
    with_engine(engine_id, |state| {
        guarded(|| {
            let n = offsets.len().saturating_sub(1);
            if keys.len() < n * 16 || out.len() < n * STRIDE || ids.len() < n * ids_per_envelope as usize {
                return Err(invalid("keys, out or ids are too short for the number of envelopes"));
            }
            let now = state.store.now();
            let per = ids_per_envelope as usize;
            for i in 0..n {
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                let bytes = data.get(start..end).ok_or_else(|| invalid(format!("offsets[{i}] out of range")))?;
                let key = u128::from_be_bytes(keys[i * 16..i * 16 + 16].try_into().expect("16 bytes"));
                let row = &mut out[i * STRIDE..(i + 1) * STRIDE];
                match state.store.sample_envelope(key, bytes, now, &mut state.scratch) {
                    Ok(d) => {
                        let matched = &state.scratch.matched_ids;
                        let k = matched.len().min(per);
                        ids[i * per..i * per + k].copy_from_slice(&matched[..k]);
                        write_decision(row, &d, matched.len());
                    }
                    Err(e) => {
                        row.fill(f64::NAN);
                        row[0] = -f64::from(e.code());
                    }
                }
            }
            Ok(())
        })
    })
}

/// Does nothing: the cost of crossing the boundary with the fast path's arguments.
#[napi]
pub fn noop(engine_id: u32, envelope: &[u8], key_handle: u32) -> u32 {
    (envelope.len() as u32) & key_handle & engine_id & 0
}

/// Evaluates one item from a JSON request; returns the JSON result. The configs may come as
/// separate JSON texts (compiled once per distinct text and cached).
#[napi]
pub fn evaluate_json(request: String, config: Option<String>, root_config: Option<String>) -> Result<String> {
    guarded(|| {
        let request = parse_json(&request, "the request")?;
        api::evaluate_request_with(&request, config.as_deref(), root_config.as_deref())
            .map(|v| v.to_string())
            .map_err(|e| invalid(e.to_string()))
    })
}

/// The values rules read for every field normalization can change (transaction name and
/// source, user-agent contexts, trace status and op, the DSC's name); JSON in and out.
#[napi]
pub fn normalized_fields_json(request: String) -> Result<String> {
    guarded(|| {
        let request = parse_json(&request, "the request")?;
        sampling_core::normalize::report::normalized_fields_request(&request)
            .map(|v| v.to_string())
            .map_err(|e| invalid(e.to_string()))
    })
}

/// A transaction name as Relay parametrizes the DSC's (identifiers scrubbed and the optional
/// `txNameRules` applied when it holds a `/`); null when it stays as it is.
#[napi]
pub fn parametrize_transaction_name(name: String, tx_name_rules_json: Option<String>) -> Result<Option<String>> {
    guarded(|| {
        let rules = match tx_name_rules_json {
            None => sampling_core::normalize::TxNameRules::default(),
            Some(text) => sampling_core::normalize::TxNameRules::parse(&parse_json(&text, "txNameRules")?),
        };
        Ok(sampling_core::normalize::parametrize_name(&name, &rules, Utc::now()))
    })
}

/// The stages and rule ids an item goes through; JSON in and out.
#[napi]
pub fn evaluation_order_json(request: String) -> Result<String> {
    guarded(|| {
        let request = parse_json(&request, "the request")?;
        api::evaluation_order_request(&request).map(|v| v.to_string()).map_err(|e| invalid(e.to_string()))
    })
}

/// Matches a condition (JSON) against an `event`, a `dsc` or a flat `instance` (JSON).
#[napi]
pub fn match_condition_json(condition: String, target: String, value: String) -> Result<bool> {
    guarded(|| {
        let target = match target.as_str() {
            "event" => api::Target::Event,
            "dsc" => api::Target::Dsc,
            "instance" => api::Target::Instance,
            other => return Err(invalid(format!("unknown target `{other}`"))),
        };
        let condition = sampling_core::shape::parse_marked(&condition)
            .map_err(|e| invalid(format!("the condition is not valid JSON: {e}")))?;
        let value = parse_json(&value, "the instance")?;
        api::match_condition(&condition, target, &value).map_err(|e| invalid(e.to_string()))
    })
}

/// Parses a `samplingConfig`, `samplingRule`, `ruleCondition`, `dsc` or `projectConfig`;
/// returns a JSON report `{accepted, unsupported?, error?, ...}`. `reservoir` accepts historical
/// reservoir rules.
#[napi]
pub fn parse_json_report(target: String, input: String, reservoir: Option<bool>) -> Result<String> {
    guarded(|| {
        // Repeated keys are kept as marks: Relay rejects a repeated known field.
        let input = sampling_core::shape::parse_marked(&input).map_err(|e| invalid(format!("the input is not valid JSON: {e}")))?;
        let options = ParseOptions { reservoir: reservoir.unwrap_or(false) };
        api::parse_request_with(&target, &input, options).map(|v| v.to_string()).map_err(|e| invalid(e.to_string()))
    })
}

/// The random value in [0, 1) that a trace or event id seeds (Relay's PCG32).
#[napi]
pub fn random_value_for(id: String) -> Result<f64> {
    let seed = sampling_core::value::parse_uuid(&id).ok_or_else(|| invalid(format!("`{id}` is not a UUID")))?;
    Ok(sampling_core::random::random_value(seed))
}

