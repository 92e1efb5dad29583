//! The shapes serde's derived `Deserialize` accepts, which decide whether Relay rejects a config:
//! a struct reads from a map (by field name, unknown keys ignored) or from a sequence (by
//! position: fields without a default are required, extra elements are an error); an internally
//! tagged enum reads its tag from the map's tag key, or from the first element of a sequence.

use serde_json::{Map, Value};

/// The key under which `parse_marked` records that `key` was repeated in an object.
fn duplicate_mark(key: &str) -> String {
    format!("\u{0}duplicate:{key}")
}

/// Parses JSON text like `serde_json::from_str::<Value>`, except that an object with a repeated
/// key keeps a mark of it (serde's derived structs reject a repeated *known* field, which a plain
/// `Value` cannot tell). `Body::fields` and `tagged` turn marks of known fields into errors.
pub fn parse_marked(text: &str) -> Result<Value, serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Marked.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Whether a parsed value holds duplicate marks (only then does `without_marks` have work).
pub fn has_marks(text: &str) -> bool {
    text.contains("\\u0000duplicate:")
}

/// The value without duplicate marks.
pub fn without_marks(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().filter(|(k, _)| !k.starts_with('\u{0}')).map(|(k, v)| (k.clone(), without_marks(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(without_marks).collect()),
        other => other.clone(),
    }
}

struct Marked;

impl<'de> serde::de::DeserializeSeed<'de> for Marked {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(MarkedVisitor)
    }
}

struct MarkedVisitor;

impl<'de> serde::de::Visitor<'de> for MarkedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        use serde::de::DeserializeSeed;
        Marked.deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Marked)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Marked)?;
            if out.contains_key(&key) {
                out.insert(duplicate_mark(&key), Value::Null);
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

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
            Body::Map(map) => {
                if let Some(name) = names.iter().find(|name| map.contains_key(&duplicate_mark(name))) {
                    return Err(format!("duplicate field `{name}`"));
                }
                Ok(names.map(|name| map.get(name)))
            }
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
            Body::Seq(items) if !items.is_empty() => Err(format!("invalid length {}, expected 0 elements in sequence", items.len())),
            _ => Ok(()),
        }
    }
}

/// An internally tagged enum value: its tag and the variant's body.
pub fn tagged<'v>(value: &'v Value, tag: &str, what: &str) -> Result<(&'v Value, Body<'v>), String> {
    match value {
        Value::Object(map) => {
            if map.contains_key(&duplicate_mark(tag)) {
                return Err(format!("duplicate field `{tag}`"));
            }
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
    fn repeated_known_fields_are_errors() {
        let v = parse_marked(r#"{"start": 1, "start": 2, "x": 1, "x": 2}"#).unwrap();
        assert!(Body::of(&v, "x").unwrap().fields(["start", "end"], 0).is_err());
        assert!(Body::of(&v, "x").unwrap().fields(["end"], 0).is_ok());
        let t = parse_marked(r#"{"op": "and", "op": "or"}"#).unwrap();
        assert!(tagged(&t, "op", "x").is_err());
        assert_eq!(without_marks(&v), json!({"start": 2, "x": 2}));
        assert!(has_marks(&v.to_string()));
        assert!(parse_marked("[1, 2] x").is_err());
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
