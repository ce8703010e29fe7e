//! Cancellation from another thread: an `sg_cancel_token` passed to a `*_cancellable` call
//! makes it return `SG_CANCELLED` as soon as the token is cancelled, dropping the core future
//! or stream, which cancels the upstream request (as an `AbortSignal` does in Node).

use crate::panic::ffi_value;
use sluicegate::{Error, ErrorKind, Result};
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// A cancellation flag for calls on other threads. Create it with `sg_cancel_token_new`, pass
/// it to `sg_chat_cancellable` (and friends), cancel it from any thread with
/// `sg_cancel_token_cancel`, free it with `sg_cancel_token_free` (a stream keeps what it needs).
/// A token stays cancelled: use a new one per call you may want to cancel.
pub struct sg_cancel_token {
    pub(crate) flag: Arc<Flag>,
}

/// The shared state: set once, and the waker of each call waiting on it, by call.
#[derive(Default)]
pub(crate) struct Flag {
    cancelled: AtomicBool,
    waiting: Mutex<HashMap<u64, Waker>>,
    next_id: AtomicU64,
}

/// A call's place in [`Flag::waiting`], given up when the call ends.
struct Waiting<'a> {
    flag: &'a Flag,
    id: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.flag
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

impl Flag {
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        for (_, waker) in self.waiting.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            waker.wake();
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Runs `future` until it completes or the flag is set, whichever comes first; in the
    /// second case the future is dropped (cancelling its upstream work).
    pub(crate) async fn race<T>(&self, future: impl Future<Output = Result<T>>) -> Result<T> {
        let mut future = pin!(future);
        let me = Waiting {
            flag: self,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
        };
        poll_fn(|cx| {
            if self.is_cancelled() {
                return Poll::Ready(Err(cancelled()));
            }
            self.waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(me.id, cx.waker().clone());
            // Checked again: a cancel between the first check and the push has woken nobody.
            if self.is_cancelled() {
                return Poll::Ready(Err(cancelled()));
            }
            future.as_mut().poll(cx)
        })
        .await
    }
}

pub(crate) fn cancelled() -> Error {
    Error::new(
        ErrorKind::Cancelled,
        "the call was cancelled by the caller (sg_cancel_token_cancel)",
    )
}

/// Runs a core future to completion on the calling thread, or until `flag` is set.
pub(crate) fn block_on<T>(flag: Option<&Flag>, future: impl Future<Output = Result<T>>) -> Result<T> {
    match flag {
        Some(flag) => sluicegate::runtime::block_on(flag.race(future)),
        None => sluicegate::runtime::block_on(future),
    }
}

/// `block_on` for a call that is over when it returns (not a stream): on the calling thread's
/// own runtime, so the request never leaves the thread (`sluicegate::runtime::block_on_here`).
pub(crate) fn block_on_here<T>(flag: Option<&Flag>, future: impl Future<Output = Result<T>>) -> Result<T> {
    match flag {
        Some(flag) => sluicegate::runtime::block_on_here(flag.race(future)),
        None => sluicegate::runtime::block_on_here(future),
    }
}

/// A new, not yet cancelled token. Free it with `sg_cancel_token_free`.
#[unsafe(no_mangle)]
pub extern "C" fn sg_cancel_token_new() -> *mut sg_cancel_token {
    ffi_value(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(sg_cancel_token { flag: Arc::default() }))
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
            token.flag.cancel();
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
        unsafe { token.as_ref() }.is_some_and(|t| t.flag.is_cancelled())
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
