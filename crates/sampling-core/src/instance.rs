//! A flat, typed map of field path → value: for matching conditions against values that
//! neither a DSC nor an event can carry (ids as bytes, IP addresses, arrays of objects).

use std::borrow::Cow;
use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde_json::Value;

use crate::value::{decode_hex, FieldPath, Getter, Val};

#[derive(Debug, Clone, PartialEq)]
enum InstanceValue {
    Str(String),
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Hex(Vec<u8>),
    Ip(IpAddr),
    Array(Vec<Instance>),
}

/// Field path → typed value. JSON strings, numbers and booleans are themselves;
/// `{"hex": "..."}` is an id held as bytes, `{"ip": "..."}` an IP address and
/// `{"array": [{...}, ...]}` an array of nested instances.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Instance {
    fields: FxHashMap<String, InstanceValue>,
}

impl Instance {
    pub fn from_json(value: &Value) -> Result<Instance, String> {
        let Value::Object(map) = value else { return Err("an instance must be an object".into()) };
        let mut fields = FxHashMap::default();
        for (key, v) in map {
            let parsed = match v {
                Value::String(s) => InstanceValue::Str(s.clone()),
                Value::Bool(b) => InstanceValue::Bool(*b),
                Value::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        InstanceValue::I64(i)
                    } else if let Some(u) = n.as_u64() {
                        InstanceValue::U64(u)
                    } else {
                        InstanceValue::F64(n.as_f64().unwrap_or(f64::NAN))
                    }
                }
                Value::Object(o) if o.len() == 1 => {
                    if let Some(Value::String(h)) = o.get("hex") {
                        InstanceValue::Hex(decode_hex(h).ok_or_else(|| format!("{key}: invalid hex id"))?)
                    } else if let Some(Value::String(ip)) = o.get("ip") {
                        InstanceValue::Ip(ip.parse().map_err(|_| format!("{key}: invalid IP address"))?)
                    } else if let Some(Value::Array(items)) = o.get("array") {
                        InstanceValue::Array(items.iter().map(Instance::from_json).collect::<Result<_, _>>()?)
                    } else {
                        return Err(format!("{key}: expected {{hex}}, {{ip}} or {{array}}"));
                    }
                }
                Value::Null => continue,
                _ => return Err(format!("{key}: unsupported value")),
            };
            fields.insert(key.clone(), parsed);
        }
        Ok(Instance { fields })
    }
}

impl Getter for Instance {
    fn get_value(&self, field: &FieldPath) -> Option<Val<'_>> {
        Some(match self.fields.get(&*field.name)? {
            InstanceValue::Str(s) => Val::Str(Cow::Borrowed(s)),
            InstanceValue::Bool(b) => Val::Bool(*b),
            InstanceValue::I64(v) => Val::I64(*v),
            InstanceValue::U64(v) => Val::U64(*v),
            InstanceValue::F64(v) => Val::F64(*v),
            InstanceValue::Hex(bytes) => Val::Hex(bytes),
            InstanceValue::Ip(ip) => Val::Ip(*ip),
            InstanceValue::Array(_) => return None,
        })
    }

    fn for_each_element(&self, field: &FieldPath, visit: &mut dyn FnMut(&dyn Getter) -> bool) -> bool {
        let Some(InstanceValue::Array(items)) = self.fields.get(&*field.name) else { return false };
        for item in items {
            if !visit(item) {
                break;
            }
        }
        true
    }
}
