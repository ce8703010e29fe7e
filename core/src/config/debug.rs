//! `Debug` for the config parts that hold secrets: keys, credentials in URLs and header values
//! print as `[REDACTED]`, so a `{:?}` in a log line or a panic message never leaks one.

use super::policy::{AuditConfig, StateBackendConfig};
use super::{OtlpConfig, ProviderConfig};
use std::fmt;

const REDACTED: &str = "[REDACTED]";

/// A URL with its user-info and query (where credentials travel) hidden.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (rest, query) = match rest.split_once('?') {
        Some((r, _)) => (r, "?[REDACTED]"),
        None => (rest, ""),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{REDACTED}@{host}"),
        None => authority.to_owned(),
    };
    let scheme = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{scheme}{host}{path}{query}")
}

/// Header names with their values hidden (any header can carry a key).
struct Headers<'a>(&'a [(String, String)]);

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, REDACTED)))
            .finish()
    }
}

fn secret(value: &Option<String>) -> Option<&'static str> {
    value.as_ref().map(|_| REDACTED)
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("type", &self.preset.name)
            .field("api_base", &self.api_base.as_deref().map(redact_url))
            .field("api_key", &secret(&self.api_key))
            .field("api_version", &self.api_version)
            .field("headers", &Headers(&self.headers))
            .field("timeout", &self.timeout)
            .field("latency", &self.latency)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpConfig")
            .field("endpoint", &redact_url(&self.endpoint))
            .field("headers", &Headers(&self.headers))
            .field("service_name", &self.service_name)
            .finish()
    }
}

impl fmt::Debug for StateBackendConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateBackendConfig::Memory => f.write_str("Memory"),
            StateBackendConfig::Redis { url, prefix, timeout } => f
                .debug_struct("Redis")
                .field("url", &redact_url(url))
                .field("prefix", prefix)
                .field("timeout", timeout)
                .finish(),
        }
    }
}

impl fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditConfig")
            .field("path", &self.path)
            .field("content", &self.content)
            .field("max_bytes", &self.max_bytes)
            .field("key", &secret(&self.key))
            .field("pseudonymize", &self.pseudonymize)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(redact_url("redis://u:pw@h:6379/0"), "redis://[REDACTED]@h:6379/0");
        assert_eq!(redact_url("https://h/v1?key=abc"), "https://h/v1?[REDACTED]");
        assert_eq!(redact_url("https://api.openai.com/v1"), "https://api.openai.com/v1");
    }
}
