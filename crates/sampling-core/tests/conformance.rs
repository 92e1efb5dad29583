//! Runs the engine vectors (`test/vectors/relay.json`, `seed-examples.json`, `relay-2026.json`,
//! copies of `shared/conformance` that travel with the project) against the core through its JSON
//! entry points. `historical` cases run with the reservoir option on, every other case with the
//! defaults.

use std::path::PathBuf;

use sampling_core::api::{evaluate_request, evaluation_order_request, match_condition, parse_request_with, Target};
use sampling_core::config::ParseOptions;
use serde_json::{json, Value};

fn vectors(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test/vectors").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str::<Vec<Value>>(&text).expect("vector file is a JSON array")
}

/// JSON equality where numbers compare by value (1 == 1.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

fn check_evaluation(expected: &Value, actual: &Value, tolerance: Option<f64>) -> Result<(), String> {
    let decision = &expected["decision"];
    if !same(decision, &actual["decision"]) {
        return Err(format!("decision: expected {decision}, got {}", actual["decision"]));
    }
    if let Some(rate) = expected.get("sampleRate").and_then(Value::as_f64) {
        let got = actual["sampleRate"].as_f64().ok_or("no sample rate")?;
        let ok = match tolerance.or_else(|| expected.get("sampleRateTolerance").and_then(Value::as_f64)) {
            Some(t) => (got - rate).abs() <= t,
            None => got == rate,
        };
        if !ok {
            return Err(format!("sampleRate: expected {rate}, got {got}"));
        }
    }
    if let Some(ids) = expected.get("matchedRuleIds") {
        if !same(ids, &actual["matchedRuleIds"]) {
            return Err(format!("matchedRuleIds: expected {ids}, got {}", actual["matchedRuleIds"]));
        }
    }
    Ok(())
}

fn run_case(case: &Value) -> Result<(), String> {
    let historical = case.get("historical").and_then(Value::as_bool).unwrap_or(false);
    let mut case = case.clone();
    if historical {
        if !case["options"].is_object() {
            case["options"] = json!({});
        }
        case["options"]["reservoir"] = json!(true);
    }
    let case = &case;
    let options = if historical { ParseOptions::WITH_RESERVOIR } else { ParseOptions::RELAY };
    let expected = &case["expected"];
    match case["kind"].as_str().unwrap_or_default() {
        "condition" => {
            let (target, value) = if let Some(v) = case.get("dsc") {
                (Target::Dsc, v)
            } else if let Some(v) = case.get("event") {
                (Target::Event, v)
            } else {
                (Target::Instance, &case["instance"])
            };
            let got = match_condition(&case["condition"], target, value).map_err(|e| e.to_string())?;
            if Value::Bool(got) != *expected {
                return Err(format!("expected {expected}, got {got}"));
            }
        }
        "evaluate" => {
            let mut request = case.clone();
            if let Some(sequence) = expected.get("sequence").and_then(Value::as_array) {
                for (i, step) in sequence.iter().enumerate() {
                    let result = evaluate_request(&request).map_err(|e| e.to_string())?;
                    check_evaluation(step, &result, None).map_err(|e| format!("sequence[{i}]: {e}"))?;
                    request["options"]["reservoirCounters"] = result["reservoirCounters"].clone();
                }
            } else {
                let result = evaluate_request(&request).map_err(|e| e.to_string())?;
                if let Some(answer) = expected.get("traceFullySampled") {
                    if !same(answer, &result["traceFullySampled"]) {
                        return Err(format!("traceFullySampled: expected {answer}, got {}", result["traceFullySampled"]));
                    }
                } else {
                    check_evaluation(expected, &result, None)?;
                }
            }
        }
        "merge" => {
            let order = evaluation_order_request(case).map_err(|e| e.to_string())?;
            if !same(&order, &expected["evaluationOrder"]) {
                return Err(format!("evaluationOrder: expected {}, got {order}", expected["evaluationOrder"]));
            }
        }
        "parse" => {
            let result =
                parse_request_with(case["target"].as_str().unwrap_or_default(), &case["input"], options).map_err(|e| e.to_string())?;
            for (key, want) in expected.as_object().ok_or("expected must be an object")? {
                if !same(want, &result[key]) {
                    return Err(format!("{key}: expected {want}, got {}", result[key]));
                }
            }
        }
        other => return Err(format!("unknown case kind {other}")),
    }
    Ok(())
}

fn run_file(file: &str) {
    let cases = vectors(file);
    let failures: Vec<String> = cases.iter().filter_map(|case| run_case(case).err().map(|e| format!("{}: {e}", case["name"]))).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(!cases.is_empty());
}

#[test]
fn relay_vectors() {
    run_file("relay.json");
}

#[test]
fn seed_example_vectors() {
    run_file("seed-examples.json");
}

#[test]
fn relay_2026_vectors() {
    run_file("relay-2026.json");
}

#[test]
fn numbers_compare_by_value() {
    assert!(same(&json!([1, 2.0]), &json!([1.0, 2])));
}
