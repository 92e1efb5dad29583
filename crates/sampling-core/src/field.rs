//! Field paths of rule conditions (`trace.*`, `event.*`), resolved once when a config is
//! compiled: the leaf the DSC, the event and the getters share, so none of them imports another
//! for its field names.

/// A field path from a rule, resolved once when the config is compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPath {
    pub name: Box<str>,
    pub key: FieldKey,
}

/// What a path points at, so per-event lookups never parse the path again.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKey {
    Dsc(DscField),
    Event(EventField),
    /// Not a known DSC or event path: only flat instances can answer it.
    Other,
}

impl FieldPath {
    pub fn new(name: &str) -> Self {
        let key = if let Some(rest) = name.strip_prefix("trace.") {
            DscField::resolve(rest).map_or(FieldKey::Other, FieldKey::Dsc)
        } else if let Some(rest) = name.strip_prefix("event.") {
            EventField::resolve(rest).map_or(FieldKey::Other, FieldKey::Event)
        } else {
            FieldKey::Other
        };
        FieldPath { name: name.into(), key }
    }
}

/// The DSC fields rules may read (`trace.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DscField {
    Release,
    Environment,
    Transaction,
    UserId,
    UserSegment,
    ReplayId,
}

impl DscField {
    pub fn resolve(path: &str) -> Option<Self> {
        Some(match path {
            "release" => DscField::Release,
            "environment" => DscField::Environment,
            "transaction" => DscField::Transaction,
            "user.id" => DscField::UserId,
            "user.segment" => DscField::UserSegment,
            "replay_id" => DscField::ReplayId,
            _ => return None,
        })
    }
}

/// The event fields rules may read (`event.*`), resolved when a config is compiled.
#[derive(Debug, Clone, PartialEq)]
pub enum EventField {
    Level,
    Release,
    Dist,
    Environment,
    Transaction,
    Logger,
    Platform,
    User(&'static str),
    UserGeo(&'static str),
    RequestMethod,
    RequestUrl,
    RequestHeader(Box<str>),
    TransactionSource,
    Sdk(&'static str),
    Context(&'static str, &'static str),
    Duration,
    ReleaseBuild,
    ReleasePackage,
    ReleaseVersionShort,
    Measurement(Box<str>),
    Breakdown(Box<str>, Box<str>),
    Extra(Box<str>),
    Tag(Box<str>),
}

const CONTEXT_FIELDS: &[(&str, &[&str])] = &[
    ("app", &["in_foreground"]),
    (
        "device",
        &[
            "arch",
            "battery_level",
            "brand",
            "charging",
            "family",
            "model",
            "locale",
            "online",
            "orientation",
            "name",
            "screen_density",
            "screen_dpi",
            "screen_width_pixels",
            "screen_height_pixels",
            "simulator",
            "uuid",
        ],
    ),
    ("os", &["build", "kernel_version", "name", "version"]),
    ("browser", &["name", "version"]),
    ("profile", &["profile_id"]),
    ("trace", &["status", "op"]),
    ("response", &["status_code"]),
    ("unreal", &["crash_type"]),
];

fn find_static(list: &[&'static str], name: &str) -> Option<&'static str> {
    list.iter().copied().find(|s| *s == name)
}

impl EventField {
    pub fn resolve(path: &str) -> Option<Self> {
        Some(match path {
            "level" => EventField::Level,
            "release" => EventField::Release,
            "dist" => EventField::Dist,
            "environment" => EventField::Environment,
            "transaction" => EventField::Transaction,
            "logger" => EventField::Logger,
            "platform" => EventField::Platform,
            "request.method" => EventField::RequestMethod,
            "request.url" => EventField::RequestUrl,
            "transaction.source" => EventField::TransactionSource,
            "duration" => EventField::Duration,
            "release.build" => EventField::ReleaseBuild,
            "release.package" => EventField::ReleasePackage,
            "release.version.short" => EventField::ReleaseVersionShort,
            _ => {
                if let Some(rest) = path.strip_prefix("user.geo.") {
                    EventField::UserGeo(find_static(&["city", "country_code", "region", "subdivision"], rest)?)
                } else if let Some(rest) = path.strip_prefix("user.") {
                    EventField::User(find_static(&["email", "id", "ip_address", "name", "segment"], rest)?)
                } else if let Some(rest) = path.strip_prefix("sdk.") {
                    EventField::Sdk(find_static(&["name", "version"], rest)?)
                } else if let Some(rest) = path.strip_prefix("request.headers.") {
                    EventField::RequestHeader(rest.into())
                } else if let Some(rest) = path.strip_prefix("contexts.") {
                    let (ctx, field) = rest.split_once('.')?;
                    let (ctx, fields) = CONTEXT_FIELDS.iter().find(|(c, _)| *c == ctx)?;
                    EventField::Context(ctx, find_static(fields, field)?)
                } else if let Some(rest) = path.strip_prefix("measurements.") {
                    EventField::Measurement(rest.strip_suffix(".value")?.into())
                } else if let Some(rest) = path.strip_prefix("breakdowns.") {
                    let (breakdown, measurement) = rest.split_once('.')?;
                    EventField::Breakdown(breakdown.into(), measurement.into())
                } else if let Some(rest) = path.strip_prefix("extra.") {
                    EventField::Extra(rest.into())
                } else if let Some(rest) = path.strip_prefix("tags.") {
                    EventField::Tag(rest.into())
                } else {
                    return None;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_by_namespace() {
        assert!(matches!(FieldPath::new("trace.release").key, FieldKey::Dsc(DscField::Release)));
        assert!(matches!(FieldPath::new("event.transaction").key, FieldKey::Event(EventField::Transaction)));
        assert_eq!(FieldPath::new("trace.trace_id").key, FieldKey::Other);
        assert_eq!(FieldPath::new("releases").key, FieldKey::Other);
    }
}
