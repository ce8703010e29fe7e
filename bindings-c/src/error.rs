//! Status codes and `sg_error`. Each error kind has a fixed status number, given here and
//! nowhere else; numbers are never renumbered or reused.

use crate::panic::ffi_value;
use sluicegate::{Error, ErrorKind};
use std::ffi::{CStr, CString, c_char};
use std::sync::OnceLock;

/// What a call returned. `SG_OK` is success; `SG_STREAM_END` means a stream has no more
/// chunks; every other value is an error kind, with details in the call's `sg_error`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sg_status {
    SG_OK = 0,
    /// The request, the call options or an argument is malformed (a NULL pointer, bad UTF-8,
    /// bad JSON, an unknown route...). Fix the call; retrying will not help.
    SG_INVALID_REQUEST = 1,
    /// The config is malformed; `sg_error_json` lists every problem under `problems`.
    SG_INVALID_CONFIG = 2,
    SG_AUTHENTICATION = 3,
    SG_PERMISSION_DENIED = 4,
    SG_NOT_FOUND = 5,
    SG_RATE_LIMITED = 6,
    SG_BUDGET_EXCEEDED = 7,
    SG_GUARDRAIL_BLOCKED = 8,
    SG_PROVIDER_ERROR = 9,
    SG_TIMEOUT = 10,
    SG_CONNECTION = 11,
    /// A stream broke after delivering chunks: the reply is incomplete.
    SG_STREAM_INTERRUPTED = 12,
    /// The call was cancelled (for example, `sg_chat_stream_cb`'s callback returned non-zero).
    SG_CANCELLED = 13,
    /// A bug in sluicegate (including a caught panic). Please report it.
    SG_INTERNAL = 14,
    /// Not an error: `sg_stream_next` has no more chunks.
    SG_STREAM_END = 100,
}

impl From<ErrorKind> for sg_status {
    // Exhaustive on purpose: a new kind in the core must be given a status here.
    fn from(kind: ErrorKind) -> sg_status {
        match kind {
            ErrorKind::InvalidRequest => sg_status::SG_INVALID_REQUEST,
            ErrorKind::InvalidConfig => sg_status::SG_INVALID_CONFIG,
            ErrorKind::Authentication => sg_status::SG_AUTHENTICATION,
            ErrorKind::PermissionDenied => sg_status::SG_PERMISSION_DENIED,
            ErrorKind::NotFound => sg_status::SG_NOT_FOUND,
            ErrorKind::RateLimited => sg_status::SG_RATE_LIMITED,
            ErrorKind::BudgetExceeded => sg_status::SG_BUDGET_EXCEEDED,
            ErrorKind::GuardrailBlocked => sg_status::SG_GUARDRAIL_BLOCKED,
            ErrorKind::ProviderError => sg_status::SG_PROVIDER_ERROR,
            ErrorKind::Timeout => sg_status::SG_TIMEOUT,
            ErrorKind::Connection => sg_status::SG_CONNECTION,
            ErrorKind::StreamInterrupted => sg_status::SG_STREAM_INTERRUPTED,
            ErrorKind::Cancelled => sg_status::SG_CANCELLED,
            ErrorKind::Internal => sg_status::SG_INTERNAL,
        }
    }
}

/// The string codes as static C strings: "ok", each kind's code, "stream_end".
fn code_cstr(status: i32) -> Option<&'static CStr> {
    static CODES: OnceLock<Vec<(i32, CString)>> = OnceLock::new();
    let codes = CODES.get_or_init(|| {
        let kinds = ErrorKind::ALL
            .into_iter()
            .map(|k| (sg_status::from(k) as i32, k.code()));
        [(sg_status::SG_OK as i32, "ok")]
            .into_iter()
            .chain(kinds)
            .chain([(sg_status::SG_STREAM_END as i32, "stream_end")])
            .map(|(n, code)| (n, CString::new(code).expect("codes have no NUL")))
            .collect()
    });
    codes.iter().find(|(n, _)| *n == status).map(|(_, c)| c.as_c_str())
}

/// An error returned through a call's `sg_error **err`. Read it with the accessors below and
/// release it with `sg_error_free`; the strings it returns live as long as the error.
pub struct sg_error {
    error: Error,
    message: CString,
    json: CString,
    request_id: Option<CString>,
}

/// Strings from the core never contain NUL; if one did, it would show as U+FFFD, not cut the text.
fn cstring_lossy(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

impl sg_error {
    pub(crate) fn new(error: Error) -> sg_error {
        sg_error {
            message: cstring_lossy(&error.message),
            json: cstring_lossy(&error.to_json().to_string()),
            request_id: error.request_id.as_deref().map(cstring_lossy),
            error,
        }
    }

    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.error.message
    }
}

static EMPTY: &CStr = c"";

/// The error's status (`SG_RATE_LIMITED`, ...); `SG_OK` for NULL.
///
/// # Safety
/// `err` must be NULL or a live `sg_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_error_code(err: *const sg_error) -> sg_status {
    ffi_value(sg_status::SG_INTERNAL, || match unsafe { err.as_ref() } {
        Some(e) => sg_status::from(e.error.kind),
        None => sg_status::SG_OK,
    })
}

