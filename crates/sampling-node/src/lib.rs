//! Node.js binding for `sampling-core`: conversions and error mapping only. Per-event calls take
//! bytes and typed arrays and return numbers; everything else crosses as JSON strings.

use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::{TimeZone, Utc};
use napi::bindgen_prelude::{Float64ArraySlice, Uint32ArraySlice};
use napi::{Error, Result, Status};
use napi_derive::napi;
use sampling_core::api;
use sampling_core::decision::Scratch;
use sampling_core::store::{parse_key, EnvelopeDecision, Store};
use serde_json::Value;

/// Numbers written per envelope into the output array (see `OUT_*` in the TypeScript layer).
pub const STRIDE: usize = 13;

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
}

/// The native project store and envelope sampler.
#[napi]
pub struct BindingEngine {
    store: Store,
    scratch: Scratch,
}

#[napi]
impl BindingEngine {
    #[napi(constructor)]
    pub fn new() -> Self {
        BindingEngine { store: Store::new(), scratch: Scratch::new() }
    }

    /// Installs or replaces a project's sampling config (JSON text, or null for none).
    /// Returns null on success, or a JSON error `{path, ruleId, message}`; the previous config
    /// then stays in force.
    #[napi]
    pub fn put_project(
        &self,
        public_key: String,
        project_id: f64,
        organization_id: f64,
        sampling_json: Option<String>,
    ) -> Result<Option<String>> {
        guarded(|| {
            let key = parse_key(&public_key).map_err(|e| invalid(e.to_string()))?;
            let id = |v: f64, what: &str| {
                (v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0)
                    .then_some(v as u64)
                    .ok_or_else(|| invalid(format!("{what} must be a non-negative integer")))
            };
            let result =
                self.store.put(key, id(project_id, "projectId")?, id(organization_id, "organizationId")?, sampling_json.as_deref());
            Ok(result.err().map(|e| api::config_error_json(&e).to_string()))
        })
    }

    #[napi]
    pub fn remove_project(&self, public_key: String) -> Result<bool> {
        let key = parse_key(&public_key).map_err(|e| invalid(e.to_string()))?;
        Ok(self.store.remove(key))
    }

    #[napi]
    pub fn project_count(&self) -> u32 {
        self.store.len() as u32
    }

    /// Pins the engine's clock to epoch milliseconds; null returns to the system clock.
    #[napi]
    pub fn set_now(&self, epoch_ms: Option<f64>) -> Result<()> {
        let now = match epoch_ms {
            None => None,
            Some(ms) => Some(Utc.timestamp_millis_opt(ms as i64).single().ok_or_else(|| invalid("invalid time"))?),
        };
        self.store.set_now(now);
        Ok(())
    }

    /// Decides for one envelope sent to `publicKey`. Writes the decision into `out`
    /// (`STRIDE` numbers) and the matched rule ids into `ids`; returns 0, or an envelope
    /// error code when the envelope cannot be read.
    #[napi]
    pub fn sample_envelope(&mut self, envelope: &[u8], public_key: String, mut out: Float64ArraySlice, mut ids: Uint32ArraySlice) -> Result<u32> {
        // Safety: the call is synchronous on the JavaScript thread, which cannot touch the arrays meanwhile.
        let (out, ids) = unsafe { (out.as_mut(), ids.as_mut()) };
        guarded(|| {
            let key = parse_key(&public_key).map_err(|e| invalid(e.to_string()))?;
            if out.len() < STRIDE {
                return Err(invalid(format!("out must hold at least {STRIDE} numbers")));
            }
            let now = self.store.now();
            match self.store.sample_envelope(key, envelope, now, &mut self.scratch) {
                Ok(d) => {
                    let matched = &self.scratch.matched_ids;
                    let n = matched.len().min(ids.len());
                    ids[..n].copy_from_slice(&matched[..n]);
                    write_decision(out, &d, matched.len());
                    Ok(0)
                }
                Err(e) => Ok(e.code()),
            }
        })
    }

    /// Decides for many envelopes in one call. `data` holds the envelopes back to back,
    /// `offsets` their n+1 boundaries, `keys` the 16-byte public keys of their projects.
    /// Per envelope, `out` receives `STRIDE` numbers (an envelope error code is written as
    /// `-code` in the first slot) and `ids` the matched rule ids, `idsPerEnvelope` each.
    #[napi]
    pub fn sample_envelopes(
        &mut self,
        data: &[u8],
        offsets: &[u32],
        keys: &[u8],
        mut out: Float64ArraySlice,
        mut ids: Uint32ArraySlice,
        ids_per_envelope: u32,
    ) -> Result<()> {
        // Safety: the call is synchronous on the JavaScript thread, which cannot touch the arrays meanwhile.
        let (out, ids) = unsafe { (out.as_mut(), ids.as_mut()) };
        guarded(|| {
            let n = offsets.len().saturating_sub(1);
            if keys.len() < n * 16 || out.len() < n * STRIDE || ids.len() < n * ids_per_envelope as usize {
                return Err(invalid("keys, out or ids are too short for the number of envelopes"));
            }
            let now = self.store.now();
            let per = ids_per_envelope as usize;
            for i in 0..n {
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                let bytes = data.get(start..end).ok_or_else(|| invalid(format!("offsets[{i}] out of range")))?;
                let key = u128::from_be_bytes(keys[i * 16..i * 16 + 16].try_into().expect("16 bytes"));
                let row = &mut out[i * STRIDE..(i + 1) * STRIDE];
                match self.store.sample_envelope(key, bytes, now, &mut self.scratch) {
                    Ok(d) => {
                        let matched = &self.scratch.matched_ids;
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
    }

    /// Does nothing: measures the cost of crossing the boundary with the fast path's arguments.
    #[napi]
    pub fn noop(&self, _envelope: &[u8], _out: Float64ArraySlice) -> u32 {
        0
    }
}

impl Default for BindingEngine {
    fn default() -> Self {
        Self::new()
    }
}

/// Evaluates one item from a JSON request; returns the JSON result.
#[napi]
pub fn evaluate_json(request: String) -> Result<String> {
    guarded(|| {
        let request = parse_json(&request, "the request")?;
        api::evaluate_request(&request).map(|v| v.to_string()).map_err(|e| invalid(e.to_string()))
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
        let condition = parse_json(&condition, "the condition")?;
        let value = parse_json(&value, "the instance")?;
        api::match_condition(&condition, target, &value).map_err(|e| invalid(e.to_string()))
    })
}

/// Parses a `samplingConfig`, `samplingRule`, `ruleCondition`, `dsc` or `projectConfig`;
/// returns a JSON report `{accepted, unsupported?, error?, ...}`.
#[napi]
pub fn parse_json_report(target: String, input: String) -> Result<String> {
    guarded(|| {
        let input = parse_json(&input, "the input")?;
        api::parse_request(&target, &input).map(|v| v.to_string()).map_err(|e| invalid(e.to_string()))
    })
}

/// The random value in [0, 1) that a trace or event id seeds (Relay's PCG32).
#[napi]
pub fn random_value_for(id: String) -> Result<f64> {
    let seed = sampling_core::value::parse_uuid(&id).ok_or_else(|| invalid(format!("`{id}` is not a UUID")))?;
    Ok(sampling_core::random::random_value(seed))
}
