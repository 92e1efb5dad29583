//! Rule conditions: parsed from the wire format (with the JSON path of any error), compiled
//! once (field paths resolved, globs and value sets built), then matched per item.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use serde_json::Value;
use unicase::UniCase;

use crate::glob::GlobList;
use crate::shape;
use crate::value::{hex_matches, FieldPath, Getter, Val};

/// Live compiled glob lists by their patterns.
type SharedGlobLists = Mutex<FxHashMap<Box<[Box<str>]>, Weak<GlobList>>>;

/// Compiled glob lists by pattern list, shared by every config that uses the same list (the
/// health-check and environment lists of generated configs are the same for every project).
fn shared_glob_list(patterns: &[&str]) -> Arc<GlobList> {
    static LISTS: OnceLock<SharedGlobLists> = OnceLock::new();
    let key: Box<[Box<str>]> = patterns.iter().map(|p| Box::<str>::from(*p)).collect();
    let mut lists = LISTS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(list) = lists.get(&key).and_then(Weak::upgrade) {
        return list;
    }
    if lists.len() >= 1024 {
        lists.retain(|_, list| list.strong_count() > 0);
    }
    let list = Arc::new(GlobList::new(patterns.iter().copied()));
    lists.insert(key, Arc::downgrade(&list));
    list
}

/// Why a condition was rejected, relative to the condition's own JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    /// Path below the condition, such as `.inner[2].value[0]`.
    pub path: String,
    pub message: String,
}

impl ConditionError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        ConditionError { path: path.to_owned(), message: message.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// The literal a comparison is made against.
#[derive(Debug, Clone, PartialEq)]
pub enum CmpValue {
    Number(crate::json::Number),
    Str(Box<str>),
    /// Anything else (bool, null, array, object) never compares.
    Other,
}

/// A set of strings for `eq`, with a hash index once the list is long enough to need it.
#[derive(Debug, Clone)]
pub struct StringSet {
    values: Vec<Box<str>>,
    ignore_case: bool,
    exact_index: Option<FxHashSet<Box<str>>>,
    /// Case-folded hash → positions in `values`, verified with `unicase::eq` on lookup.
    folded_index: Option<FxHashMap<u64, Vec<u32>>>,
}

/// Lists longer than this get a hash index; shorter ones are scanned.
const INDEX_THRESHOLD: usize = 8;

pub fn folded_hash(s: &str) -> u64 {
    let mut hasher = FxHasher::default();
    UniCase::new(s).hash(&mut hasher);
    hasher.finish()
}

impl StringSet {
    pub fn new(values: Vec<Box<str>>, ignore_case: bool) -> Self {
        let mut set = StringSet { values, ignore_case, exact_index: None, folded_index: None };
        if set.values.len() > INDEX_THRESHOLD {
            if ignore_case {
                let mut index: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
                for (i, v) in set.values.iter().enumerate() {
                    index.entry(folded_hash(v)).or_default().push(i as u32);
                }
                set.folded_index = Some(index);
            } else {
                set.exact_index = Some(set.values.iter().cloned().collect());
            }
        }
        set
    }

    pub fn values(&self) -> &[Box<str>] {
        &self.values
    }

    pub fn ignore_case(&self) -> bool {
        self.ignore_case
    }

