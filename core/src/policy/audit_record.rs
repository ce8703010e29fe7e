//! The shape of one audit line, serialized straight from borrowed parts of the finished call:
//! building it as a `serde_json::Value` first deep-copied the `gateway` metadata on every call.

use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
pub struct AuditRecord<'a> {
    pub ts: String,
    pub kind: &'a str,
    pub request_id: &'a str,
    pub principal: PrincipalRecord<'a>,
    pub route: &'a str,
    /// `ok` or an error code.
    pub outcome: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub served: Option<Served<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// Redacted input and output, when `audit.content: redacted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
}

pub struct PrincipalRecord<'a> {
    pub key: Option<&'a str>,
    /// Tags as written (a `user` tag may be pseudonymised).
    pub tags: Vec<(&'a str, std::borrow::Cow<'a, str>)>,
}

/// What a call that succeeded adds: these fields of its `gateway` metadata.
pub struct Served<'a>(pub &'a Value);

/// The metadata fields an audit line keeps, in the order it writes them.
/// `cache_hit`, `saved_cost_usd`, `ttft_ms` and `attempt_log` (each attempt's deployment,
/// outcome and latency: retries and failovers) came last, for the dashboard's history.
const SERVED_FIELDS: [&str; 13] = [
    "deployment",
    "provider",
    "model",
    "attempts",
    "usage",
    "cost_usd",
    "latency_ms",
    "policy",
    "skipped",
    "cache_hit",
    "saved_cost_usd",
    "ttft_ms",
    "attempt_log",
];

impl Serialize for Served<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(SERVED_FIELDS.len()))?;
        for field in SERVED_FIELDS {
            map.serialize_entry(field, self.0.get(field).unwrap_or(&Value::Null))?;
        }
        map.end()
    }
}

impl Serialize for PrincipalRecord<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("key", &self.key)?;
        map.serialize_entry("tags", &Tags(&self.tags))?;
        map.end()
    }
}

struct Tags<'a, 'b>(&'b [(&'a str, std::borrow::Cow<'a, str>)]);

impl Serialize for Tags<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}
