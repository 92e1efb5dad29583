//! An OS context sent with only a `raw_description` (what .NET, Unity or Unreal SDKs report) gets
//! `name`, `version`, `build` and `kernel_version` parsed from it, as Relay's context
//! normalization does: Windows (marketing version from the build number), macOS, iOS, iPadOS,
//! Linux distributions and other `uname` strings, Android, Nintendo Switch, and plain
//! `<Name> <version>`. Nothing changes when the context already has a name or a version.

use std::sync::OnceLock;

use regex::Regex;

/// What parsing a description sets: `None` leaves a field as the event has it, `Some(v)` sets
/// it to `v` (which may be nothing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedOs {
    pub name: Option<Option<String>>,
    pub version: Option<Option<String>>,
    pub build: Option<Option<String>>,
    pub kernel_version: Option<Option<String>>,
}

struct Patterns {
    windows: [Regex; 2],
    macos: Regex,
    ios: Regex,
    ipados: Regex,
    linux_distro: Regex,
    uname: Regex,
    android: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("valid OS pattern");
        Patterns {
            windows: [
                re(r"^(Microsoft\s+)?Windows\s+(NT\s+)?(?P<version>\d+\.\d+\.(?P<build>\d+)).*$"),
                re(r"^Windows\s+\d+\s+\((?P<version>\d+\.\d+\.(?P<build>\d+)).*$"),
            ],
            macos: re(r"^Mac OS X (?P<version>\d+\.\d+\.\d+)( \((?P<build>[a-fA-F0-9]+)\))?$"),
            ios: re(r"^iOS (?P<version>\d+\.\d+(\.\d+)?)"),
            ipados: re(r"^iPadOS (?P<version>\d+\.\d+(\.\d+)?)"),
            linux_distro: re(r"^Linux (?P<kernel>\d+\.\d+(\.\d+(\.[1-9]+)?)?) (?P<name>[a-zA-Z]+) (?P<version>\d+(\.\d+){0,2})"),
            uname: re(r"^(?P<name>[a-zA-Z]+) (?P<kernel>\d+\.\d+(\.\d+(\.[1-9]+)?)?)"),
            android: re(r"^Android (OS )?(?P<version>\d+(\.\d+){0,2}) / API-(?P<api>(\d+))"),
        }
    })
}

/// The Windows marketing version for a build number (PC names; servers cannot be told apart).
fn windows_version(build: u64) -> Option<&'static str> {
    Some(match build {
        2600..=3790 => "XP",
        6002 => "Vista",
        7601 => "7",
        9200 => "8",
        9600 => "8.1",
        10240..=19044 => "10",
        22000..=22999 => "11",
        _ => return None,
    })
}

/// `<Name> <version>`: an alphabetic name and a version of digits, dots and dashes.
fn marketing_name(description: &str) -> Option<(&str, &str)> {
    let (name, version) = description.split_once(' ')?;
    let (name, version) = (name.trim(), version.trim());
    if name.bytes().any(|c| !c.is_ascii_alphabetic()) || version.bytes().any(|c| !matches!(c, b'0'..=b'9' | b'.' | b'-')) {
        return None;
    }
    Some((name, version))
}

/// Parses a raw OS description; `build_present` tells whether the context has a build already
/// (Windows then keeps it).
pub fn parse(description: &str, build_present: bool) -> ParsedOs {
    let p = patterns();
    let s = |m: Option<regex::Match<'_>>| Some(m.map(|m| m.as_str().to_owned()));
    let set = |v: &str| Some(Some(v.to_owned()));
    if let Some(c) = p.windows.iter().find_map(|r| r.captures(description)) {
        if let (Some(full), Some(build)) = (c.name("version"), c.name("build")) {
            if let Ok(number) = build.as_str().parse::<u64>() {
                let version = windows_version(number).unwrap_or(full.as_str());
                return ParsedOs {
                    name: set("Windows"),
                    version: set(version),
                    build: if build_present { None } else { set(build.as_str()) },
                    kernel_version: None,
                };
            }
        }
    }
    if let Some(c) = p.macos.captures(description) {
        return ParsedOs { name: set("macOS"), version: s(c.name("version")), build: s(c.name("build")), kernel_version: None };
    }
    if let Some(c) = p.ios.captures(description) {
        return ParsedOs { name: set("iOS"), version: s(c.name("version")), ..Default::default() };
    }
    if let Some(c) = p.ipados.captures(description) {
        return ParsedOs { name: set("iPadOS"), version: s(c.name("version")), ..Default::default() };
    }
    if let Some(c) = p.linux_distro.captures(description) {
        return ParsedOs { name: s(c.name("name")), version: s(c.name("version")), build: None, kernel_version: s(c.name("kernel")) };
    }
    if let Some(c) = p.uname.captures(description) {
        return ParsedOs { name: s(c.name("name")), version: None, build: None, kernel_version: s(c.name("kernel")) };
    }
    if let Some(c) = p.android.captures(description) {
        return ParsedOs { name: set("Android"), version: s(c.name("version")), ..Default::default() };
    }
    if description == "Nintendo Switch" {
        return ParsedOs { name: set("Nintendo OS"), ..Default::default() };
    }
    if let Some((name, version)) = marketing_name(description) {
        return ParsedOs { name: set(name), version: set(version), ..Default::default() };
    }
    ParsedOs::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        let text = |v: &Option<Option<String>>| v.clone().flatten();
        let w = parse("Microsoft Windows 6.1.7601 S", false);
        assert_eq!((text(&w.name), text(&w.version), text(&w.build)), (Some("Windows".into()), Some("7".into()), Some("7601".into())));
        assert_eq!(parse("Microsoft Windows 6.1.7601 S", true).build, None, "an existing build stays");
        assert_eq!(parse("Mac OS X 10.15.7 (19H2)", false), ParsedOs::default());
        let m = parse("Mac OS X 10.14.6", false);
        assert_eq!((text(&m.name), text(&m.version), m.build), (Some("macOS".into()), Some("10.14.6".into()), Some(None)));
        let l = parse("Linux 5.15.0 Ubuntu 22.04", false);
        assert_eq!(
            (text(&l.name), text(&l.version), text(&l.kernel_version)),
            (Some("Ubuntu".into()), Some("22.04".into()), Some("5.15.0".into()))
        );
        assert_eq!(text(&parse("Darwin 21.6.0 Darwin Kernel", false).kernel_version).as_deref(), Some("21.6.0"));
        assert_eq!(text(&parse("Nintendo Switch", false).name).as_deref(), Some("Nintendo OS"));
        assert_eq!(text(&parse("FreeBSD 13.2-RELEASE", false).name).as_deref(), Some("FreeBSD"));
    }
}
