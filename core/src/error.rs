//! The one error type of sluicegate: a kind from a fixed set, a message for humans, and the
//! facts a caller needs to react (upstream status, whether a retry can help, when to retry).
//!
//! Every binding maps [`ErrorKind`] exhaustively: Python exception classes and JS error classes
//! derive from [`ErrorKind::code`]; the C status numbers are the C binding's own
//! (`bindings-c/src/error.rs`).

use serde_json::{Value, json};
use std::fmt;

/// What went wrong, as a stable code shared by every language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidRequest,
    InvalidConfig,
    Authentication,
    PermissionDenied,
    NotFound,
    RateLimited,
    BudgetExceeded,
    GuardrailBlocked,
    ProviderError,
    Timeout,
    Connection,
    StreamInterrupted,
    Cancelled,
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::InvalidRequest,
        ErrorKind::InvalidConfig,
        ErrorKind::Authentication,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::RateLimited,
        ErrorKind::BudgetExceeded,
        ErrorKind::GuardrailBlocked,
        ErrorKind::ProviderError,
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::StreamInterrupted,
        ErrorKind::Cancelled,
        ErrorKind::Internal,
    ];

    /// The stable string code (`error.code` in every language).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::InvalidConfig => "invalid_config",
            ErrorKind::Authentication => "authentication",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::BudgetExceeded => "budget_exceeded",
            ErrorKind::GuardrailBlocked => "guardrail_blocked",
            ErrorKind::ProviderError => "provider_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::StreamInterrupted => "stream_interrupted",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The HTTP status a caller would have seen from an HTTP gateway for this kind.
    pub fn default_http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest | ErrorKind::InvalidConfig => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::PermissionDenied | ErrorKind::GuardrailBlocked => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::RateLimited => 429,
            ErrorKind::BudgetExceeded => 402,
            ErrorKind::ProviderError => 502,
            ErrorKind::Timeout => 504,
            ErrorKind::Connection => 502,
            ErrorKind::StreamInterrupted => 502,
            ErrorKind::Cancelled => 499,
            ErrorKind::Internal => 500,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A sluicegate error. Messages never contain secrets (see [`crate::secrets`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Upstream HTTP status when a provider answered with an error, else the kind's default.
    pub status_code: Option<u16>,
    pub retryable: bool,
    /// Seconds the provider asked us to wait (`retry-after`), when it said so.
    pub retry_after: Option<f64>,
    pub request_id: Option<String>,
    /// Every problem found, for `invalid_config` (each is "path: what is wrong").
    pub problems: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        let retryable = matches!(
            kind,
            ErrorKind::RateLimited | ErrorKind::Timeout | ErrorKind::Connection | ErrorKind::ProviderError
        );
        Error {
            kind,
            message: message.into(),
            status_code: None,
            retryable,
            retry_after: None,
            request_id: None,
            problems: Vec::new(),
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }

    pub fn with_status(mut self, status: u16) -> Error {
        self.status_code = Some(status);
        self
    }

    pub fn with_retryable(mut self, retryable: bool) -> Error {
        self.retryable = retryable;
        self
    }

    pub fn with_retry_after(mut self, seconds: Option<f64>) -> Error {
        self.retry_after = seconds;
        self
    }

    pub fn with_request_id(mut self, id: &str) -> Error {
        self.request_id = Some(id.to_owned());
        self
    }

    /// The error as the JSON object every binding receives.
    pub fn to_json(&self) -> Value {
        json!({
            "code": self.kind.code(),
            "message": self.message,
            "status_code": self.status_code.unwrap_or_else(|| self.kind.default_http_status()),
            "retryable": self.retryable,
            "retry_after": self.retry_after,
            "request_id": self.request_id,
            "problems": self.problems,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
    }
}
