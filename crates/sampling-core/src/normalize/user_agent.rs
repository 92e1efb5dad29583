//! Browser, device and OS contexts derived from a request's `User-Agent` header and its client
//! hints (`Sec-CH-UA`, `Sec-CH-UA-Model`, `Sec-CH-UA-Platform`, `Sec-CH-UA-Platform-Version`),
//! for events that do not carry those contexts themselves.
//!
//! Parsing uses the `uaparser` crate with the ua-parser project's `regexes.yaml` (vendored from
//! that crate's package, `uap/regexes.yaml`), built without Unicode classes as Relay does.
//! Each of the three regex sets (browsers, devices, operating systems) is compiled once, on first
//! use, only when a rule needs it: compiling one costs tens of milliseconds. Parsing one user
//! agent scans hundreds of expressions (tens of microseconds), so results are cached by user
//! agent (a bounded map per section, cleared when full: real traffic repeats few agents).
//!
//! Client hints win over the user agent: a browser from the first `Sec-CH-UA` entry that is not
//! a "not a brand", Chromium, Gecko or WebKit entry; a device with only a `model`; an OS from the
//! platform hints. From the user agent: a family of `Other` means unknown (no context); versions
//! are `major[.minor[.patch]]`; the frozen versions `Windows 10` and `Mac OS X 10.15.7` read as
//! `>=10` and `>=10.15.7`.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use rustc_hash::FxHashMap;

use regex::Regex;
use uaparser::{Parser, UserAgentParser};

static REGEXES: &[u8] = include_bytes!("../../uap/regexes.yaml");

#[derive(Clone, Copy)]
enum Section {
    Browser,
    Device,
    Os,
}

fn parser(section: Section) -> &'static UserAgentParser {
    static BROWSER: OnceLock<UserAgentParser> = OnceLock::new();
    static DEVICE: OnceLock<UserAgentParser> = OnceLock::new();
    static OS: OnceLock<UserAgentParser> = OnceLock::new();
    let cell = match section {
        Section::Browser => &BROWSER,
        Section::Device => &DEVICE,
        Section::Os => &OS,
    };
    cell.get_or_init(|| {
        UserAgentParser::builder()
            .with_unicode_support(false)
            .with_user_agent(matches!(section, Section::Browser))
            .with_device(matches!(section, Section::Device))
            .with_os(matches!(section, Section::Os))
            .build_from_bytes(REGEXES)
            .expect("the vendored regexes.yaml parses")
    })
}

/// Cached results per user agent, for one section.
struct Cache<T> {
    map: Mutex<FxHashMap<Box<str>, Option<Arc<T>>>>,
}

/// Entries kept per section before the map is cleared.
const CACHE_CAPACITY: usize = 4096;

impl<T> Cache<T> {
    fn get_or(&self, user_agent: &str, parse: impl FnOnce(&str) -> Option<T>) -> Option<Arc<T>> {
        if let Some(found) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get(user_agent) {
            return found.clone();
        }
        let parsed = parse(user_agent).map(Arc::new);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CACHE_CAPACITY {
            map.clear();
        }
        map.insert(user_agent.into(), parsed.clone());
        parsed
    }
}

fn cache<T>() -> Cache<T> {
    Cache { map: Mutex::new(FxHashMap::default()) }
}

/// The request headers user-agent parsing reads (the last of each name wins).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct UaHeaders<'a> {
    pub user_agent: Option<Cow<'a, str>>,
    pub sec_ch_ua: Option<Cow<'a, str>>,
    pub sec_ch_ua_model: Option<Cow<'a, str>>,
    pub sec_ch_ua_platform: Option<Cow<'a, str>>,
    pub sec_ch_ua_platform_version: Option<Cow<'a, str>>,
}

impl<'a> UaHeaders<'a> {
    /// Records one header (names compared case-insensitively).
    pub fn set(&mut self, name: &str, value: Option<Cow<'a, str>>) {
        let slot = if name.eq_ignore_ascii_case("user-agent") {
            &mut self.user_agent
        } else if name.eq_ignore_ascii_case("sec-ch-ua") {
            &mut self.sec_ch_ua
        } else if name.eq_ignore_ascii_case("sec-ch-ua-model") {
            &mut self.sec_ch_ua_model
        } else if name.eq_ignore_ascii_case("sec-ch-ua-platform") {
            &mut self.sec_ch_ua_platform
        } else if name.eq_ignore_ascii_case("sec-ch-ua-platform-version") {
            &mut self.sec_ch_ua_platform_version
        } else {
            return;
        };
        *slot = value;
    }

    pub fn is_empty(&self) -> bool {
        self.user_agent.is_none()
            && self.sec_ch_ua.is_none()
            && self.sec_ch_ua_model.is_none()
            && self.sec_ch_ua_platform.is_none()
            && self.sec_ch_ua_platform_version.is_none()
    }
}

/// A derived browser context.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Browser {
    pub name: String,
    pub version: Option<String>,
}

/// A derived device context.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Device {
    pub family: Option<String>,
    pub model: Option<String>,
    pub brand: Option<String>,
}

/// A derived OS context.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Os {
    pub name: String,
    pub version: Option<String>,
}

fn version(major: &Option<Cow<'_, str>>, minor: &Option<Cow<'_, str>>, patch: &Option<Cow<'_, str>>) -> Option<String> {
    let mut v = major.as_deref()?.to_owned();
    if let Some(minor) = minor {
        v.push('.');
        v.push_str(minor);
        if let Some(patch) = patch {
            v.push('.');
            v.push_str(patch);
        }
    }
    Some(v)
}

