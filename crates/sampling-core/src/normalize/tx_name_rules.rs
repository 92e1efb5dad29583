//! Transaction-name rules (project config `txNameRules`): patterns found by Sentry's transaction
//! clusterer, applied to URL-like names after identifier scrubbing.
//!
//! A rule is `{pattern, expiry, redaction: {method: "replace", substitution = "*"}}`. Its
//! pattern is a path glob, case-sensitive and anchored at both ends: `*` is any run of
//! characters other than `/` (and is what gets replaced), `**` any run including `/` (kept),
//! `?` one character (kept); `\*`, `\*\*` and `\?` are literal. The name is matched with a `/`
//! appended when it has none at its end (so `/a/*/**` matches `/a/b`), removed again afterwards.
//! The first unexpired rule that matches decides, even if its redaction method is unknown
//! (the name then stays as it is).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;

/// What a matching rule does with the `*` parts of the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redaction {
    Replace(Box<str>),
    /// A method this engine does not know: the name is left unchanged.
    Unknown,
}

/// One transaction-name rule, its pattern compiled on first use.
#[derive(Debug)]
pub struct TxNameRule {
    pub pattern: Box<str>,
    pub expiry: DateTime<Utc>,
    pub redaction: Redaction,
    compiled: OnceLock<Regex>,
}

impl Clone for TxNameRule {
    fn clone(&self) -> Self {
        TxNameRule { pattern: self.pattern.clone(), expiry: self.expiry, redaction: self.redaction.clone(), compiled: OnceLock::new() }
    }
}

/// Translates a rule glob into an anchored regular expression.
pub fn glob_to_regex(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 16);
    out.push('^');
    let mut literal_start = 0;
    let bytes = glob.as_bytes();
    let mut i = 0;
    let flush = |out: &mut String, from: usize, to: usize| out.push_str(&regex::escape(&glob[from..to]));
    while i < bytes.len() {
        let rest = &glob[i..];
        let (token, replacement): (usize, &str) = if rest.starts_with(r"\?") {
            (2, r"\?")
        } else if rest.starts_with(r"\*\*") {
            (4, r"\*\*")
        } else if rest.starts_with(r"\*") {
            (2, r"\*")
        } else if rest.starts_with('?') {
            (1, "(?:.)")
        } else if rest.starts_with("**") {
            (2, "(?:.*?)")
        } else if rest.starts_with('*') {
            (1, "([^/]*?)")
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        flush(&mut out, literal_start, i);
        out.push_str(replacement);
        i += token;
        literal_start = i;
    }
    flush(&mut out, literal_start, glob.len());
    out.push('$');
    out
}

impl TxNameRule {
    /// Reads one rule; `None` when it lacks a string pattern, an RFC 3339 expiry or a redaction.
    pub fn parse(value: &Value) -> Option<TxNameRule> {
        let pattern = value.get("pattern")?.as_str()?;
        let expiry = DateTime::parse_from_rfc3339(value.get("expiry")?.as_str()?).ok()?.with_timezone(&Utc);
        let redaction = value.get("redaction")?;
        let redaction = match redaction.get("method")?.as_str()? {
            "replace" => match redaction.get("substitution") {
                None => Redaction::Replace("*".into()),
                Some(s) => Redaction::Replace(s.as_str()?.into()),
            },
            _ => Redaction::Unknown,
        };
        Some(TxNameRule { pattern: pattern.into(), expiry, redaction, compiled: OnceLock::new() })
    }

    fn regex(&self) -> &Regex {
        // A pattern that does not compile (too large) matches nothing.
        self.compiled.get_or_init(|| Regex::new(&glob_to_regex(&self.pattern)).unwrap_or_else(|_| Regex::new("[^\\s\\S]").expect("valid")))
    }

    /// Applies the rule to `name` (already ending in `/`), writing the result into `out`.
    /// Returns false when the rule does not apply.
    fn apply_into(&self, name: &str, now: DateTime<Utc>, out: &mut String) -> bool {
        if self.expiry <= now {
            return false;
        }
        let regex = self.regex();
        let Some(captures) = regex.captures(name) else { return false };
        match &self.redaction {
            Redaction::Replace(substitution) => {
                let mut last = 0;
                for group in captures.iter().skip(1).flatten() {
                    out.push_str(&name[last..group.start()]);
                    out.push_str(substitution);
                    last = group.end();
                }
                out.push_str(&name[last..]);
            }
            Redaction::Unknown => out.push_str(name),
        }
        true
    }
}

/// A project's transaction-name rules, in order.
#[derive(Debug, Clone, Default)]
pub struct TxNameRules {
    rules: Vec<TxNameRule>,
    /// Entries that could not be read and were left out.
    pub skipped: usize,
}

