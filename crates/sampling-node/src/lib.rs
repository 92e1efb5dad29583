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
use sampling_core::config::ParseOptions;
use sampling_core::decision::Scratch;
use sampling_core::store::{parse_key, EnvelopeDecision, Store};
use serde_json::Value;

/// Numbers written per envelope into the output array (`RESULT_*` slots below).
pub const STRIDE: usize = 20;

// Slots of a result row (`resultView`, or a row of a batch's `out`); the TypeScript layer reads
// these constants, never numbers of its own.
#[napi]
pub const RESULT_STRIDE: u32 = STRIDE as u32;
#[napi]
pub const RESULT_DECISION: u32 = 0;
#[napi]
pub const RESULT_SAMPLE_RATE: u32 = 1;
#[napi]
pub const RESULT_RANDOM_VALUE: u32 = 2;
#[napi]
pub const RESULT_KIND: u32 = 3;
#[napi]
pub const RESULT_KEEP_REASON: u32 = 4;
#[napi]
pub const RESULT_TRACE_FULLY_SAMPLED: u32 = 5;
#[napi]
pub const RESULT_MATCHED_COUNT: u32 = 6;
#[napi]
pub const RESULT_SPAN_COUNT: u32 = 7;
#[napi]
pub const RESULT_INVALID_DSC: u32 = 8;
/// Four 32-bit words of the DSC's project key when the engine does not know it (else NaN).
#[napi]
pub const RESULT_UNKNOWN_ROOT_KEY: u32 = 9;
#[napi]
pub const RESULT_SPAN_DECISION: u32 = 13;
#[napi]
pub const RESULT_SPAN_SAMPLE_RATE: u32 = 14;
#[napi]
pub const RESULT_SPAN_REJECTION: u32 = 15;
/// Words of the plan view the last `sampleEnvelope` wrote (NaN in batch rows: no plan).
#[napi]
pub const RESULT_PLAN_WORDS: u32 = 16;
/// The reservoir rule that kept the item (NaN when none), its limit, and the end of its time
/// range in epoch milliseconds (NaN when open-ended): what a fleet counts against a shared budget.
#[napi]
pub const RESULT_RESERVOIR_RULE: u32 = 17;
#[napi]
pub const RESULT_RESERVOIR_LIMIT: u32 = 18;
#[napi]
pub const RESULT_RESERVOIR_END: u32 = 19;

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
    out[16] = f64::NAN;
    let hit = d.outcome.reservoir;
    out[17] = hit.map_or(f64::NAN, |h| f64::from(h.rule_id));
    out[18] = hit.map_or(f64::NAN, |h| h.limit as f64);
    out[19] = hit.and_then(|h| h.end).map_or(f64::NAN, |t| t.timestamp_millis() as f64);
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
    // The memory is shared with JavaScript's views, not owned through `&self`: no Rust borrow aliases it.
    #[allow(clippy::mut_from_ref)]
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
    /// The plan of the last `sampleEnvelope` (replaced by a larger one when it does not fit).
    plan: Arc<PlanMemory>,
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
            plan: Arc::new(PlanMemory::new(1024)),
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

    /// The plan of the last `sampleEnvelope` (`PLAN_*` layout), as a view of engine memory. A
    /// plan larger than the view moves to new memory: fetch the view again when the result's
    /// `RESULT_PLAN_WORDS` exceeds its length.
    #[napi]
    pub fn plan_view(&self) -> Result<Uint32Array> {
        with_engine(self.id, |state| {
            let keep = state.plan.clone();
            let (ptr, len) = (keep.ptr, keep.len);
            // Safety: as for `result_view`.
            Ok(unsafe { Uint32Array::with_external_data(ptr, len, move |_, _| drop(keep)) })
        })
    }

    /// Sets the count of reservoir rule `ruleId` for every project of the organisation (and those
    /// installed later): a fleet's shared count. At the rule's limit, the rule is used up and the
    /// engine decides as if it were not there (no config is rewritten).
    #[napi]
    pub fn set_reservoir_count(&self, organization_id: f64, rule_id: u32, count: f64) -> Result<()> {
        if !(organization_id >= 0.0 && organization_id.fract() == 0.0 && organization_id <= 9_007_199_254_740_991.0) {
            return Err(invalid("organizationId must be a non-negative integer"));
        }
        if count.is_nan() {
            return Err(invalid("count must be a number"));
        }
        with_engine(self.id, |state| {
            state.store.set_reservoir_count(organization_id as u64, rule_id, count as i64);
            Ok(())
        })
    }

    /// Whether plans carry what the control plane counts (trace roots, releases of kept items):
    /// off by default, as it reads transaction and segment payloads.
    #[napi]
    pub fn set_counting(&self, on: bool) -> Result<()> {
        with_engine(self.id, |state| {
            state.store.set_counting(on);
            Ok(())
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
        let key = if key_handle == NO_PROJECT {
            0
        } else {
            let Some(&key) = state.keys.get(key_handle as usize) else { return UNKNOWN_HANDLE };
            key
        };
        // Safety: see `ResultMemory::slices`.
        let (out, ids) = unsafe { state.result.slices() };
        let (store, scratch, plan) = (&state.store, &mut state.scratch, &mut state.plan);
        let status = catch_unwind(AssertUnwindSafe(|| {
            let now = store.now();
            match store.sample_envelope(key, envelope, now, scratch) {
                Ok(d) => {
                    let matched = &scratch.matched_ids;
                    let n = matched.len().min(ids.len());
                    ids[..n].copy_from_slice(&matched[..n]);
                    write_decision(out, &d, matched.len());
                    out[RESULT_PLAN_WORDS as usize] = write_plan(plan, &scratch.plan) as f64;
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
    std::hint::black_box((engine_id, envelope.len(), key_handle));
    0
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
        sampling_core::normalize::report::normalized_fields_request(&request).map(|v| v.to_string()).map_err(|e| invalid(e.to_string()))
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
        let condition =
            sampling_core::shape::parse_marked(&condition).map_err(|e| invalid(format!("the condition is not valid JSON: {e}")))?;
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

/// The spans of the transaction payload at `[start, end)` of `envelope` (`sampling_core::plan::embedded_span_count`):
/// what a dropped transaction counts in the span categories of its outcome, besides itself.
#[napi]
pub fn embedded_span_count(envelope: &[u8], start: u32, end: u32) -> u32 {
    let (start, end) = (start as usize, (end as usize).min(envelope.len()));
    if start >= end {
        return 0;
    }
    sampling_core::plan::embedded_span_count(&envelope[start..end])
}

// ---- The envelope plan (see `sampling_core::plan`), written next to each single-envelope result.

/// The key handle standing for no project: the envelope is planned (and kept as from an unknown
/// project), e.g. to read the `dsn` of its header before the request is authenticated.
#[napi]
pub const NO_PROJECT: u32 = u32::MAX;

/// Words of the plan's head, then `PLAN_ITEM_WORDS` per item, `PLAN_RELEASE_WORDS` per release
/// seen, then the decoded text (UTF-8 bytes from word `PLAN_TEXT_WORD`). Text ranges are
/// (start, length) pairs into the text; a start of `PLAN_ABSENT` means no text.
#[napi]
pub const PLAN_ABSENT: u32 = sampling_core::plan::ABSENT;
#[napi]
pub const PLAN_HEADER_END: u32 = 0;
#[napi]
pub const PLAN_ITEM_COUNT: u32 = 1;
#[napi]
pub const PLAN_RELEASE_COUNT: u32 = 2;
#[napi]
pub const PLAN_TEXT_WORD: u32 = 3;
/// 1 when the header has a valid `event_id`, then its four 32-bit words.
#[napi]
pub const PLAN_HAS_EVENT_ID: u32 = 4;
#[napi]
pub const PLAN_EVENT_ID: u32 = 5;
#[napi]
pub const PLAN_DSN: u32 = 9;
#[napi]
pub const PLAN_SENT_AT: u32 = 11;
/// What the control plane counts (`RootCounts`): transactions, segment spans, then 1 when the
/// engine names their root project (the DSC's, held in the same organisation; else the envelope's
/// own) and its id (high and low 32 bits).
#[napi]
pub const PLAN_TRANSACTION_COUNT: u32 = 13;
#[napi]
pub const PLAN_SEGMENT_COUNT: u32 = 14;
#[napi]
pub const PLAN_HAS_ROOT_PROJECT: u32 = 15;
#[napi]
pub const PLAN_ROOT_PROJECT: u32 = 16;
/// The names counted for transactions and for segments, and the DSC's `release` and `environment`.
#[napi]
pub const PLAN_TRANSACTION_NAME: u32 = 18;
#[napi]
pub const PLAN_SEGMENT_NAME: u32 = 20;
#[napi]
pub const PLAN_ROOT_RELEASE: u32 = 22;
#[napi]
pub const PLAN_ROOT_ENVIRONMENT: u32 = 24;
#[napi]
pub const PLAN_HEAD_WORDS: u32 = 26;
#[napi]
pub const PLAN_ITEM_WORDS: u32 = 14;
#[napi]
pub const ITEM_TYPE: u32 = 0;
#[napi]
pub const ITEM_START: u32 = 1;
#[napi]
pub const ITEM_HEADER_END: u32 = 2;
#[napi]
pub const ITEM_PAYLOAD_START: u32 = 3;
#[napi]
pub const ITEM_PAYLOAD_END: u32 = 4;
#[napi]
pub const ITEM_END: u32 = 5;
#[napi]
pub const ITEM_QUANTITY: u32 = 6;
/// `ITEM_FATES`: forward, sampled (removed by the decision), missing_dsc, invalid_dsc.
#[napi]
pub const ITEM_FATE: u32 = 7;
/// The header's `length` value `[start, end)` (equal when there is none).
#[napi]
pub const ITEM_LENGTH_START: u32 = 8;
#[napi]
pub const ITEM_LENGTH_END: u32 = 9;
/// `TAG_SHAPES` (0: no tag), a comma flag, and the range `[at, removeTo)` the tag replaces.
#[napi]
pub const ITEM_TAG_SHAPE: u32 = 10;
#[napi]
pub const ITEM_TAG_COMMA: u32 = 11;
#[napi]
pub const ITEM_TAG_AT: u32 = 12;
#[napi]
pub const ITEM_TAG_REMOVE_TO: u32 = 13;
/// A release seen: release text range, environment text range.
#[napi]
pub const PLAN_RELEASE_WORDS: u32 = 4;

/// Item type names by `ITEM_TYPE` code (code 0: any other type).
#[napi]
pub fn item_type_names() -> Vec<&'static str> {
    sampling_core::plan::ITEM_TYPE_NAMES.to_vec()
}

/// Engine memory holding the last plan, shared with JavaScript as a `Uint32Array`.
struct PlanMemory {
    ptr: *mut u32,
    len: usize,
}

// Safety: as for `ResultMemory`.
unsafe impl Send for PlanMemory {}
unsafe impl Sync for PlanMemory {}

impl PlanMemory {
    fn new(len: usize) -> Self {
        let ptr = Box::into_raw(vec![0u32; len].into_boxed_slice()) as *mut u32;
        PlanMemory { ptr, len }
    }
}

impl Drop for PlanMemory {
    fn drop(&mut self) {
        // Safety: allocated in `new` as a boxed slice of `len` words.
        unsafe { drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.ptr, self.len))) }
    }
}

fn put_range(words: &mut [u32], at: u32, range: sampling_core::plan::TextRange) {
    words[at as usize] = range.start;
    words[at as usize + 1] = range.len;
}

/// Writes `plan` into the engine's plan memory (moving it to larger memory when it does not
/// fit; views of the old memory keep it alive); returns the words written.
fn write_plan(memory: &mut Arc<PlanMemory>, plan: &sampling_core::plan::EnvelopePlan) -> usize {
    let head = PLAN_HEAD_WORDS as usize;
    let text_word = head + plan.items.len() * PLAN_ITEM_WORDS as usize + plan.releases.len() * PLAN_RELEASE_WORDS as usize;
    let needed = text_word + plan.text.len().div_ceil(4);
    if needed > memory.len {
        *memory = Arc::new(PlanMemory::new(needed.max(memory.len * 2)));
    }
    // Safety: see `ResultMemory::slices`; JavaScript reads the view only between calls.
    let words = unsafe { std::slice::from_raw_parts_mut(memory.ptr, needed) };
    words[PLAN_HEADER_END as usize] = plan.header_end;
    words[PLAN_ITEM_COUNT as usize] = plan.items.len() as u32;
    words[PLAN_RELEASE_COUNT as usize] = plan.releases.len() as u32;
    words[PLAN_TEXT_WORD as usize] = text_word as u32;
    words[PLAN_HAS_EVENT_ID as usize] = u32::from(plan.event_id.is_some());
    let id = plan.event_id.unwrap_or(0);
    for i in 0..4 {
        words[PLAN_EVENT_ID as usize + i] = (id >> (96 - 32 * i)) as u32;
    }
    put_range(words, PLAN_DSN, plan.dsn);
    put_range(words, PLAN_SENT_AT, plan.sent_at);
    let counts = &plan.counts;
    words[PLAN_TRANSACTION_COUNT as usize] = counts.transactions;
    words[PLAN_SEGMENT_COUNT as usize] = counts.segments;
    words[PLAN_HAS_ROOT_PROJECT as usize] = u32::from(counts.root_project.is_some());
    let root_project = counts.root_project.unwrap_or(0);
    words[PLAN_ROOT_PROJECT as usize] = (root_project >> 32) as u32;
    words[PLAN_ROOT_PROJECT as usize + 1] = root_project as u32;
    put_range(words, PLAN_TRANSACTION_NAME, counts.transaction_name);
    put_range(words, PLAN_SEGMENT_NAME, counts.segment_name);
    put_range(words, PLAN_ROOT_RELEASE, counts.release);
    put_range(words, PLAN_ROOT_ENVIRONMENT, counts.environment);
    for (i, item) in plan.items.iter().enumerate() {
        let row = &mut words[head + i * PLAN_ITEM_WORDS as usize..head + (i + 1) * PLAN_ITEM_WORDS as usize];
        row[ITEM_TYPE as usize] = u32::from(item.type_code);
        row[ITEM_START as usize] = item.start;
        row[ITEM_HEADER_END as usize] = item.header_end;
        row[ITEM_PAYLOAD_START as usize] = item.payload_start;
        row[ITEM_PAYLOAD_END as usize] = item.payload_end;
        row[ITEM_END as usize] = item.end;
        row[ITEM_QUANTITY as usize] = item.quantity;
        row[ITEM_FATE as usize] = item.fate as u32;
        row[ITEM_LENGTH_START as usize] = item.length_start;
        row[ITEM_LENGTH_END as usize] = item.length_end;
        row[ITEM_TAG_SHAPE as usize] = item.tag.shape as u32;
        row[ITEM_TAG_COMMA as usize] = u32::from(item.tag.comma);
        row[ITEM_TAG_AT as usize] = item.tag.at;
        row[ITEM_TAG_REMOVE_TO as usize] = item.tag.remove_to;
    }
    let releases = head + plan.items.len() * PLAN_ITEM_WORDS as usize;
    for (i, seen) in plan.releases.iter().enumerate() {
        let at = (releases + i * PLAN_RELEASE_WORDS as usize) as u32;
        put_range(words, at, seen.release);
        put_range(words, at + 2, seen.environment);
    }
    // The text, packed little-endian into words (JavaScript reads it as bytes of the same memory).
    for (i, chunk) in plan.text.chunks(4).enumerate() {
        let mut bytes = [0u8; 4];
        bytes[..chunk.len()].copy_from_slice(chunk);
        words[text_word + i] = u32::from_le_bytes(bytes);
    }
    needed
}
