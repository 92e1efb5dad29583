//! `normalizedFields`: the values rules read for every field normalization can change, for one
//! event and/or DSC (JSON in and out; for tests, debugging and the differential test).

use serde_json::{Map, Value};

use super::{normalized_fields, TxNameRules};
use crate::api::{parse_now, RequestError};
use crate::dsc::Dsc;
use crate::event::EventView;

fn error(field: &str, message: impl Into<String>) -> RequestError {
    RequestError { field: field.into(), message: message.into() }
}

fn rules(value: Option<&Value>) -> TxNameRules {
    value.map_or_else(TxNameRules::default, TxNameRules::parse)
}

/// Request: `{event?, dsc?, txNameRules?, rootTxNameRules?, now?}`. Answer:
/// `{"event.transaction": "..." | null, ..., "trace.transaction": ...}` (event paths only with
/// an event, `trace.transaction` only with a DSC). `txNameRules` apply to the event,
/// `rootTxNameRules` to the DSC's name.
pub fn normalized_fields_request(request: &Value) -> Result<Value, RequestError> {
    let Value::Object(req) = request else { return Err(error("", "the request must be an object")) };
    let now = parse_now(req.get("now"))?;
    let event_text = req.get("event").filter(|v| !v.is_null()).map(Value::to_string);
    let event = match &event_text {
        Some(text) => Some(EventView::parse(text.as_bytes()).map_err(|e| error("event", e.to_string()))?),
        None => None,
    };
    let dsc_text = req.get("dsc").filter(|v| !v.is_null()).map(Value::to_string);
    let dsc = match &dsc_text {
        Some(text) => Some(Dsc::parse(text.as_bytes()).map_err(|e| error("dsc", e.to_string()))?),
        None => None,
    };
    let own = rules(req.get("txNameRules"));
    let root = rules(req.get("rootTxNameRules"));
    let fields = normalized_fields(event.as_ref(), dsc.as_ref(), &own, &root, now);
    let mut out = Map::new();
    for (path, value) in fields {
        out.insert(path.to_owned(), value.map_or(Value::Null, Value::String));
    }
    Ok(Value::Object(out))
}
