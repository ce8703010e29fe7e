//! `sg_cancel_token`: the core's [`CancelToken`] behind a C handle. A `*_cancellable` call puts
//! it in the call options, and the core ends the call (or its stream) with `cancelled` once
//! the token is cancelled from any thread, stopping the upstream request.

use crate::panic::ffi_value;
use sluicegate::CancelToken;

/// A cancellation flag for calls on other threads. Create it with `sg_cancel_token_new`, pass
/// it to `sg_chat_cancellable` (and friends), cancel it from any thread with
/// `sg_cancel_token_cancel`, free it with `sg_cancel_token_free` (a stream keeps what it needs).
/// A token stays cancelled: use a new one per call you may want to cancel.
pub struct sg_cancel_token {
    pub(crate) token: CancelToken,
}

/// The core token behind `token`, if it is not NULL (a stream keeps this clone).
///
/// # Safety
/// `token` must be NULL or a live token.
pub(crate) unsafe fn core_token(token: *const sg_cancel_token) -> Option<CancelToken> {
    unsafe { token.as_ref() }.map(|t| t.token.clone())
}

/// A new, not yet cancelled token. Free it with `sg_cancel_token_free`.
#[unsafe(no_mangle)]
pub extern "C" fn sg_cancel_token_new() -> *mut sg_cancel_token {
    ffi_value(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(sg_cancel_token {
            token: CancelToken::new(),
        }))
    })
}

/// Cancels every call using the token, now and later. Thread-safe; NULL is a no-op.
///
/// # Safety
/// `token` must be NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_cancel_token_cancel(token: *const sg_cancel_token) {
    ffi_value((), || {
        if let Some(token) = unsafe { token.as_ref() } {
            token.token.cancel();
        }
    })
}

/// Whether the token has been cancelled (false for NULL).
///
/// # Safety
/// `token` must be NULL or a live token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_cancel_token_is_cancelled(token: *const sg_cancel_token) -> bool {
    ffi_value(false, || {
        unsafe { token.as_ref() }.is_some_and(|t| t.token.is_cancelled())
    })
}

/// Frees a token. NULL is a no-op. Calls still running with it must have returned; a stream
/// opened with it keeps its own reference.
///
/// # Safety
/// `token` must be NULL or a token from `sg_cancel_token_new`, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_cancel_token_free(token: *mut sg_cancel_token) {
    if !token.is_null() {
        // SAFETY: per the contract, `token` came from `Box::into_raw` in `sg_cancel_token_new`.
        ffi_value((), || drop(unsafe { Box::from_raw(token) }))
    }
}