    pub fn contains(&self, s: &str) -> bool {
        if let Some(index) = &self.exact_index {
            return index.contains(s);
        }
        if let Some(index) = &self.folded_index {
            return index.get(&folded_hash(s)).is_some_and(|ids| ids.iter().any(|&i| unicase::eq(&*self.values[i as usize], s)));
        }
        if self.ignore_case {
            self.values.iter().any(|v| unicase::eq(&**v, s))
        } else {
            self.values.iter().any(|v| **v == *s)
        }
    }
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    Eq(EqCondition),
    /// Shared between configs: the same pattern lists recur in every generated config.
    Glob {
        field: FieldPath,
        globs: Arc<GlobList>,
    },
    Cmp {
        field: FieldPath,
        op: CmpOp,
        value: CmpValue,
    },
    Cidr {
        field: FieldPath,
        networks: Vec<IpNetwork>,
    },
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Any {
        field: FieldPath,
        inner: Box<Condition>,
    },
    All {
        field: FieldPath,
        inner: Box<Condition>,
    },
    /// An operator this engine does not know: never matches, and marks the config unsupported.
    Unsupported,
}

/// `eq`, pre-split by the kinds of field value it can equal.
#[derive(Debug, Clone)]
pub struct EqCondition {
    pub field: FieldPath,
    /// String elements of the value (a string, or the strings of a list).
    pub strings: StringSet,
    /// The value when it is a single string: hex ids and IPs compare only with that.
    single: Option<(Box<str>, Option<IpAddr>)>,
    boolean: Option<bool>,
    is_null: bool,
}

/// An IP network; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpNetwork {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNetwork {
    pub fn parse(text: &str) -> Option<IpNetwork> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpNetwork { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix) };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Relay's operators in declaration order: a condition nested in another may name its operator by
/// this index (serde reads the buffered tag as a variant index); 13 and above are unsupported.
const OPS_BY_INDEX: [&str; 13] = ["eq", "gte", "lte", "gt", "lt", "glob", "cidr", "release", "or", "and", "not", "any", "all"];

fn name_of<'v>(name: Option<&'v Value>, path: &str) -> Result<&'v str, ConditionError> {
    match name {
        Some(Value::String(s)) => Ok(s),
        Some(other) => {
            Err(ConditionError::new(&format!("{path}.name"), format!("invalid type: {}, expected a string", shape::kind(other))))
        }
        None => Err(ConditionError::new(path, "missing field `name`")),
    }
}

fn value_of<'v>(value: Option<&'v Value>, path: &str) -> Result<&'v Value, ConditionError> {
    value.ok_or_else(|| ConditionError::new(path, "missing field `value`"))
}

fn inner_list(inner: Option<&Value>, path: &str) -> Result<Vec<Condition>, ConditionError> {
    match inner {
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(i, c)| Condition::parse_at(c, &format!("{path}.inner[{i}]"), true)).collect()
        }
        Some(other) => Err(ConditionError::new(
            &format!("{path}.inner"),
            format!("invalid type: {}, expected a list of conditions", shape::kind(other)),
        )),
        None => Err(ConditionError::new(path, "missing field `inner`")),
    }
}

fn inner_one(inner: Option<&Value>, path: &str) -> Result<Box<Condition>, ConditionError> {
    let inner = inner.ok_or_else(|| ConditionError::new(path, "missing field `inner`"))?;
    Ok(Box::new(Condition::parse_at(inner, &format!("{path}.inner"), true)?))
}

impl Condition {
    /// Parses and compiles a condition from its JSON form.
    pub fn parse(value: &Value) -> Result<Condition, ConditionError> {
        Self::parse_at(value, "", false)
    }

