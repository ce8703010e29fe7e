//! Maps a provider's HTTP error answer to a gateway error with the right kind and retry facts.

use crate::error::{Error, ErrorKind};
use crate::json_path::At;
use crate::secrets::Scrubber;
use serde_json::Value;

/// What the caller is told about where the failure happened.
pub struct Origin<'a> {
    pub deployment: &'a str,
    pub provider: &'a str,
}

/// The error kind for an upstream HTTP status, and whether another attempt can help.
pub fn kind_for_status(status: u16) -> (ErrorKind, bool) {
    match status {
        400 | 413 | 422 => (ErrorKind::InvalidRequest, false),
        401 => (ErrorKind::Authentication, false),
        403 => (ErrorKind::PermissionDenied, false),
        404 => (ErrorKind::NotFound, false),
        408 => (ErrorKind::Timeout, true),
        409 => (ErrorKind::ProviderError, true),
        429 => (ErrorKind::RateLimited, true),
        s if s >= 500 => (ErrorKind::ProviderError, true),
        _ => (ErrorKind::ProviderError, false),
    }
}

/// The provider's own message from an error body: `{"error":{"message"}}`, `{"error":"…"}`,
/// `{"message":…}` (flat bodies from vLLM/Mistral), or the raw text.
pub fn provider_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.at("/error/message")
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    // Not shortened here: a key cut in two by the truncation would no longer match the
    // scrubber, and its head would leak. Callers scrub first, then [`shorten`].
    let mut text = message.unwrap_or_else(|| body.trim().to_owned());
    cut(&mut text, SCRUB_WINDOW);
    text
}

/// The most of a provider's text that is scrubbed (a bound on the work, far above any key).
const SCRUB_WINDOW: usize = 16 * 1024;
/// The most of a provider's message an error repeats.
const SHOWN: usize = 500;

fn cut(text: &mut String, at: usize) {
    if text.len() > at {
        let end = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.truncate(end);
        text.push('…');
    }
}

/// A provider's text, secrets scrubbed *before* it is shortened for an error message.
pub fn scrubbed_short(text: &str, scrubber: &Scrubber) -> String {
    let mut text = scrubber.scrub(text);
    cut(&mut text, SHOWN);
    text
}

/// Seconds from `retry-after-ms` or `retry-after` (seconds; HTTP dates are ignored).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<f64> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    get("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| get("retry-after"))
        .filter(|s| s.is_finite() && *s >= 0.0)
}

pub fn from_status(
    status: u16,
    body: &str,
    retry_after: Option<f64>,
    origin: &Origin<'_>,
    scrubber: &Scrubber,
) -> Error {
    let (kind, retryable) = kind_for_status(status);
    let said = scrubbed_short(&provider_message(body), scrubber);
    let next = match kind {
        ErrorKind::Authentication => "check the provider's api_key in the config",
        ErrorKind::PermissionDenied => "check that the key may use this model",
        ErrorKind::NotFound => "check the deployment's model name and the provider's api_base",
        ErrorKind::InvalidRequest => "fix the request; retrying will not help",
        ErrorKind::RateLimited => "slow down or add capacity to the route",
        _ => "the gateway tries the route's next target when there is one",
    };
    Error::new(
        kind,
        format!(
            "deployment `{}` (provider `{}`) answered HTTP {status}: {said} ({next})",
            origin.deployment, origin.provider
        ),
    )
    .with_status(status)
    .with_retryable(retryable)
    .with_retry_after(retry_after)
}

/// A transport failure (no HTTP answer): timeout or connection.
pub fn from_transport(err: &reqwest::Error, origin: &Origin<'_>, scrubber: &Scrubber) -> Error {
    let detail = scrubber.scrub(&error_chain(err));
    if err.is_timeout() {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "deployment `{}` (provider `{}`) timed out: {detail}",
                origin.deployment, origin.provider
            ),
        )
    } else {
        Error::new(
            ErrorKind::Connection,
            format!(
                "cannot reach deployment `{}` (provider `{}`): {detail}; check api_base and that the server is up",
                origin.deployment, origin.provider
            ),
        )
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_cut_by_the_truncation_does_not_leak_its_head() {
        let mut scrubber = Scrubber::new();
        scrubber.add("tok-KNOWN-SECRET-0123456789");
        for padding in 480..500 {
            for secret in ["tok-KNOWN-SECRET-0123456789", "sk-proj-ABCDEFGHIJKLMNOP0123456789"] {
                let body = format!(
                    r#"{{"error": {{"message": "{}{secret} is wrong"}}}}"#,
                    "x".repeat(padding)
                );
                let origin = Origin {
                    deployment: "d",
                    provider: "p",
                };
                let e = from_status(401, &body, None, &origin, &scrubber);
                let head = &secret[..12];
                assert!(!e.message.contains(head), "padding {padding}: {}", e.message);
            }
        }
    }
}