/// The error's string code, the same in every language (e.g. "rate_limited"); "ok" for NULL.
///
/// # Safety
/// `err` must be NULL or a live `sg_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_error_code_str(err: *const sg_error) -> *const c_char {
    ffi_value(EMPTY.as_ptr(), || sg_status_str(unsafe { sg_error_code(err) } as i32))
}

/// A message for humans naming what failed and what to do; never contains secrets.
/// "" for NULL. Valid until `sg_error_free`.
///
/// # Safety
/// `err` must be NULL or a live `sg_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_error_message(err: *const sg_error) -> *const c_char {
    ffi_value(EMPTY.as_ptr(), || {
        unsafe { err.as_ref() }.map_or(EMPTY.as_ptr(), |e| e.message.as_ptr())
    })
}

/// The whole error as a JSON object: `{code, message, status_code, retryable, retry_after,
/// request_id, problems}`, the same object every language sees. "" for NULL. Valid until
/// `sg_error_free`.
///
/// # Safety
/// `err` must be NULL or a live `sg_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_error_json(err: *const sg_error) -> *const c_char {
    ffi_value(EMPTY.as_ptr(), || {
        unsafe { err.as_ref() }.map_or(EMPTY.as_ptr(), |e| e.json.as_ptr())
    })
}

/// The HTTP status: the provider's when it answered with an error, else the kind's usual one
/// (429 for rate_limited, ...). 0 for NULL.
///
/// # Safety
/// `err` must be NULL or a live `sg_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_error_status_code(err: *const sg_error) -> u16 {
    ffi_value(0, || {
        unsafe { err.as_ref() }.map_or(0, |e| {
            e.error
                .status_code
                .unwrap_or_else(|| e.error.kind.default_http_status())
        })
    })
}

/// Whether the same call may succeed if retried later. false for NULL.
///
/// # Safety
/// `err` must be NULL or a live `sg_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_error_retryable(err: *const sg_error) -> bool {
    ffi_value(false, || unsafe { err.as_ref() }.is_some_and(|e| e.error.retryable))
}

/// Seconds the provider asked to wait before retrying, or -1 when it did not say (or for NULL).
///
/// # Safety
/// `err` must be NULL or a live `sg_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_error_retry_after(err: *const sg_error) -> f64 {
    ffi_value(-1.0, || {
        unsafe { err.as_ref() }
            .and_then(|e| e.error.retry_after)
            .unwrap_or(-1.0)
    })
}

/// The call's request id, or NULL when the error happened before the call had one (or for
/// NULL). Valid until `sg_error_free`.
///
/// # Safety
/// `err` must be NULL or a live `sg_error`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_error_request_id(err: *const sg_error) -> *const c_char {
    ffi_value(std::ptr::null(), || {
        unsafe { err.as_ref() }
            .and_then(|e| e.request_id.as_ref())
            .map_or(std::ptr::null(), |id| id.as_ptr())
    })
}

/// Frees an error. NULL is a no-op.
///
/// # Safety
/// `err` must be NULL or an `sg_error` from sluicegate, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_error_free(err: *mut sg_error) {
    if !err.is_null() {
        // SAFETY: per the contract, `err` came from `Box::into_raw` in the panic boundary.
        ffi_value((), || drop(unsafe { Box::from_raw(err) }))
    }
}

/// The string code of a status number: "ok", "rate_limited", ..., "stream_end"; "unknown" for
/// a number that is not a status. The string is static.
#[unsafe(no_mangle)]
pub extern "C" fn sg_status_str(status: i32) -> *const c_char {
    ffi_value(c"unknown".as_ptr(), || code_cstr(status).unwrap_or(c"unknown").as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_fixed_status() {
        let numbers: Vec<i32> = ErrorKind::ALL.iter().map(|&k| sg_status::from(k) as i32).collect();
        // The published numbers (README, header): changing one breaks every C caller.
        assert_eq!(numbers, (1..=14).collect::<Vec<i32>>());
        for kind in ErrorKind::ALL {
            let code = unsafe { CStr::from_ptr(sg_status_str(sg_status::from(kind) as i32)) };
            assert_eq!(code.to_str().unwrap(), kind.code());
        }
    }

    #[test]
    fn error_strings_live_in_the_error() {
        let error = Error::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Some(2.0))
            .with_request_id("req-1");
        let e = Box::into_raw(Box::new(sg_error::new(error)));
        unsafe {
            assert_eq!(sg_error_code(e), sg_status::SG_RATE_LIMITED);
            assert_eq!(CStr::from_ptr(sg_error_code_str(e)).to_str().unwrap(), "rate_limited");
            assert_eq!(CStr::from_ptr(sg_error_message(e)).to_str().unwrap(), "slow down");
            assert_eq!(CStr::from_ptr(sg_error_request_id(e)).to_str().unwrap(), "req-1");
            assert_eq!(sg_error_status_code(e), 429);
            assert!(sg_error_retryable(e));
            assert_eq!(sg_error_retry_after(e), 2.0);
            let json: serde_json::Value =
                serde_json::from_str(CStr::from_ptr(sg_error_json(e)).to_str().unwrap()).unwrap();
            assert_eq!(json["code"], "rate_limited");
            sg_error_free(e);
        }
    }
}
