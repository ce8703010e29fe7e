//! `on_request_end` hooks: a C callback receives each finished call's event. The core runs hooks
//! on a background thread, possibly after the C handle is gone; the gate below makes
//! `sg_gateway_free` wait for a running callback and stops every later one.

use crate::args;
use crate::error::{sg_error, sg_status};
use crate::gateway::sg_gateway;
use crate::panic::ffi_call;
use sluicegate::Error;
use std::ffi::{CString, c_char, c_void};
use std::sync::{Arc, RwLock};

/// Open while the C handle lives: callbacks run under its read lock, and closing it takes the
/// write lock, so it waits for running callbacks.
#[derive(Clone)]
pub(crate) struct HookGate(Arc<RwLock<bool>>);

impl HookGate {
    pub(crate) fn open() -> HookGate {
        HookGate(Arc::new(RwLock::new(true)))
    }

    pub(crate) fn close(&self) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = false;
    }
}

/// Receives one finished call's event as NUL-terminated JSON of `len` bytes (valid only during
/// the call): `request_id`, `ts`, `operation`, `route`, `deployment`, `provider`, `model`,
/// `outcome` ("ok" or an error code), `error`, `key`, `tags`, `usage`, `cost_usd`,
/// `latency_ms`, `ttft_ms`, `overhead_us`. It runs on a sluicegate background thread, after the
/// call has returned, possibly concurrently with other hooks; it must not unwind, must not make
/// blocking sluicegate calls, and must not free its own gateway.
pub type sg_event_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, event_json: *const c_char, len: usize)>;

/// Adds a hook run after every call on this gateway (success or failure; plain, streamed and
/// embeddings calls), off the request path: a slow hook never delays a call. Hooks cannot be
/// removed; none runs once `sg_gateway_free` has returned (it waits for a running one), so
/// `user_data` must stay valid until then.
///
/// # Safety
/// `gw` must be a live gateway; `callback` callable until the gateway is freed; `err` NULL or
/// valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sg_gateway_on_request_end(
    gw: *const sg_gateway,
    callback: sg_event_fn,
    user_data: *mut c_void,
    err: *mut *mut sg_error,
) -> sg_status {
    // Carried as an address: the hook must be Send + Sync, and the caller vouches for it.
    let user_data = user_data as usize;
    ffi_call(err, || {
        let handle = unsafe { args::handle(gw, "gw") }?;
        let callback = callback.ok_or_else(|| Error::invalid_request("argument `callback` is NULL"))?;
        let gate = handle.hooks.clone();
        handle.gateway.on_request_end(move |event| {
            let open = gate.0.read().unwrap_or_else(|e| e.into_inner());
            if *open {
                // serde_json escapes control characters: the text has no NUL byte.
                let text = CString::new(event.to_string()).unwrap_or_default();
                let len = text.as_bytes().len();
                // SAFETY: per the contract of `sg_gateway_on_request_end`.
                unsafe { callback(user_data as *mut c_void, text.as_ptr(), len) };
            }
        });
        Ok(())
    })
}