    /// `nested`: the condition sits inside another one. Relay reads a nested condition from
    /// buffered content, where the operator may also be a variant index.
    fn parse_at(value: &Value, path: &str, nested: bool) -> Result<Condition, ConditionError> {
        let at = |e: String| ConditionError::new(path, e);
        let (tag, body) = shape::tagged(value, "op", "a condition (internally tagged by `op`)").map_err(at)?;
        let op = match tag {
            Value::String(op) => op.as_str(),
            Value::Number(n) if nested && n.as_u64().is_some() => {
                let index = n.as_u64().unwrap_or(u64::MAX);
                usize::try_from(index).ok().and_then(|i| OPS_BY_INDEX.get(i)).copied().unwrap_or("")
            }
            other => {
                return Err(ConditionError::new(
                    &format!("{path}.op"),
                    format!("invalid type: {}, expected an operator name", shape::kind(other)),
                ))
            }
        };
        let fields = |e: String| ConditionError::new(path, e);
        Ok(match op {
            "eq" => {
                let [name, value, options] = body.fields(["name", "value", "options"], 2).map_err(fields)?;
                let field = FieldPath::new(name_of(name, path)?);
                let value = value_of(value, path)?;
                // Absent options take their defaults; `null` is rejected, as serde does.
                let ignore_case = match options {
                    None => false,
                    Some(options) => {
                        let options = shape::Body::of(options, "the eq options (an object)")
                            .map_err(|e| ConditionError::new(&format!("{path}.options"), e))?;
                        let [ignore_case] =
                            options.fields(["ignoreCase"], 0).map_err(|e| ConditionError::new(&format!("{path}.options"), e))?;
                        match ignore_case {
                            None => false,
                            Some(Value::Bool(b)) => *b,
                            Some(_) => return Err(ConditionError::new(&format!("{path}.options.ignoreCase"), "must be a boolean")),
                        }
                    }
                };
                let strings: Vec<Box<str>> = match value {
                    Value::String(s) => vec![s.as_str().into()],
                    Value::Array(items) => items.iter().filter_map(Value::as_str).map(Into::into).collect(),
                    _ => Vec::new(),
                };
                let single = value.as_str().map(|s| (s.into(), s.parse::<IpAddr>().ok()));
                Condition::Eq(EqCondition {
                    field,
                    strings: StringSet::new(strings, ignore_case),
                    single,
                    boolean: value.as_bool(),
                    is_null: value.is_null(),
                })
            }
            "glob" => {
                let [name, value] = body.fields(["name", "value"], 2).map_err(fields)?;
                let field = FieldPath::new(name_of(name, path)?);
                let Value::Array(items) = value_of(value, path)? else {
                    return Err(ConditionError::new(&format!("{path}.value"), "a glob value must be a list of patterns"));
                };
                let mut patterns = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => patterns.push(s.as_str()),
                        _ => return Err(ConditionError::new(&format!("{path}.value[{i}]"), "a glob pattern must be a string")),
                    }
                }
                Condition::Glob { field, globs: shared_glob_list(&patterns) }
            }
            "gt" | "gte" | "lt" | "lte" => {
                let [name, value] = body.fields(["name", "value"], 2).map_err(fields)?;
                let field = FieldPath::new(name_of(name, path)?);
                let value = match value_of(value, path)? {
                    Value::Number(n) => crate::json::Number::parse(&n.to_string()).map_or(CmpValue::Other, CmpValue::Number),
                    Value::String(s) => CmpValue::Str(s.as_str().into()),
                    _ => CmpValue::Other,
                };
                let op = match op {
                    "gt" => CmpOp::Gt,
                    "gte" => CmpOp::Gte,
                    "lt" => CmpOp::Lt,
                    _ => CmpOp::Lte,
                };
                Condition::Cmp { field, op, value }
            }
            "cidr" => {
                let [name, value] = body.fields(["name", "value"], 2).map_err(fields)?;
                let field = FieldPath::new(name_of(name, path)?);
                let Value::Array(items) = value_of(value, path)? else {
                    return Err(ConditionError::new(&format!("{path}.value"), "a cidr value must be a list of networks"));
                };
                let mut networks = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let Value::String(text) = item else {
                        return Err(ConditionError::new(&format!("{path}.value[{i}]"), "a cidr entry must be a string"));
                    };
                    // An entry that is no address or network is ignored (never matches), as
                    // Relay's `CidrCondition::new` does.
                    if let Some(net) = IpNetwork::parse(text) {
                        networks.push(net);
                    }
                }
                networks.sort();
                networks.dedup();
                Condition::Cidr { field, networks }
            }
            "and" | "or" => {
                let [inner] = body.fields(["inner"], 1).map_err(fields)?;
                let list = inner_list(inner, path)?;
                if op == "and" {
                    Condition::And(list)
                } else {
                    Condition::Or(list)
                }
            }
            "not" => {
                let [inner] = body.fields(["inner"], 1).map_err(fields)?;
                Condition::Not(inner_one(inner, path)?)
            }
            "any" | "all" => {
                let [name, inner] = body.fields(["name", "inner"], 2).map_err(fields)?;
                let field = FieldPath::new(name_of(name, path)?);
                let inner = inner_one(inner, path)?;
                if op == "any" {
                    Condition::Any { field, inner }
                } else {
                    Condition::All { field, inner }
                }
            }
            // Relay's `release` (semantic version comparison) is not implemented here: its shape
            // is checked as Relay does, then it counts as an operator this engine does not know.
            "release" => {
                let [name, value, comparator] = body.fields(["name", "value", "comparator"], 3).map_err(fields)?;
                name_of(name, path)?;
                if !matches!(value_of(value, path)?, Value::String(_)) {
                    return Err(ConditionError::new(&format!("{path}.value"), "a release value must be a string"));
                }
                match comparator {
                    Some(Value::String(_) | Value::Object(_)) => {}
                    Some(_) => return Err(ConditionError::new(&format!("{path}.comparator"), "expected string or map")),
                    None => return Err(ConditionError::new(path, "missing field `comparator`")),
                }
                Condition::Unsupported
            }
            _ => {
                body.unit().map_err(fields)?;
                Condition::Unsupported
            }
        })
    }

    /// Whether this condition, at any depth, holds an operator this engine does not know.
    pub fn is_unsupported(&self) -> bool {
        match self {
            Condition::Unsupported => true,
            Condition::And(list) | Condition::Or(list) => list.iter().any(Condition::is_unsupported),
            Condition::Not(inner) | Condition::Any { inner, .. } | Condition::All { inner, .. } => inner.is_unsupported(),
            _ => false,
        }
    }

    /// The top-level event fields this condition reads.
    pub fn event_slots(&self) -> crate::event::SlotMask {
        use crate::event::SlotMask;
        let of = |field: &FieldPath| match &field.key {
            crate::value::FieldKey::Event(f) => f.slots(),
            _ => SlotMask::default(),
        };
        match self {
            Condition::Eq(eq) => of(&eq.field),
            Condition::Glob { field, .. } | Condition::Cmp { field, .. } | Condition::Cidr { field, .. } => of(field),
            Condition::And(list) | Condition::Or(list) => list.iter().fold(SlotMask::default(), |m, c| m.union(c.event_slots())),
            Condition::Not(inner) => inner.event_slots(),
            Condition::Any { field, inner } | Condition::All { field, inner } => of(field).union(inner.event_slots()),
            Condition::Unsupported => SlotMask::default(),
        }
    }

    /// Every CIDR network of the condition, normalised (for inspection and tests).
    pub fn networks(&self) -> Vec<IpNetwork> {
        let mut out = Vec::new();
        self.collect_networks(&mut out);
        out.sort();
        out.dedup();
        out
    }

    fn collect_networks(&self, out: &mut Vec<IpNetwork>) {
        match self {
            Condition::Cidr { networks, .. } => out.extend_from_slice(networks),
            Condition::And(list) | Condition::Or(list) => list.iter().for_each(|c| c.collect_networks(out)),
            Condition::Not(inner) | Condition::Any { inner, .. } | Condition::All { inner, .. } => inner.collect_networks(out),
            _ => {}
        }
    }

    /// Whether the instance satisfies this condition.
    pub fn matches(&self, instance: &dyn Getter) -> bool {
        match self {
            Condition::Eq(eq) => eq.matches(instance),
            Condition::Glob { field, globs } => match instance.get_value(field) {
                Some(Val::Str(s)) => globs.is_match(&s),
                _ => false,
            },
            Condition::Cmp { field, op, value } => instance.get_value(field).is_some_and(|v| compare(&v, *op, value)),
            Condition::Cidr { field, networks } => {
                let ip = match instance.get_value(field) {
                    Some(Val::Ip(ip)) => ip,
                    Some(Val::Str(s)) => match s.parse::<IpAddr>() {
                        Ok(ip) => ip,
                        Err(_) => return false,
                    },
                    _ => return false,
                };
                networks.iter().any(|n| n.contains(ip))
            }
            Condition::And(list) => list.iter().all(|c| c.matches(instance)),
            Condition::Or(list) => list.iter().any(|c| c.matches(instance)),
            Condition::Not(inner) => !inner.matches(instance),
            Condition::Any { field, inner } => {
                let mut found = false;
                let exists = instance.for_each_element(field, &mut |element| {
                    found = inner.matches(element);
                    !found
                });
                exists && found
            }
            Condition::All { field, inner } => {
                let mut all = true;
                let exists = instance.for_each_element(field, &mut |element| {
                    all = inner.matches(element);
                    all
                });
                exists && all
            }
            Condition::Unsupported => false,
        }
    }
}

