//! Core errors as HTTP answers the openai SDKs understand: a status, the OpenAI error body
//! `{"error": {"message", "type", "code", "param"}}` and the headers that steer SDK retries.
//!
//! The table (documented in docs/serve.md) is one exhaustive match: a new [`ErrorKind`] does not
//! compile until it is given a status here.

use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde_json::{Value, json};
use sluicegate::{Error, ErrorKind};

/// How one error kind is answered over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub status: u16,
    /// OpenAI's `error.type` for the nearest case of its own.
    pub kind: &'static str,
}

/// The status and OpenAI error type of each kind.
///
/// Budgets answer 402, not 429: the openai SDKs (and most retry wrappers) retry a 429 on their
/// own, waiting and trying again, while a spent budget does not come back within seconds; 402
/// is never retried, and the body's `code` says `budget_exceeded`.
pub fn mapping(kind: ErrorKind) -> Mapping {
    let (status, kind) = match kind {
        ErrorKind::InvalidRequest => (400, "invalid_request_error"),
        // The server's own config is wrong (a secret it cannot resolve): not the caller's fault.
        ErrorKind::InvalidConfig => (500, "server_error"),
        ErrorKind::Authentication => (401, "authentication_error"),
        ErrorKind::PermissionDenied => (403, "permission_error"),
        ErrorKind::NotFound => (404, "not_found_error"),
        ErrorKind::RateLimited => (429, "rate_limit_error"),
        ErrorKind::BudgetExceeded => (402, "insufficient_quota"),
        ErrorKind::GuardrailBlocked => (403, "permission_error"),
        ErrorKind::ProviderError => (502, "api_error"),
        ErrorKind::Timeout => (504, "timeout_error"),
        ErrorKind::Connection => (502, "api_error"),
        ErrorKind::StreamInterrupted => (502, "api_error"),
        // The caller went away (or the call was cancelled for it): nginx's "client closed request".
        ErrorKind::Cancelled => (499, "cancelled"),
        ErrorKind::Internal => (500, "server_error"),
    };
    Mapping { status, kind }
}

/// The `error` object: OpenAI's four fields, then the gateway's own facts (the upstream status,
/// whether a retry can help, when, and the request id) that the embedded API also reports.
pub fn error_object(error: &Error) -> Value {
    let facts = error.to_json();
    json!({
        "message": error.message,
        "type": mapping(error.kind).kind,
        "code": error.kind.code(),
        "param": Value::Null,
        "status_code": facts["status_code"],
        "retryable": error.retryable,
        "retry_after": error.retry_after,
        "request_id": error.request_id,
    })
}

/// The whole JSON body of an error answer.
pub fn body(error: &Error) -> Bytes {
    Bytes::from(json!({ "error": error_object(error) }).to_string())
}

pub fn status(error: &Error) -> StatusCode {
    StatusCode::from_u16(mapping(error.kind).status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Headers beside the body: `retry-after` (whole seconds, rounded up) and `retry-after-ms` when
/// the core knows the wait, and `x-should-retry`, which the openai SDKs obey before their own
/// status rules, so that a non-retryable 5xx (an upstream 400 behind a 502) is not retried.
pub fn headers(error: &Error) -> Vec<(&'static str, HeaderValue)> {
    let mut out = vec![(
        "x-should-retry",
        HeaderValue::from_static(if error.retryable { "true" } else { "false" }),
    )];
    if let Some(wait) = error.retry_after.filter(|w| w.is_finite() && *w >= 0.0) {
        out.push(("retry-after", HeaderValue::from(wait.ceil() as u64)));
        out.push(("retry-after-ms", HeaderValue::from((wait * 1000.0).ceil() as u64)));
    }
    if let Some(id) = error
        .request_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        out.push(("x-sluicegate-request-id", id));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_an_error_status_and_type() {
        for kind in ErrorKind::ALL {
            let m = mapping(kind);
            assert!((400..600).contains(&m.status), "{kind}: {}", m.status);
            assert!(!m.kind.is_empty());
        }
        assert_eq!(mapping(ErrorKind::RateLimited).status, 429);
        assert_eq!(mapping(ErrorKind::BudgetExceeded).status, 402);
        assert_eq!(mapping(ErrorKind::Timeout).status, 504);
    }

    #[test]
    fn retry_headers_follow_the_error() {
        let e = Error::new(ErrorKind::RateLimited, "slow down").with_retry_after(Some(1.2));
        let h = headers(&e);
        assert!(h.contains(&("retry-after", HeaderValue::from(2u64))));
        assert!(h.contains(&("retry-after-ms", HeaderValue::from(1200u64))));
        assert!(h.contains(&("x-should-retry", HeaderValue::from_static("true"))));
        let e = Error::new(ErrorKind::BudgetExceeded, "spent");
        assert!(headers(&e).contains(&("x-should-retry", HeaderValue::from_static("false"))));
        let body: Value = serde_json::from_slice(&body(&e)).unwrap();
        assert_eq!(body["error"]["code"], "budget_exceeded");
        assert_eq!(body["error"]["type"], "insufficient_quota");
        assert!(body["error"]["param"].is_null());
    }
}