impl TxNameRules {
    pub fn empty() -> &'static TxNameRules {
        static EMPTY: TxNameRules = TxNameRules { rules: Vec::new(), skipped: 0 };
        &EMPTY
    }

    /// Reads `txNameRules` (a JSON array); entries that cannot be read are skipped and counted.
    pub fn parse(value: &Value) -> TxNameRules {
        let Some(list) = value.as_array() else {
            return TxNameRules { rules: Vec::new(), skipped: usize::from(!value.is_null()) };
        };
        let mut rules = Vec::with_capacity(list.len());
        let mut skipped = 0;
        for entry in list {
            match TxNameRule::parse(entry) {
                Some(rule) => rules.push(rule),
                None => skipped += 1,
            }
        }
        TxNameRules { rules, skipped }
    }

    pub fn parse_str(text: &str) -> Result<TxNameRules, serde_json::Error> {
        serde_json::from_str::<Value>(text).map(|v| Self::parse(&v))
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Applies the first matching rule to `name`; the result goes to `out` (cleared first).
    /// `work` is a scratch buffer. Returns false when no rule applies or nothing changes.
    pub fn apply_into(&self, name: &str, now: DateTime<Utc>, out: &mut String, work: &mut String) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        work.clear();
        work.push_str(name);
        let appended = !name.ends_with('/');
        if appended {
            work.push('/');
        }
        for rule in &self.rules {
            out.clear();
            if rule.apply_into(work, now, out) {
                if appended {
                    out.pop();
                }
                return out != name;
            }
        }
        false
    }

    /// `apply_into` returning a new string.
    pub fn apply(&self, name: &str, now: DateTime<Utc>) -> Option<String> {
        let (mut out, mut work) = (String::new(), String::new());
        self.apply_into(name, now, &mut out, &mut work).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules(list: Value) -> TxNameRules {
        TxNameRules::parse(&list)
    }

    fn now() -> DateTime<Utc> {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    fn rule(pattern: &str, substitution: &str) -> Value {
        json!({"pattern": pattern, "expiry": "2099-01-01T00:00:00Z", "redaction": {"method": "replace", "substitution": substitution}})
    }

    #[test]
    fn star_segments_are_replaced_and_double_stars_kept() {
        let r = rules(json!([rule("/orgs/*/**", "*")]));
        assert_eq!(r.apply("/orgs/acme/projects/x", now()).as_deref(), Some("/orgs/*/projects/x"));
        // The appended `/` lets `**` match nothing.
        assert_eq!(r.apply("/orgs/acme", now()).as_deref(), Some("/orgs/*"));
        assert_eq!(r.apply("/orgs/acme/", now()).as_deref(), Some("/orgs/*/"));
        let r = rules(json!([rule("/foo/*/bar/*/**", ":id")]));
        assert_eq!(r.apply("/foo/some/bar/here/store", now()).as_deref(), Some("/foo/:id/bar/:id/store"));
    }

    #[test]
    fn expired_and_unknown_rules() {
        let expired = json!({"pattern": "/a/*/**", "expiry": "2020-01-01T00:00:00Z", "redaction": {"method": "replace"}});
        assert_eq!(rules(json!([expired])).apply("/a/b/c", now()), None);
        let unknown = json!({"pattern": "/a/*/**", "expiry": "2099-01-01T00:00:00Z", "redaction": {"method": "update"}});
        // The unknown rule matches first and leaves the name alone: the next rule is not tried.
        assert_eq!(rules(json!([unknown, rule("/a/*/**", "*")])).apply("/a/b/c", now()), None);
        let defaulted = json!({"pattern": "/a/*/**", "expiry": "2099-01-01T00:00:00Z", "redaction": {"method": "replace"}});
        assert_eq!(rules(json!([defaulted])).apply("/a/b/c", now()).as_deref(), Some("/a/*/c"));
    }

    #[test]
    fn escapes_and_literals() {
        assert_eq!(glob_to_regex(r"/foo/\*/*"), r"^/foo/\*/([^/]*?)$");
        assert_eq!(glob_to_regex("/a.b/?/**"), r"^/a\.b/(?:.)/(?:.*?)$");
        // Names are matched with a `/` appended: a pattern ending in a segment star needs `/**`.
        assert_eq!(rules(json!([rule(r"/foo/\*/*", "_")])).apply("/foo/*/bar", now()), None);
        let r = rules(json!([rule(r"/foo/\*/*/**", "_")]));
        assert_eq!(r.apply("/foo/*/bar", now()).as_deref(), Some("/foo/*/_"));
        assert_eq!(r.apply("/foo/nope/bar", now()), None);
    }

    #[test]
    fn invalid_entries_are_skipped() {
        let r = rules(json!([{"pattern": "/a/*"}, rule("/b/*/**", "*"), 3]));
        assert_eq!((r.len(), r.skipped), (1, 2));
    }
}