impl EqCondition {
    fn matches(&self, instance: &dyn Getter) -> bool {
        match instance.get_value(&self.field) {
            None => self.is_null,
            Some(Val::Str(s)) => self.strings.contains(&s),
            Some(Val::Bool(b)) => self.boolean == Some(b),
            Some(Val::Hex(bytes)) => self.single.as_ref().is_some_and(|(s, _)| hex_matches(bytes, s)),
            Some(Val::Ip(ip)) => self.single.as_ref().is_some_and(|(_, parsed)| *parsed == Some(ip)),
            Some(_) => false,
        }
    }

    /// The field and string set when this `eq` can be answered by a hash lookup alone
    /// (a rule index uses this).
    pub fn indexable(&self) -> Option<(&FieldPath, &StringSet)> {
        // Only DSC and event fields: they never hold ids or IPs, which `eq` compares differently.
        let string_field = match &self.field.key {
            crate::value::FieldKey::Dsc(f) => *f != crate::dsc::DscField::ReplayId,
            crate::value::FieldKey::Event(_) => true,
            crate::value::FieldKey::Other => false,
        };
        (string_field && !self.is_null && self.boolean.is_none()).then_some((&self.field, &self.strings))
    }
}

/// Comparison in the first applicable domain: i64, u64, f64, then strings.
fn compare(field: &Val<'_>, op: CmpOp, value: &CmpValue) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match value {
        CmpValue::Number(n) => {
            let (ri, ru, rf) = match *n {
                crate::json::Number::I64(v) => (Some(v), u64::try_from(v).ok(), v as f64),
                crate::json::Number::U64(v) => (i64::try_from(v).ok(), Some(v), v as f64),
                crate::json::Number::F64(v) => (None, None, v),
            };
            if let (Some(a), Some(b)) = (field.as_i64(), ri) {
                Some(a.cmp(&b))
            } else if let (Some(a), Some(b)) = (field.as_u64(), ru) {
                Some(a.cmp(&b))
            } else {
                field.as_f64().and_then(|a| a.partial_cmp(&rf))
            }
        }
        CmpValue::Str(s) => field.as_str().map(|a| a.as_bytes().cmp(s.as_bytes())),
        CmpValue::Other => None,
    };
    let Some(ordering) = ordering else { return false };
    match op {
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Gte => ordering != Ordering::Less,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Lte => ordering != Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::Instance;
    use serde_json::json;

    fn check(condition: Value, instance: Value) -> bool {
        let c = Condition::parse(&condition).unwrap();
        c.matches(&Instance::from_json(&instance).unwrap())
    }

    #[test]
    fn eq_null_matches_only_missing() {
        assert!(check(json!({"op":"eq","name":"a","value":null}), json!({})));
        assert!(!check(json!({"op":"eq","name":"a","value":null}), json!({"a":"x"})));
    }

    #[test]
    fn eq_ignore_case_folds_unicode() {
        assert!(check(json!({"op":"eq","name":"a","value":"STRASSE","options":{"ignoreCase":true}}), json!({"a":"straße"})));
        assert!(!check(json!({"op":"eq","name":"a","value":"STRASSE"}), json!({"a":"strasse"})));
    }

    #[test]
    fn eq_large_lists_use_the_index_with_the_same_result() {
        let values: Vec<String> = (0..50).map(|i| format!("Name{i}")).collect();
        assert!(check(json!({"op":"eq","name":"a","value":values,"options":{"ignoreCase":true}}), json!({"a":"NAME42"})));
        assert!(check(json!({"op":"eq","name":"a","value":values}), json!({"a":"Name42"})));
        assert!(!check(json!({"op":"eq","name":"a","value":values}), json!({"a":"name42"})));
    }

    #[test]
    fn numbers_never_match_eq() {
        assert!(!check(json!({"op":"eq","name":"a","value":5}), json!({"a":5})));
    }

    #[test]
    fn comparisons_pick_the_first_common_domain() {
        assert!(check(json!({"op":"lt","name":"a","value":560.5}), json!({"a":560})));
        assert!(!check(json!({"op":"lt","name":"a","value":"10"}), json!({"a":"9"})));
        assert!(!check(json!({"op":"gt","name":"a","value":1}), json!({"a":"2"})));
        assert!(check(json!({"op":"gte","name":"a","value":18446744073709551615u64}), json!({"a":18446744073709551615u64})));
    }

    #[test]
    fn glob_values_must_be_string_lists() {
        assert!(Condition::parse(&json!({"op":"glob","name":"a","value":"x"})).is_err());
        let e = Condition::parse(&json!({"op":"and","inner":[{"op":"glob","name":"a","value":["1.*",2]}]})).unwrap_err();
        assert_eq!(e.path, ".inner[0].value[1]");
    }

    #[test]
    fn cidr_entries_must_be_strings_and_bad_ones_are_ignored() {
        assert!(Condition::parse(&json!({"op":"cidr","name":"a","value":[5]})).is_err());
        let ignored = Condition::parse(&json!({"op":"cidr","name":"a","value":["nope"]})).unwrap();
        assert!(ignored.networks().is_empty());
        assert!(!ignored.matches(&Instance::from_json(&json!({"a":{"ip":"10.0.0.1"}})).unwrap()));
        let c = Condition::parse(&json!({"op":"cidr","name":"a","value":["192.168.1.1","10.0.0.0/8","192.168.1.1/32"]})).unwrap();
        let nets: Vec<String> = c.networks().iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.168.1.1/32"]);
    }

    #[test]
    fn unknown_operators_are_unsupported_at_any_depth() {
        let c = Condition::parse(&json!({"op":"not","inner":{"op":"matches","name":"a"}})).unwrap();
        assert!(c.is_unsupported());
        // `not` of a never-matching condition matches.
        assert!(c.matches(&Instance::from_json(&json!({})).unwrap()));
    }

    #[test]
    fn any_and_all_over_arrays() {
        let inst = json!({"xs":{"array":[{"v":"a"},{"v":"b"}]},"empty":{"array":[]}});
        assert!(check(json!({"op":"any","name":"xs","inner":{"op":"eq","name":"v","value":"b"}}), inst.clone()));
        assert!(!check(json!({"op":"all","name":"xs","inner":{"op":"eq","name":"v","value":"b"}}), inst.clone()));
        assert!(check(json!({"op":"all","name":"empty","inner":{"op":"eq","name":"v","value":"b"}}), inst.clone()));
        assert!(!check(json!({"op":"any","name":"empty","inner":{"op":"eq","name":"v","value":"b"}}), inst.clone()));
        assert!(!check(json!({"op":"all","name":"missing","inner":{"op":"eq","name":"v","value":"b"}}), inst));
    }
}