fn unquoted(s: &str) -> String {
    s.trim().replace('"', "")
}

/// The browser named by `Sec-CH-UA`: `"Brand";v="1", "Google Chrome";v="120", ...`.
fn browser_from_hints(hints: &str) -> Option<Browser> {
    static ENTRY: OnceLock<Regex> = OnceLock::new();
    let entry = ENTRY.get_or_init(|| Regex::new(r#""([^"]*)";v="([^"]*)""#).expect("valid"));
    for item in hints.split(',') {
        if ["Brand", "Chromium", "Gecko", "WebKit"].iter().any(|skip| item.contains(skip)) {
            continue;
        }
        // The first candidate decides, even when it does not have the expected shape.
        let captures = entry.captures(item)?;
        let (name, version) = (captures.get(1)?.as_str(), captures.get(2)?.as_str());
        if name.trim().is_empty() || version.trim().is_empty() {
            return None;
        }
        // Chrome's brand reads like the user-agent family (as sentry-relay 0.10.1 does).
        let name = if name == "Google Chrome" { "Chrome" } else { name };
        return Some(Browser { name: name.to_owned(), version: Some(version.to_owned()) });
    }
    None
}

fn browser_from_agent(user_agent: &str) -> Option<Browser> {
    let ua = parser(Section::Browser).parse_user_agent(user_agent);
    if ua.family == "Other" {
        return None;
    }
    Some(Browser { name: ua.family.clone().into_owned(), version: version(&ua.major, &ua.minor, &ua.patch) })
}

pub fn browser(headers: &UaHeaders<'_>) -> Option<Arc<Browser>> {
    if let Some(found) = headers.sec_ch_ua.as_deref().and_then(browser_from_hints) {
        return Some(Arc::new(found));
    }
    static CACHE: OnceLock<Cache<Browser>> = OnceLock::new();
    CACHE.get_or_init(cache).get_or(headers.user_agent.as_deref()?, browser_from_agent)
}

fn device_from_agent(user_agent: &str) -> Option<Device> {
    let device = parser(Section::Device).parse_device(user_agent);
    if device.family == "Other" {
        return None;
    }
    Some(Device {
        family: Some(device.family.into_owned()),
        model: device.model.map(Cow::into_owned),
        brand: device.brand.map(Cow::into_owned),
    })
}

pub fn device(headers: &UaHeaders<'_>) -> Option<Arc<Device>> {
    if let Some(model) = headers.sec_ch_ua_model.as_deref().map(unquoted).filter(|m| !m.is_empty()) {
        return Some(Arc::new(Device { family: None, model: Some(model), brand: None }));
    }
    static CACHE: OnceLock<Cache<Device>> = OnceLock::new();
    CACHE.get_or_init(cache).get_or(headers.user_agent.as_deref()?, device_from_agent)
}

pub fn os(headers: &UaHeaders<'_>) -> Option<Arc<Os>> {
    if let Some(name) = headers.sec_ch_ua_platform.as_deref().map(unquoted).filter(|p| !p.is_empty()) {
        return Some(Arc::new(Os { name, version: headers.sec_ch_ua_platform_version.as_deref().map(unquoted) }));
    }
    static CACHE: OnceLock<Cache<Os>> = OnceLock::new();
    CACHE.get_or_init(cache).get_or(headers.user_agent.as_deref()?, os_from_agent)
}

fn os_from_agent(user_agent: &str) -> Option<Os> {
    let os = parser(Section::Os).parse_os(user_agent);
    if os.family == "Other" {
        return None;
    }
    let mut version = version(&os.major, &os.minor, &os.patch);
    let frozen = match &*os.family {
        "Windows" => "10",
        "Mac OS X" => "10.15.7",
        _ => "",
    };
    if let Some(v) = version.as_mut().filter(|v| !frozen.is_empty() && v.as_str() == frozen) {
        v.insert_str(0, ">=");
    }
    Some(Os { name: os.family.into_owned(), version })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(s: &str) -> UaHeaders<'_> {
        UaHeaders { user_agent: Some(Cow::Borrowed(s)), ..Default::default() }
    }

    const MAC_CHROME: &str =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    #[test]
    fn contexts_from_a_desktop_user_agent() {
        assert_eq!(browser(&ua(MAC_CHROME)).as_deref(), Some(&Browser { name: "Chrome".into(), version: Some("120.0.0".into()) }));
        assert_eq!(os(&ua(MAC_CHROME)).as_deref(), Some(&Os { name: "Mac OS X".into(), version: Some(">=10.15.7".into()) }));
        let d = device(&ua(MAC_CHROME)).unwrap();
        assert_eq!((d.family.as_deref(), d.brand.as_deref(), d.model.as_deref()), (Some("Mac"), Some("Apple"), Some("Mac")));
    }

    #[test]
    fn unknown_agents_give_nothing() {
        assert_eq!(browser(&ua("a dont no")), None);
        assert_eq!(os(&ua("a dont no")), None);
    }

    #[test]
    fn client_hints_win() {
        let mut h = ua(MAC_CHROME);
        h.set("SEC-CH-UA", Some(Cow::Borrowed(r#""Not_A Brand";v="99", "Google Chrome";v="109", "Chromium";v="109""#)));
        h.set("sec-ch-ua-platform", Some(Cow::Borrowed("\"macOS\"")));
        assert_eq!(browser(&h).as_deref(), Some(&Browser { name: "Chrome".into(), version: Some("109".into()) }));
        assert_eq!(os(&h).as_deref(), Some(&Os { name: "macOS".into(), version: None }));
    }
}
