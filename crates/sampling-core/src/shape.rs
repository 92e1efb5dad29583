//! The shapes serde's derived `Deserialize` accepts, which decide whether Relay rejects a config:
//! a struct reads from a map (by field name, unknown keys ignored) or from a sequence (by
//! position: fields without a default are required, extra elements are an error); an internally
//! tagged enum reads its tag from the map's tag key, or from the first element of a sequence.

use serde_json::{Map, Value};

/// The body of a struct or of an enum variant.
#[derive(Debug, Clone, Copy)]
pub enum Body<'v> {
    Map(&'v Map<String, Value>),
    Seq(&'v [Value]),
}

impl<'v> Body<'v> {
    /// A struct's body: a map or a sequence; `what` names the struct in errors.
    pub fn of(value: &'v Value, what: &str) -> Result<Body<'v>, String> {
        match value {
            Value::Object(map) => Ok(Body::Map(map)),
            Value::Array(items) => Ok(Body::Seq(items)),
            other => Err(format!("invalid type: {}, expected {what}", kind(other))),
        }
    }

    /// The fields `names` (in declaration order); the first `required` of them have no default,
    /// which matters only for the sequence form (a map's absent field is `None`, and the caller
    /// decides whether that is an error or the default).
    pub fn fields<const N: usize>(&self, names: [&str; N], required: usize) -> Result<[Option<&'v Value>; N], String> {
        match *self {
            Body::Map(map) => Ok(names.map(|name| map.get(name))),
            Body::Seq(items) => {
                if items.len() > N {
                    return Err(format!("invalid length {}, expected {N} elements in sequence", items.len()));
                }
                if items.len() < required {
                    return Err(format!("invalid length {}, expected {N} elements", items.len()));
                }
                let mut out = [None; N];
                for (slot, item) in out.iter_mut().zip(items) {
                    *slot = Some(item);
                }
                Ok(out)
            }
        }
    }

    /// A unit variant's body: a map may hold anything else, a sequence must be empty.
    pub fn unit(&self) -> Result<(), String> {
        match *self {
            Body::Seq(items) if !items.is_empty() => {
                Err(format!("invalid length {}, expected 0 elements in sequence", items.len()))
            }
            _ => Ok(()),
        }
    }
}

/// An internally tagged enum value: its tag and the variant's body.
pub fn tagged<'v>(value: &'v Value, tag: &str, what: &str) -> Result<(&'v Value, Body<'v>), String> {
    match value {
        Value::Object(map) => {
            let t = map.get(tag).ok_or_else(|| format!("missing field `{tag}`"))?;
            Ok((t, Body::Map(map)))
        }
        Value::Array(items) => match items.split_first() {
            Some((t, rest)) => Ok((t, Body::Seq(rest))),
            None => Err(format!("missing field `{tag}`")),
        },
        other => Err(format!("invalid type: {}, expected {what}", kind(other))),
    }
}

/// The JSON kind of a value, as serde names it in errors.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "floating point",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "sequence",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn structs_read_from_maps_and_sequences() {
        let map = json!({"start": 1, "other": 2});
        assert_eq!(Body::of(&map, "x").unwrap().fields(["start", "end"], 2).unwrap(), [Some(&json!(1)), None]);
        let seq = json!([1, null]);
        assert_eq!(Body::of(&seq, "x").unwrap().fields(["start", "end"], 2).unwrap(), [Some(&json!(1)), Some(&Value::Null)]);
        assert!(Body::of(&json!([1]), "x").unwrap().fields(["start", "end"], 2).is_err());
        assert!(Body::of(&json!([1, 2, 3]), "x").unwrap().fields(["start", "end"], 0).is_err());
        assert!(Body::of(&json!("x"), "x").is_err());
    }

    #[test]
    fn tags_come_from_the_key_or_the_first_element() {
        let value = json!(["factor", 2]);
        let (tag, body) = tagged(&value, "type", "x").unwrap();
        assert_eq!(tag, &json!("factor"));
        assert_eq!(body.fields(["value"], 1).unwrap(), [Some(&json!(2))]);
        assert!(tagged(&json!([]), "type", "x").is_err());
        let one = [json!(1)];
        assert!(Body::Seq(&one).unit().is_err());
    }
}
